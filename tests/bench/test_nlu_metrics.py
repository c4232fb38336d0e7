from __future__ import annotations

from pathlib import Path

import pytest

from bench.nlu_metrics import fallback_label, read_labelled_csv, score, threshold_sweep


def test_score_counts_accuracy_macro_f1_and_confusions() -> None:
    gold = ["a", "a", "b", "b"]
    predicted = ["a", "b", "b", "b"]
    s = score(gold, predicted)
    assert s.n == 4
    assert s.accuracy == pytest.approx(0.75)
    # a: p=1, r=.5, f1=.667; b: p=.667, r=1, f1=.8
    assert s.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert s.confusions == [("a", "b", 1)]
    assert s.oos_recall is None


def test_out_of_scope_recall_and_in_scope_accuracy() -> None:
    gold = ["oos", "oos", "x", "y"]
    predicted = ["oos", "x", "x", "oos"]
    s = score(gold, predicted)
    assert s.oos_recall == pytest.approx(0.5)
    assert s.in_scope_accuracy == pytest.approx(0.5)


def test_fallback_counts_as_the_out_of_scope_label_of_the_set() -> None:
    assert fallback_label(["a", "oos"]) == "oos"
    assert fallback_label(["a", "out_of_scope"]) == "out_of_scope"
    assert fallback_label(["a", "b"]) == "nlu_fallback"


def test_threshold_sweep_turns_low_confidence_into_fallbacks() -> None:
    gold = ["a", "oos"]
    rows = threshold_sweep(gold, ["a", "a"], [0.9, 0.15], [0.05, 0.1], thresholds=(0.0, 0.2), ambiguity=(0.0,))
    assert rows[0]["accuracy"] == pytest.approx(0.5)
    assert rows[1]["accuracy"] == pytest.approx(1.0)
    assert rows[1]["oos_recall"] == pytest.approx(1.0)


def test_read_labelled_csv_ignores_other_columns_and_blank_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,text,intent\n1,"привет, как дела",greet\n2,,greet\n3,баланс,check_balance\n', encoding="utf-8")
    assert read_labelled_csv(path) == (["привет, как дела", "баланс"], ["greet", "check_balance"])


def test_read_labelled_csv_rejects_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("sentence,label\nhi,greet\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="needs columns text,intent"):
        read_labelled_csv(path)


def test_did_you_mean_stats_against_the_one_decision() -> None:
    from bench.nlu_metrics import did_you_mean_stats

    gold = ["a", "b", "c", "d"]
    predicted = ["a", "c", "c", "x"]
    rankings = [[("a", 0.9)], [("c", 0.4), ("b", 0.35)], [("c", 0.9)], [("x", 0.4), ("y", 0.39)]]
    stats = did_you_mean_stats(gold, predicted, rankings, lambda r: (r[0][0], r[1][0]) if len(r) > 1 else None)
    assert stats["offered"] == pytest.approx(0.5)
    assert stats["offered_right"] == pytest.approx(0.5)  # b among (c, b); d not among (x, y)
    assert stats["offered_first_right"] == 0.0
    assert stats["resolved"] == pytest.approx(0.75)  # a, c alone + b by its button
    assert stats["wrong_single"] == 0.0
    assert stats["baseline_accuracy"] == pytest.approx(0.5)


def test_the_intent_dev_set_labels_its_questions_with_catalog_intents() -> None:
    from bench.kb_intent_dev import labelled_rows
    from zabota.catalog import load_catalog

    rows = labelled_rows()
    assert len(rows) >= 250
    assert {r["intent"] for r in rows} <= set(load_catalog().intents)
