"""Development queries for tuning the knowledge-base search, apart from its held-out set: the bot's own NLU
training messages of the intents that the catalog answers with an article (query -> that article), and its
out_of_scope training messages (questions with no article, for the no-answer threshold).

    python -m bench.kb_dev --train results/bench/own_train.csv --out results/bench/kb_dev.csv \\
        --negatives results/bench/kb_dev_negatives.csv

(`make kb-tune-nlu` runs it and then `kb-eval` on the result.) The held-out set bench/data/kb_queries.csv was
written apart from both the articles and this training data, and is used only to report.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from zabota.catalog import load_catalog
from zabota.language import detect_language

OUT_OF_SCOPE = "out_of_scope"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=Path, required=True, help="text,intent CSV of the bot's NLU data")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--negatives", type=Path, required=True)
    args = parser.parse_args()
    catalog = load_catalog()
    positives, negatives = [], []
    with args.train.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text, intent = row["text"].strip(), row["intent"].strip()
            entry = catalog.intent(intent)
            if entry is not None and entry.kb is not None:
                positives.append((text, entry.kb, detect_language(text)))
            elif intent == OUT_OF_SCOPE:
                negatives.append((text, OUT_OF_SCOPE))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["query", "expected_id", "lang"])
        writer.writerows(positives)
    with args.negatives.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent"])
        writer.writerows(negatives)
    summary = f"{len(positives)} development queries -> {args.out}; {len(negatives)} out-of-scope -> {args.negatives}"
    print(summary)


if __name__ == "__main__":
    main()
