"""kb_index/tune.py: the pieces of the settings sweep (the command itself: test_main.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kb_index.embedders import HashingFakeEmbedder
from kb_index.evaluate import LabelledQuery
from kb_index.search import Retriever, SearchSettings
from kb_index.tune import (
    CachedEmbedder,
    candidate_cache,
    leave_one_out,
    quality,
    question_rows,
    ranked_ids,
    threshold_grid,
    variants,
    with_query_vectors,
)


class CountingEmbedder(HashingFakeEmbedder):
    def __init__(self) -> None:
        super().__init__(64)
        self.calls: list[str] = []

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        self.calls.extend(texts)
        return super().embed_queries(texts)


def test_cached_embedder_embeds_each_query_once() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    first = cached.embed_queries(["a b", "c d"])
    again = cached.embed_queries(["c d", "a b", "e f"])
    assert inner.calls == ["a b", "c d", "e f"]
    assert np.allclose(again[1], first[0])
    assert (cached.name, cached.dim) == (inner.name, inner.dim)


def test_quality_counts_ranks_per_language() -> None:
    queries = [LabelledQuery("q1", "a", "ru"), LabelledQuery("q2", "b", "ru"), LabelledQuery("q3", "c", "en")]
    q = quality([["a", "x"], ["x", "b"], ["x"]], queries)
    assert q.recall_at_1 == pytest.approx(1 / 3)
    assert q.recall_at_5 == pytest.approx(2 / 3)
    assert q.mrr == pytest.approx((1 + 0.5) / 3)
    assert q.by_lang == {"en": 0.0, "ru": 0.5}


def test_candidates_are_computed_once_per_candidate_setting(retriever: Retriever) -> None:
    found = candidate_cache(retriever, ["roaming prices", "???"])
    base = retriever.settings
    assert found(base) is found(replace(base, fusion="rrf", top_m=(1, 1, 1)))
    assert found(base) is not found(replace(base, all_languages=False))
    assert found(base)[1] is None  # a refused query


def test_leave_one_out_drops_the_own_chunk(asked: Retriever) -> None:
    source = Path(asked.index.meta.source)
    titles, ways = question_rows(asked, source)
    assert len(ways) == 2 and len(titles) == 7
    texts, own = leave_one_out(asked, ways, 5)
    assert sorted(own) == sorted(ways)
    found = candidate_cache(asked, texts, drop=own)(asked.settings)
    for candidates, row in zip(found, own, strict=True):
        assert candidates is not None and row not in candidates.rows


def test_question_rows_refuse_another_corpus(asked: Retriever, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.md").write_text("---\nid: x\nlang: en\ntitle: Not in the index\n---\nBody.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="is not the corpus"):
        question_rows(asked, other)


def test_query_vectors_replace_only_the_given_rows(asked: Retriever) -> None:
    titles, ways = question_rows(asked, Path(asked.index.meta.source))
    symmetric = with_query_vectors(asked, titles + ways)
    assert symmetric.index.chunks is asked.index.chunks
    assert symmetric.search("roaming prices").hits


def test_variants_change_one_knob_around_the_settings_in_use() -> None:
    sections = dict(variants(SearchSettings()))
    assert ("all languages, zscore, top_m (3, 2, 2)", SearchSettings()) in sections[
        "languages, fusion and per-article aggregation"
    ]
    assert all(s.fusion == "zscore" for _, s in sections["z-score fusion: weight of the dense signal"])


def test_threshold_grid_is_monotone(retriever: Retriever) -> None:
    queries = [
        LabelledQuery("Roaming abroad", "roaming", "en"),
        LabelledQuery("Платёж не зачислен", "payment-not-credited", "ru"),
    ]
    found = candidate_cache(retriever, [q.query for q in queries])(retriever.settings)
    negatives = candidate_cache(retriever, ["how to cook pasta"])(retriever.settings)
    rows = threshold_grid(retriever, found, queries, negatives, [0.8], [0.0, 0.5, 2.0])
    assert [r.answered_correct for r in rows] == [1.0, rows[1].answered_correct, 0.0]
    assert rows[0].negatives_refused == 0.0 and rows[-1].negatives_refused == 1.0
    assert ranked_ids(retriever, found, retriever.settings)[0][0] == "roaming"
