"""Reading `text,intent` CSVs and scoring intent predictions: accuracy, macro-F1, worst intents, confusions."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

OOS_LABELS = ("oos", "out_of_scope")
FALLBACK_INTENT = "nlu_fallback"


def read_labelled_csv(path: Path) -> Tuple[List[str], List[str]]:
    """Rows of a CSV with `text` and `intent` columns (other columns ignored); blank rows are skipped."""
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if "text" not in fields or "intent" not in fields:
            raise SystemExit(f"{path}: needs columns text,intent (has {','.join(fields)})")
        texts, intents = [], []
        for row in reader:
            text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if text and intent:
                texts.append(text)
                intents.append(intent)
    if not texts:
        raise SystemExit(f"{path}: no labelled rows")
    return texts, intents


def fallback_label(labels: Sequence[str]) -> str:
    """What a fallback prediction means for this label set: the out-of-scope label when there is one."""
    for candidate in OOS_LABELS:
        if candidate in labels:
            return candidate
    return FALLBACK_INTENT


@dataclass
class Scores:
    n: int
    accuracy: float
    macro_f1: float
    per_intent: Dict[str, Tuple[float, float, float, int]]  # precision, recall, f1, support
    confusions: List[Tuple[str, str, int]]  # gold, predicted, count
    oos_recall: Optional[float] = None
    in_scope_accuracy: Optional[float] = None


def score(gold: Sequence[str], predicted: Sequence[str]) -> Scores:
    labels = sorted(set(gold))
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    confusions: Counter = Counter()
    for g, p in zip(gold, predicted, strict=True):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
            confusions[(g, p)] += 1
    per_intent = {}
    for label in labels:
        precision = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        recall = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = (precision, recall, f1, tp[label] + fn[label])
    n = len(gold)
    scores = Scores(
        n=n,
        accuracy=sum(tp.values()) / n,
        macro_f1=sum(v[2] for v in per_intent.values()) / len(per_intent),
        per_intent=per_intent,
        confusions=[(g, p, c) for (g, p), c in confusions.most_common()],
    )
    oos = next((label for label in OOS_LABELS if label in labels), None)
    if oos is not None:
        scores.oos_recall = per_intent[oos][1]
        inscope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != oos]
        if inscope:
            scores.in_scope_accuracy = sum(g == p for g, p in inscope) / len(inscope)
    return scores


def report(scores: Scores, title: str, worst: int = 10, top_confusions: int = 15) -> str:
    lines = [f"== {title}", f"examples: {scores.n}"]
    lines += [f"accuracy: {scores.accuracy:.4f}", f"macro-F1: {scores.macro_f1:.4f}"]
    if scores.in_scope_accuracy is not None:
        lines.append(f"in-scope accuracy: {scores.in_scope_accuracy:.4f}")
    if scores.oos_recall is not None:
        lines.append(f"out-of-scope recall: {scores.oos_recall:.4f}")
    lines.append(f"-- worst {worst} intents by F1 (precision / recall / F1 / support)")
    for label, (p, r, f1, support) in sorted(scores.per_intent.items(), key=lambda kv: kv[1][2])[:worst]:
        lines.append(f"  {label:32s} {p:.3f} / {r:.3f} / {f1:.3f} / {support}")
    lines.append(f"-- top {top_confusions} confusions (gold -> predicted: count)")
    for g, p, c in scores.confusions[:top_confusions]:
        lines.append(f"  {g} -> {p}: {c}")
    return "\n".join(lines)


def threshold_sweep(
    gold: Sequence[str],
    top: Sequence[str],
    top_confidence: Sequence[float],
    second_confidence: Sequence[float],
    thresholds: Sequence[float] = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5),
    ambiguity: Sequence[float] = (0.0, 0.05),
) -> List[Dict[str, float]]:
    """What FallbackClassifier settings would have given: for each (threshold, ambiguity threshold), the scores
    with a fallback wherever top confidence < threshold or top - second < ambiguity threshold."""
    fallback_as = fallback_label(sorted(set(gold)))
    rows = []
    for threshold in thresholds:
        for amb in ambiguity:
            predicted = [
                fallback_as if (c1 < threshold or c1 - c2 < amb) else name
                for name, c1, c2 in zip(top, top_confidence, second_confidence, strict=True)
            ]
            s = score(gold, predicted)
            row = {"threshold": threshold, "ambiguity": amb, "accuracy": s.accuracy, "macro_f1": s.macro_f1}
            if s.oos_recall is not None:
                row["in_scope_accuracy"] = s.in_scope_accuracy or 0.0
                row["oos_recall"] = s.oos_recall
            rows.append(row)
    return rows


def sweep_report(rows: List[Dict[str, float]]) -> str:
    lines = ["-- fallback threshold sweep (threshold / ambiguity: accuracy, in-scope accuracy, out-of-scope recall)"]
    for r in rows:
        extra = ""
        if "oos_recall" in r:
            extra = f", in-scope {r['in_scope_accuracy']:.4f}, oos recall {r['oos_recall']:.4f}"
        lines.append(f"  {r['threshold']:.2f} / {r['ambiguity']:.2f}: accuracy {r['accuracy']:.4f}{extra}")
    return "\n".join(lines)


Ranking = Sequence[Tuple[str, float]]
Chooser = Callable[[Ranking], Optional[Tuple[str, str]]]


def did_you_mean_stats(
    gold: Sequence[str], predicted: Sequence[str], rankings: Sequence[Ranking], choose: Chooser
) -> Dict[str, float]:
    """Two intents offered as buttons where ``choose`` finds them close, against the bot's one decision
    (``predicted``) everywhere: how often buttons are shown, how often the right intent is among them, how
    often the first of them alone was right, and the share resolved (one right answer, or the right button)."""
    n = len(gold)
    offered = offered_right = offered_first_right = single_right = 0
    for g, p, ranking in zip(gold, predicted, rankings, strict=True):
        pair = choose(ranking)
        if pair is None:
            single_right += g == p
            continue
        offered += 1
        offered_right += g in pair
        offered_first_right += g == p
    baseline = sum(g == p for g, p in zip(gold, predicted, strict=True))
    return {
        "n": n,
        "offered": offered / n if n else 0.0,
        "offered_right": offered_right / offered if offered else 0.0,
        "offered_first_right": offered_first_right / offered if offered else 0.0,
        "resolved": (single_right + offered_right) / n if n else 0.0,
        "wrong_single": (n - offered - single_right) / n if n else 0.0,
        "baseline_accuracy": baseline / n if n else 0.0,
    }


def did_you_mean_line(stats: Dict[str, float], label: str) -> str:
    return (
        f"  {label}: buttons for {stats['offered']:.1%} (right one among them {stats['offered_right']:.1%}, "
        f"the first alone {stats['offered_first_right']:.1%}); resolved {stats['resolved']:.1%}, "
        f"one wrong answer {stats['wrong_single']:.1%}; one answer everywhere {stats['baseline_accuracy']:.1%}"
    )
