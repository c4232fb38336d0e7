"""Writes the public benchmark sets in ../shared/datasets as `text,intent` CSVs for `make bench-nlu`.

- BANKING77: train.csv / test.csv (columns text, category).
- CLINC150 "full": train for training, test for testing, as in Larson et al.
  (2019); out-of-scope examples are labelled `oos` in both (oos_train, oos_test).
- HWU64: per-intent CSVs (`;`-separated); text is `answer_from_anno` (the annotated utterance without the
  entity brackets), intent is `scenario_intent`. The shared copy
  has a train/ and a test/ folder.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Iterable, List, Tuple

Rows = List[Tuple[str, str]]


def write(path: Path, rows: Iterable[Tuple[str, str]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent"])
        for text, intent in rows:
            text = " ".join(text.split())
            if text:
                writer.writerow([text, intent])
                n += 1
    return n


def banking77(src: Path) -> Tuple[Rows, Rows]:
    def load(name: str) -> Rows:
        with (src / name).open(encoding="utf-8") as f:
            return [(r["text"], r["category"]) for r in csv.DictReader(f)]

    return load("train.csv"), load("test.csv")


def clinc150(src: Path) -> Tuple[Rows, Rows]:
    data = json.loads((src / "data_full.json").read_text(encoding="utf-8"))
    train = [(t, i) for t, i in data["train"]] + [(t, "oos") for t, _ in data["oos_train"]]
    test = [(t, i) for t, i in data["test"]] + [(t, "oos") for t, _ in data["oos_test"]]
    return train, test


def hwu64(src: Path) -> Tuple[Rows, Rows]:
    def load(folder: Path) -> Rows:
        rows: Rows = []
        for path in sorted(folder.glob("*.csv")):
            with path.open(encoding="utf-8") as f:
                for r in csv.DictReader(f, delimiter=";"):
                    text = r.get("answer_from_anno") or r.get("answer_from_user") or ""
                    rows.append((text, f"{r['scenario']}_{r['intent']}"))
        return rows

    return load(src / "train"), load(src / "test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("bench/data/external"))
    args = parser.parse_args()
    for name, loader in (("banking77", banking77), ("clinc150", clinc150), ("hwu64", hwu64)):
        train, test = loader(args.shared / name)
        n_train = write(args.out / name / "train.csv", train)
        n_test = write(args.out / name / "test.csv", test)
        labels = len({i for _, i in train})
        print(f"{name}: {n_train} train, {n_test} test, {labels} intents -> {args.out / name}")


if __name__ == "__main__":
    main()
