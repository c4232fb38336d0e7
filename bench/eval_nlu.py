"""`make eval-nlu TEST=<csv>`: the trained default model on a `text,intent` CSV.

Prints a readable report and, as the last line, one JSON object. A fallback prediction (nlu_fallback, the
bot asks to rephrase) counts as `out_of_scope` when the test set has that label, otherwise as an error.

On a set of the catalog's intents it also reports the intent "did you mean" (zabota/intent_did_you_mean.py):
two close knowledge-base intents offered as buttons, against the one decision; `--sweep` tries other margins.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from bench.nlu_metrics import (
    FALLBACK_INTENT,
    did_you_mean_line,
    did_you_mean_stats,
    fallback_label,
    read_labelled_csv,
    report,
    score,
    sweep_report,
    threshold_sweep,
)
from bench.rasa_nlu import parse_all
from zabota.catalog import load_catalog
from zabota.intent_did_you_mean import IntentDidYouMean

SWEEP_MARGINS = (0.05, 0.1, 0.15, 0.2, 0.3)
SWEEP_FLOORS = (0.05, 0.1, 0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--sweep", action="store_true", help="the intent did-you-mean at other margins and floors")
    args = parser.parse_args()

    texts, gold = read_labelled_csv(args.test)
    predictions, latencies = parse_all(args.model, texts)
    fallback_as = fallback_label(sorted(set(gold)))
    predicted = [fallback_as if p.intent == FALLBACK_INTENT else p.intent for p in predictions]
    scores = score(gold, predicted)
    print(report(scores, f"{args.test} with {args.model.name}"))
    sweep = threshold_sweep(
        gold,
        [p.top for p in predictions],
        [p.top_confidence for p in predictions],
        [p.second_confidence for p in predictions],
    )
    print(sweep_report(sweep))
    fallbacks = sum(p.intent == FALLBACK_INTENT for p in predictions)
    latencies_ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(latencies_ms)
    p95 = latencies_ms[int(0.95 * (len(latencies_ms) - 1))]
    print(f"fallbacks: {fallbacks}; parse latency p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    result = {
        "test": str(args.test),
        "model": args.model.name,
        "n": scores.n,
        "accuracy": round(scores.accuracy, 4),
        "macro_f1": round(scores.macro_f1, 4),
        "fallbacks": fallbacks,
        "parse_p50_ms": round(p50, 1),
        "parse_p95_ms": round(p95, 1),
    }
    if scores.oos_recall is not None:
        result["oos_recall"] = round(scores.oos_recall, 4)
    result["top1_accuracy_without_fallback"] = round(sweep[0]["accuracy"], 4)
    catalog = load_catalog()
    if sum(g in catalog.intents for g in gold) >= 0.9 * len(gold):
        rankings = [p.ranking for p in predictions]
        in_use = IntentDidYouMean()
        print(f"-- intent did you mean (margin {in_use.margin}, floor {in_use.floor}):")
        stats = did_you_mean_stats(gold, predicted, rankings, lambda r: in_use.choose(r, catalog))
        print(did_you_mean_line(stats, "in use"))
        for margin in SWEEP_MARGINS if args.sweep else ():
            for floor in SWEEP_FLOORS:
                other = IntentDidYouMean(margin=margin, floor=floor)
                swept = did_you_mean_stats(gold, predicted, rankings, lambda r, o=other: o.choose(r, catalog))
                print(did_you_mean_line(swept, f"margin {margin:.2f} floor {floor:.2f}"))
        result["did_you_mean"] = {k: round(v, 4) for k, v in stats.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
