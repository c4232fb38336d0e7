from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kb_index.build import build_index
from kb_index.embedders import HashingFakeEmbedder
from kb_index.index import load_current
from kb_index.search import (
    MAX_QUERY_CHARS,
    QueryError,
    Retriever,
    Scores,
    SearchSettings,
    order_scores,
)


def _with(retriever: Retriever, **changes: Any) -> Retriever:
    return Retriever(retriever.index, retriever.embedder, replace(retriever.settings, **changes))


# -- finding the article -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("how much does roaming cost in Turkey", "roaming"),
        ("unplug the router", "router-reboot"),
        ("my payment is not credited to the balance", "payment-not-credited"),
        ("роуминг в Турции", "roaming"),
        ("перезагрузка роутера", "router-reboot"),
        ("платёж не зачислен", "payment-not-credited"),
    ],
)
def test_hybrid_finds_the_article_sharing_words_with_the_query(retriever: Retriever, query: str, expected: str) -> None:
    assert retriever.search(query).hits[0].id == expected


def test_hit_carries_the_article_and_the_matching_section(retriever: Retriever) -> None:
    hit = retriever.search("unplug the router from the socket").hits[0]
    assert (hit.id, hit.lang, hit.title) == ("router-reboot", "en", "Internet is down")
    assert hit.url == "https://zabota.example/help/en/router-reboot"
    assert hit.heading == "Restart the router"
    assert "Unplug the router from the socket" in hit.snippet


def test_one_hit_per_article(retriever: Retriever) -> None:
    hits = retriever.search("router", k=10).hits
    assert len(hits) == len({(h.id, h.lang) for h in hits}) == 3


def test_k_limits_the_hits(retriever: Retriever) -> None:
    assert len(retriever.search("router", k=1).hits) == 1


def test_english_query_gets_english_articles(retriever: Retriever) -> None:
    response = retriever.search("the router does not work", k=10)
    assert response.lang == "en"
    assert response.searched_langs == ["en"]
    assert {h.lang for h in response.hits} == {"en"}


def test_russian_query_gets_russian_articles(retriever: Retriever) -> None:
    response = retriever.search("роутер не работает", k=10)
    assert response.lang == "ru"
    assert {h.lang for h in response.hits} == {"ru"}


def test_explicit_language_wins_over_detection(retriever: Retriever) -> None:
    response = retriever.search("WAN", lang="ru", k=10)
    assert response.lang == "ru"
    assert {h.lang for h in response.hits} == {"ru"}


def test_russian_only_corpus_still_answers_an_english_query(
    ru_articles_dir: Path, tmp_path: Path, embedder: HashingFakeEmbedder
) -> None:
    build_index(ru_articles_dir, tmp_path / "index", embedder, progress=False)
    retriever = Retriever(load_current(tmp_path / "index", embedder.name, embedder.dim), embedder)
    response = retriever.search("WAN port cable")
    assert response.lang == "en"
    assert response.searched_langs == ["ru"]
    assert response.hits
    assert {h.lang for h in response.hits} == {"ru"}


def test_query_whitespace_is_collapsed(retriever: Retriever) -> None:
    assert retriever.search("  roaming \n in\tTurkey  ").query == "roaming in Turkey"


# -- refused queries ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    ["", "   \n\t ", "?!... --- ???", "x" * (MAX_QUERY_CHARS + 1)],
    ids=["empty", "whitespace", "punctuation", "too-long"],
)
def test_unsearchable_query_is_a_query_error(retriever: Retriever, query: str) -> None:
    with pytest.raises(QueryError):
        retriever.search(query)


