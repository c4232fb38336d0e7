"""Prints the NLU results table of docs/benchmarks.md from the JSON lines that scripts/bench-all.sh keeps
under results/bench/ (python -m bench.report)."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path("results/bench")
ROWS = [
    ("heldout_ru", "own held-out, Russian (eval-nlu, default model)", "—"),
    ("heldout_en", "own held-out, English (eval-nlu, default model)", "—"),
    ("own_ru", "own data → held-out Russian (bench-nlu)", "—"),
    ("own_en", "own data → held-out English (bench-nlu)", "—"),
    ("banking77", "BANKING77 (77 intents)", "93.4-94.6 (Casanueva et al. 2020)"),
    ("clinc150", "CLINC150 full, with out-of-scope", "in-scope 96-97 (Larson et al. 2019)"),
    ("hwu64", "HWU64 (64 intents)", "DIET 90.9 (Rasa, 2020)"),
]


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value <= 1 else f"{value:.0f}"  # scores are fractions, times are seconds
    return "—" if value is None else str(value)


def main() -> None:
    header = "| set | n | accuracy | macro-F1 | top-1 w/o fallback | in-scope acc. | oos recall | train s"
    header += " | TF-IDF+LR acc. | published anchor |"
    print(header)
    print("|" + "---|" * 10)
    for name, title, anchor in ROWS:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text().strip().splitlines()[-1])
        cells = [
            title,
            r.get("n"),
            r.get("accuracy"),
            r.get("macro_f1"),
            r.get("top1_accuracy_without_fallback"),
            r.get("in_scope_accuracy"),
            r.get("oos_recall"),
            r.get("train_seconds"),
            r.get("baseline_tfidf_lr_accuracy"),
            anchor,
        ]
        print("| " + " | ".join(fmt(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
