"""`make bench-nlu TRAIN=<csv> TEST=<csv>`: train the project's NLU pipeline from scratch on any `text,intent`
CSV, score it on another, and score a TF-IDF + logistic-regression baseline in the same run.

The label `oos` (or `out_of_scope`) marks out-of-scope examples; a fallback prediction counts as that label.
Prints a readable report and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.baseline import tfidf_logreg
from bench.nlu_metrics import (
    FALLBACK_INTENT,
    fallback_label,
    read_labelled_csv,
    report,
    score,
    sweep_report,
    threshold_sweep,
)
from bench.rasa_nlu import parse_all, train_nlu_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=Path("bot/config.yml"))
    args = parser.parse_args()

    train_texts, train_intents = read_labelled_csv(args.train)
    test_texts, gold = read_labelled_csv(args.test)
    fallback_as = fallback_label(sorted(set(train_intents) | set(gold)))

    with tempfile.TemporaryDirectory(prefix="zabota-bench-") as tmp:
        model, train_seconds = train_nlu_model(args.config, train_texts, train_intents, Path(tmp))
        predictions, _ = parse_all(model, test_texts)
    predicted = [fallback_as if p.intent == FALLBACK_INTENT else p.intent for p in predictions]
    scores = score(gold, predicted)
    baseline_predicted, baseline_seconds = tfidf_logreg(train_texts, train_intents, test_texts)
    baseline = score(gold, baseline_predicted)

    print(report(scores, f"zabota NLU pipeline ({args.config}) trained on {args.train} in {train_seconds:.0f} s"))
    sweep = threshold_sweep(
        gold,
        [p.top for p in predictions],
        [p.top_confidence for p in predictions],
        [p.second_confidence for p in predictions],
    )
    print(sweep_report(sweep))
    print(report(baseline, f"baseline TF-IDF + logistic regression (trained in {baseline_seconds:.1f} s)", 5, 5))
    result = {
        "train": str(args.train),
        "test": str(args.test),
        "n": scores.n,
        "intents": len(set(train_intents)),
        "accuracy": round(scores.accuracy, 4),
        "macro_f1": round(scores.macro_f1, 4),
        "train_seconds": round(train_seconds, 1),
        "baseline_tfidf_lr_accuracy": round(baseline.accuracy, 4),
        "baseline_tfidf_lr_macro_f1": round(baseline.macro_f1, 4),
    }
    if scores.oos_recall is not None:
        result["oos_recall"] = round(scores.oos_recall, 4)
        result["in_scope_accuracy"] = round(scores.in_scope_accuracy or 0.0, 4)
        result["baseline_tfidf_lr_oos_recall"] = round(baseline.oos_recall or 0.0, 4)
        result["baseline_tfidf_lr_in_scope_accuracy"] = round(baseline.in_scope_accuracy or 0.0, 4)
    result["top1_accuracy_without_fallback"] = round(sweep[0]["accuracy"], 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
