from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
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
    assert {h.lang for h in response.hits} == {"en"}


def test_evidence_comes_from_every_language_by_default(retriever: Retriever) -> None:
    assert retriever.search("the router does not work").searched_langs == ["en", "ru"]


def test_without_all_languages_only_the_query_language_is_searched(retriever: Retriever) -> None:
    response = _with(retriever, all_languages=False).search("the router does not work", k=10)
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


def test_weighted_fusion_takes_given_confidences() -> None:
    confidences = {"a": 0.1, "b": 0.3, "c": 0.2}
    assert order_scores(SCORES, SearchSettings(fusion="weighted"), confidences) == confidences


def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    values = order_scores(SCORES, SearchSettings(fusion="rrf", dense_weight=0.6, rrf_k=10))
    # a: dense rank 0, char rank 2, bm25 rank 2 -> 0.6/11 + 0.2/13 + 0.2/13
    assert values["a"] == pytest.approx(0.6 / 11 + 0.2 / 13 + 0.2 / 13)
    assert values["b"] == pytest.approx(0.6 / 12 + 0.2 / 11 + 0.2 / 11)
    assert _order(SearchSettings(fusion="rrf", dense_weight=0.6, rrf_k=10)) == ["b", "a", "c"]


def test_rrf_with_the_whole_weight_on_dense_follows_the_dense_ranking() -> None:
    assert _order(SearchSettings(fusion="rrf", dense_weight=1.0)) == ["a", "b", "c"]


def test_rrf_without_dense_weight_follows_the_lexical_rankings() -> None:
    assert _order(SearchSettings(fusion="rrf", dense_weight=0.0)) == ["b", "c", "a"]


def test_zscore_sums_weighted_z_scores() -> None:
    values = order_scores(SCORES, SearchSettings(fusion="zscore", dense_weight=0.6))
    dense, char, bm25 = (np.array([SCORES[key][i] for key in "abc"]) for i in range(3))
    z = [(x - x.mean()) / x.std() for x in (dense, char, bm25)]
    expected = 0.6 * z[0] + 0.2 * z[1] + 0.2 * z[2]
    assert [values[key] for key in "abc"] == pytest.approx(list(expected))
    assert _order(SearchSettings(fusion="zscore", dense_weight=0.6)) == ["b", "a", "c"]


def test_zscore_follows_the_dense_signal_with_the_whole_weight_on_it() -> None:
    assert _order(SearchSettings(fusion="zscore", dense_weight=1.0)) == ["a", "b", "c"]


def test_zscore_ignores_a_signal_that_is_the_same_for_every_article() -> None:
    flat = {"a": (0.9, 0.5, 0.0), "b": (0.1, 0.5, 0.0)}
    values = order_scores(flat, SearchSettings(fusion="zscore", dense_weight=0.5))
    assert values == pytest.approx({"a": 0.5, "b": -0.5})


def test_zscore_of_one_article_is_zero() -> None:
    assert order_scores({"a": (0.9, 0.1, 0.2)}, SearchSettings()) == {"a": 0.0}


def test_no_articles_no_order() -> None:
    assert order_scores({}, SearchSettings()) == {}


# -- settings ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "semantic"}, "unknown search mode"),
        ({"fusion": "max"}, "unknown fusion"),
        ({"dense_weight": 1.5}, "dense_weight must be between 0 and 1"),
        ({"dense_weight": -0.1}, "dense_weight must be between 0 and 1"),
        ({"confidence_dense_weight": 2.0}, "confidence_dense_weight must be between 0 and 1"),
        ({"rrf_k": 0}, "rrf_k must be at least 1"),
        ({"top_m": (3, 0, 2)}, "top_m must be three whole numbers"),
        ({"top_m": (3, 2)}, "top_m must be three whole numbers"),
        ({"candidates": 0}, "candidates must be at least 1"),
    ],
)
def test_search_settings_reject_bad_values(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchSettings(**fields)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_search_settings_accept_the_weight_bounds(weight: float) -> None:
    assert SearchSettings(dense_weight=weight, confidence_dense_weight=weight).dense_weight == weight


# -- articles: evidence from their chunks in every language ------------------------------------------------------
# conftest's TRANSLITERATED_QUESTION: a way of asking of the Russian roaming article in the ``asked`` index
TRANSLIT = "skolko stoit rouming v turcii na nedelyu"


def test_a_transliterated_question_finds_the_article_by_its_russian_ways_of_asking(asked: Retriever) -> None:
    response = asked.search(TRANSLIT)
    assert response.lang == "en"  # Latin letters: detected as English
    hit = response.hits[0]
    assert (hit.id, hit.lang) == ("roaming", "en")  # shown in the query's language
    assert "Turkey" in hit.snippet or "Zabota app" in hit.snippet  # the English article's own text
    assert hit.score == pytest.approx(0.8 * hit.dense + 0.2 * hit.lexical, abs=1e-5)
    assert hit.lexical > 0.9  # the confidence is the Russian way of asking's, the chunk that matched


def test_the_query_language_alone_misses_the_other_language_s_ways_of_asking(asked: Retriever) -> None:
    everywhere = asked.search(TRANSLIT).hits[0]
    alone = _with(asked, all_languages=False).search(TRANSLIT).hits[0]
    assert alone.score < everywhere.score


def test_an_article_missing_in_the_query_language_is_not_shown(asked: Retriever) -> None:
    hits = asked.search("Телевидение на даче через приложение", lang="en", k=10).hits
    assert "ru-only-tv" not in {h.id for h in hits}
    assert asked.search("Телевидение на даче через приложение", lang="ru").hits[0].id == "ru-only-tv"


def test_top_mean_is_the_mean_of_the_best_m() -> None:
    from kb_index.search import _top_mean

    values = np.array([0.1, 0.9, 0.5, 0.7], dtype=np.float32)
    assert _top_mean(values, 1) == pytest.approx(0.9)
    assert _top_mean(values, 2) == pytest.approx(0.8)
    assert _top_mean(values, 10) == pytest.approx(0.55)  # fewer chunks than m: all of them


def test_top_m_decides_between_one_close_chunk_and_several(asked: Retriever) -> None:
    found = asked.candidates("роуминг")
    by_best = asked.rank(found, 10, replace(asked.settings, top_m=(1, 1, 1)))
    by_three = asked.rank(found, 10, replace(asked.settings, top_m=(3, 3, 3)))
    assert {h.id for h in by_best} == {h.id for h in by_three}
    assert all(h.lang == "ru" for h in by_best)


def test_candidates_hold_every_chunk_of_the_candidate_articles(asked: Retriever) -> None:
    found = asked.candidates("roaming prices")
    rows = set(found.rows.tolist())
    chunks = asked.index.chunks
    articles = {chunks[r].doc_id for r in rows}
    assert rows == {r for r, c in enumerate(chunks) if c.doc_id in articles}
    assert found.scores.shape == (len(found.rows), 3)


def test_faiss_searches_on_one_thread(retriever: Retriever) -> None:
    import faiss  # type: ignore[import-untyped]

    Retriever(retriever.index, retriever.embedder)
    assert faiss.omp_get_max_threads() == 1
