"""The development set of the intent "did you mean": the questions of bench/data/wild_dev/kb.csv labelled with
the intent whose article they ask for (the catalog's intent of that topic; feature_howto for the feature
articles), as a `text,intent` CSV for `make eval-nlu`. Questions about an article no intent answers are left out.

    python -m bench.kb_intent_dev --out results/bench/wild_dev_kb_intents.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from bench.kb_faq import write_rows
from kb_index.directory import FEATURE_HOWTO, FEATURE_TOPICS
from zabota.catalog import load_catalog

ROOT = Path(__file__).resolve().parent.parent
DEV_QUESTIONS = ROOT / "bench" / "data" / "wild_dev" / "kb.csv"
# the articles feature_howto answers, by the feature asked about
FEATURE_ARTICLES = tuple(topic for topic, _ in FEATURE_TOPICS)


def labelled_rows(questions: Path = DEV_QUESTIONS) -> list[dict[str, str]]:
    catalog = load_catalog()
    intent_of = {i.kb: i.name for i in catalog.intents.values() if i.kb is not None}
    intent_of.update(dict.fromkeys(FEATURE_ARTICLES, FEATURE_HOWTO))
    with questions.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        {"text": row["query"], "intent": intent_of[row["expected_id"]]}
        for row in rows
        if row["expected_id"] in intent_of
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = labelled_rows(args.questions)
    write_rows(args.out, ["text", "intent"], rows)
    print(f"{len(rows)} questions -> {args.out}")


if __name__ == "__main__":
    main()
