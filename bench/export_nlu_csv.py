"""Writes the bot's own NLU training data (nlu_data/, entity markup removed) as a `text,intent` CSV, so the same
`make bench-nlu` command can train on it and compare pipelines on the held-out sets."""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("nlu_data"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--lang", choices=["ru", "en", "all"], default="all")
    args = parser.parse_args()
    from rasa.shared.nlu.training_data.loading import load_data

    source = args.data if args.lang == "all" else args.data / args.lang
    data = load_data(str(source))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent"])
        for message in data.intent_examples:
            writer.writerow([message.get("text"), message.get("intent")])
    print(f"{len(data.intent_examples)} examples -> {args.out}")


if __name__ == "__main__":
    main()