def test_query_of_the_maximum_length_is_searched(retriever: Retriever) -> None:
    assert retriever.search("roaming " * (MAX_QUERY_CHARS // 8)).hits


def test_unsupported_language_is_a_query_error(retriever: Retriever) -> None:
    with pytest.raises(QueryError, match="unsupported language 'de'"):
        retriever.search("roaming", lang="de")


@pytest.mark.parametrize("k", [0, -1, 51])
def test_k_out_of_range_is_a_query_error(retriever: Retriever, k: int) -> None:
    with pytest.raises(QueryError, match="k must be between 1 and 50"):
        retriever.search("roaming", k=k)


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QueryError, ValueError)


# -- the no-answer threshold -------------------------------------------------------------------------------------
def test_best_hit_over_a_low_threshold_is_an_answer(retriever: Retriever) -> None:
    response = _with(retriever, threshold=0.0).search("roaming prices")
    assert response.answered
    assert response.best == response.hits[0]
    assert response.threshold == 0.0


def test_best_hit_under_a_high_threshold_is_no_answer(retriever: Retriever) -> None:
    response = _with(retriever, threshold=10.0).search("roaming prices")
    assert response.hits
    assert not response.answered
    assert response.best is None


def test_hit_score_is_the_weighted_confidence(retriever: Retriever) -> None:
    hit = _with(retriever, confidence_dense_weight=0.6).search("roaming prices").hits[0]
    assert hit.score == pytest.approx(0.6 * hit.dense + 0.4 * hit.lexical, abs=1e-5)


# -- modes -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings",
    [
        SearchSettings(mode="dense"),
        SearchSettings(mode="char-tfidf"),
        SearchSettings(mode="bm25"),
        SearchSettings(mode="hybrid", fusion="weighted"),
    ],
    ids=["dense", "char-tfidf", "bm25", "weighted"],
)
def test_every_mode_finds_an_obvious_article(retriever: Retriever, settings: SearchSettings) -> None:
    searcher = Retriever(retriever.index, retriever.embedder, settings)
    assert searcher.search("roaming prices in Turkey").hits[0].id == "roaming"


def test_lexical_modes_do_not_use_the_embedding(retriever: Retriever) -> None:
    hits = _with(retriever, mode="bm25").search("roaming prices in Turkey").hits
    assert all(h.dense == 0.0 for h in hits)


# -- ordering on hand-made scores --------------------------------------------------------------------------------
#            dense, char, bm25
SCORES: dict[str, Scores] = {
    "a": (0.9, 0.1, 0.0),
    "b": (0.5, 0.8, 0.9),
    "c": (0.1, 0.3, 0.5),
}


def _order(settings: SearchSettings) -> list[str]:
    values = order_scores(SCORES, settings)
    return sorted(values, key=lambda key: -values[key])


def test_dense_mode_orders_by_the_dense_score() -> None:
    assert order_scores(SCORES, SearchSettings(mode="dense")) == {"a": 0.9, "b": 0.5, "c": 0.1}


def test_char_tfidf_mode_orders_by_the_char_score() -> None:
    assert order_scores(SCORES, SearchSettings(mode="char-tfidf")) == {"a": 0.1, "b": 0.8, "c": 0.3}


def test_bm25_mode_orders_by_the_bm25_score() -> None:
    assert order_scores(SCORES, SearchSettings(mode="bm25")) == {"a": 0.0, "b": 0.9, "c": 0.5}


def test_weighted_fusion_orders_by_the_confidence() -> None:
    values = order_scores(SCORES, SearchSettings(fusion="weighted", confidence_dense_weight=0.6))
    assert values == pytest.approx({"a": 0.58, "b": 0.62, "c": 0.18})


def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    values = order_scores(SCORES, SearchSettings(fusion="rrf", rrf_dense_weight=0.6, rrf_k=10))
    # a: dense rank 0, char rank 2, bm25 rank 2 -> 0.6/11 + 0.2/13 + 0.2/13
    assert values["a"] == pytest.approx(0.6 / 11 + 0.2 / 13 + 0.2 / 13)
    assert values["b"] == pytest.approx(0.6 / 12 + 0.2 / 11 + 0.2 / 11)
    assert _order(SearchSettings(fusion="rrf", rrf_dense_weight=0.6, rrf_k=10)) == ["b", "a", "c"]


def test_rrf_with_the_whole_weight_on_dense_follows_the_dense_ranking() -> None:
    assert _order(SearchSettings(fusion="rrf", rrf_dense_weight=1.0)) == ["a", "b", "c"]


def test_rrf_without_dense_weight_follows_the_lexical_rankings() -> None:
    assert _order(SearchSettings(fusion="rrf", rrf_dense_weight=0.0)) == ["b", "c", "a"]


# -- settings ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "semantic"}, "unknown search mode"),
        ({"fusion": "max"}, "unknown fusion"),
        ({"rrf_dense_weight": 1.5}, "rrf_dense_weight must be between 0 and 1"),
        ({"rrf_dense_weight": -0.1}, "rrf_dense_weight must be between 0 and 1"),
        ({"confidence_dense_weight": 2.0}, "confidence_dense_weight must be between 0 and 1"),
        ({"rrf_k": 0}, "rrf_k must be at least 1"),
    ],
)
def test_search_settings_reject_bad_values(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchSettings(**fields)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_search_settings_accept_the_weight_bounds(weight: float) -> None:
    assert SearchSettings(rrf_dense_weight=weight, confidence_dense_weight=weight).rrf_dense_weight == weight
