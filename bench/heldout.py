"""Keeps the held-out sets honest: no message identical (after light normalisation) to a training example,
every catalog intent present with enough examples. `python -m bench.heldout [--fix]` reports, and with --fix
drops the overlapping rows. tests/bench/test_heldout.py asserts the same rules."""

from __future__ import annotations

import argparse
import csv
import re
from collections import Counter
from pathlib import Path
from typing import Dict, List, Set

import yaml

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = {"ru": ROOT / "bench" / "data" / "heldout_ru.csv", "en": ROOT / "bench" / "data" / "heldout_en.csv"}
MIN_PER_INTENT = 8
_ENTITY_MARKUP = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)|\[([^\]]+)\]\{[^}]+\}")


def normalise(text: str) -> str:
    text = text.lower().replace("ё", "е")
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def training_texts(data_dir: Path = ROOT / "nlu_data") -> Dict[str, str]:
    """normalised text -> intent of every training example (entity markup removed)."""
    out: Dict[str, str] = {}
    for path in sorted(data_dir.rglob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = _ENTITY_MARKUP.sub(lambda m: m.group(1) or m.group(2), line[2:])
                    out[normalise(text)] = block["intent"]
    return out


def read_rows(path: Path) -> List[Dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def overlapping(rows: List[Dict[str, str]], train: Set[str]) -> List[Dict[str, str]]:
    return [r for r in rows if normalise(r["text"]) in train]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fix", action="store_true", help="drop held-out rows that overlap the training data")
    args = parser.parse_args()
    train = set(training_texts())
    for lang, path in HELDOUT.items():
        rows = read_rows(path)
        overlap = overlapping(rows, train)
        kept = [r for r in rows if r not in overlap]
        counts = Counter(r["intent"] for r in kept)
        short = {intent: n for intent, n in sorted(counts.items()) if n < 10}
        print(f"{lang}: {len(rows)} rows, {len(overlap)} overlap the training data; intents under 10 after: {short}")
        if args.fix and overlap:
            with path.open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=["text", "intent"], extrasaction="ignore")
                writer.writeheader()
                writer.writerows(kept)


if __name__ == "__main__":
    main()
