from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from kb_index.evaluate import (
    LabelledQuery,
    baselines,
    evaluate,
    read_queries,
    read_texts,
    threshold_sweep,
    weight_sweep,
)
from kb_index.search import Retriever

TITLES = [
    LabelledQuery("Internet is down", "router-reboot", "en"),
    LabelledQuery("Roaming abroad", "roaming", "en"),
    LabelledQuery("Payment not credited", "payment-not-credited", "en"),
    LabelledQuery("Не работает интернет", "router-reboot", "ru"),
    LabelledQuery("Роуминг за границей", "roaming", "ru"),
    LabelledQuery("Платёж не зачислен", "payment-not-credited", "ru"),
]
NEGATIVES = ["what is the weather in Paris", "как приготовить борщ", "???"]


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queries.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_queries_with_query_and_expected_id_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, "query,expected_id,lang\nroaming prices, roaming ,en\nроутер,router-reboot,\n")
    assert read_queries(path) == [
        LabelledQuery("roaming prices", "roaming", "en"),
        LabelledQuery("роутер", "router-reboot", ""),
    ]


def test_read_queries_accepts_text_and_id_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Text,ID\nroaming prices,roaming\n")
    assert read_queries(path) == [LabelledQuery("roaming prices", "roaming")]


def test_read_queries_skips_rows_without_a_query_or_an_id(tmp_path: Path) -> None:
    path = _csv(tmp_path, "query,expected_id\nroaming prices,roaming\n,router-reboot\nроутер,\n")
    assert [q.query for q in read_queries(path)] == ["roaming prices"]


def test_read_queries_rejects_a_csv_without_the_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs columns query,expected_id"):
        read_queries(_csv(tmp_path, "question_text,article\nroaming prices,roaming\n"))


def test_read_queries_rejects_a_csv_without_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no labelled queries"):
        read_queries(_csv(tmp_path, "query,expected_id\n"))


def test_read_texts_keeps_out_of_scope_questions_only(tmp_path: Path) -> None:
    path = _csv(tmp_path, "text,intent\nweather in Paris,oos\nroaming prices,roaming\nрецепт борща,out_of_scope\n")
    assert read_texts(path) == ["weather in Paris", "рецепт борща"]


def test_titles_are_found_first(retriever: Retriever) -> None:
    metrics = evaluate("hybrid", retriever, TITLES)
    assert metrics.n == 6
    assert metrics.recall_at_1 == 1.0
    assert metrics.recall_at_5 == 1.0
    assert metrics.mrr == 1.0
    assert metrics.by_lang == {"en": 1.0, "ru": 1.0}
    assert 0 < metrics.p50_ms <= metrics.p95_ms


def test_a_wrong_label_lowers_recall(retriever: Retriever) -> None:
    queries = [*TITLES[:3], LabelledQuery("Roaming abroad", "no-such-article", "en")]
    metrics = evaluate("hybrid", retriever, queries)
    assert metrics.recall_at_1 == 0.75
    assert metrics.mrr == 0.75


@pytest.mark.parametrize("position", [0, -1], ids=["first", "last"])
def test_a_refused_query_counts_as_not_found(retriever: Retriever, position: int) -> None:
    queries = TITLES[:3]
    queries.insert(position if position >= 0 else len(queries), LabelledQuery("???", "roaming", "en"))
    metrics = evaluate("hybrid", retriever, queries)
    assert metrics.n == 4
    assert metrics.recall_at_1 == 0.75


def test_metrics_as_dict_has_the_reported_numbers(retriever: Retriever) -> None:
    assert set(evaluate("hybrid", retriever, TITLES[:2]).as_dict()) == {
        "recall@1",
        "recall@5",
        "mrr",
        "p50_ms",
        "p95_ms",
    }


def test_baselines_share_the_index(retriever: Retriever) -> None:
    systems = baselines(retriever.index, retriever.embedder, retriever.settings)
    assert sorted(systems) == ["bm25", "char-tfidf", "dense-only", "hybrid", "hybrid-weighted"]
    assert all(system.index is retriever.index for system in systems.values())
    assert systems["dense-only"].settings.mode == "dense"


def test_weight_sweep_gives_a_recall_per_weight(retriever: Retriever) -> None:
    sweep = weight_sweep(retriever, TITLES, [0.0, 0.5, 1.0])
    assert [w for w, _ in sweep] == [0.0, 0.5, 1.0]
    assert all(0.0 <= recall <= 1.0 for _, recall in sweep)


def test_threshold_sweep_rows_are_monotone(retriever: Retriever) -> None:
    thresholds = [round(0.1 * i, 1) for i in range(11)]
    rows = threshold_sweep(retriever, TITLES, NEGATIVES, thresholds)
    assert [row.threshold for row in rows] == thresholds
    for lower, higher in itertools.pairwise(rows):
        assert higher.answered_correct <= lower.answered_correct
        assert higher.answered_wrong <= lower.answered_wrong
        assert higher.negatives_refused >= lower.negatives_refused
    assert rows[0].answered_correct == 1.0  # every title is answered with its article at threshold 0


def test_threshold_sweep_without_negatives_leaves_refusals_undefined(retriever: Retriever) -> None:
    (row,) = threshold_sweep(retriever, TITLES, [], [0.5])
    assert math.isnan(row.negatives_refused)
