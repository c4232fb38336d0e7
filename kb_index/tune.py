"""The sweeps behind the search settings (``make kb-tune``, ``python -m kb_index tune``): on development
questions, recall@1/@5 and MRR of the settings around the ones in use, one knob at a time, and the no-answer
threshold against out-of-scope questions. Every query is embedded once (the embedding is the cost of a search);
each setting only re-ranks the same candidates.

- ``--prefix-check``: the titles and ways of asking embedded as ``query: `` (a question against a question, the
  symmetric use of e5) instead of ``passage: `` as the index has them; re-embeds them, a minute for 2,000.
- ``--loo N``: a second, larger check on other data: N of the articles' ways of asking, each searched as a
  question with its own chunk left out of the index (leave one out).

Tune on the development set only (bench/data/wild_dev); the held-out set (bench/data/wild) is for reporting.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kb_index.chunking import chunk_document
from kb_index.documents import load_source
from kb_index.embedders import Embedder, Vectors
from kb_index.evaluate import MRR_DEPTH, LabelledQuery
from kb_index.index import LoadedIndex, build_faiss
from kb_index.search import Candidates, QueryError, Retriever, SearchSettings


class CachedEmbedder:
    """Embeds each query text once; a sweep searches the same questions under many settings."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self._queries: dict[str, npt.NDArray[np.float32]] = {}

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            self._queries.update(zip(missing, self.inner.embed_queries(missing), strict=True))
        return np.vstack([self._queries[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_passages(texts)


@dataclass
class Quality:
    recall_at_1: float
    recall_at_5: float
    mrr: float
    by_lang: dict[str, float]  # recall@1 per language

    def line(self) -> str:
        langs = ", ".join(f"{lang} {v:.3f}" for lang, v in self.by_lang.items())
        return f"{self.recall_at_1:>9.4f} {self.recall_at_5:>9.4f} {self.mrr:>7.4f}  {langs}"

    def as_dict(self) -> dict[str, object]:
        return {
            "recall@1": round(self.recall_at_1, 4),
            "recall@5": round(self.recall_at_5, 4),
            "mrr": round(self.mrr, 4),
            "recall@1_by_lang": {k: round(v, 4) for k, v in self.by_lang.items()},
        }


def quality(ranked: Sequence[Sequence[str]], queries: Sequence[LabelledQuery]) -> Quality:
    hits1 = hits5 = 0
    reciprocal = 0.0
    per_lang: dict[str, list[int]] = {}
    for ids, q in zip(ranked, queries, strict=True):
        rank = list(ids).index(q.expected_id) + 1 if q.expected_id in ids else 0
        hits1 += rank == 1
        hits5 += 0 < rank <= 5
        reciprocal += 1 / rank if rank else 0.0
        per_lang.setdefault(q.lang or "?", []).append(int(rank == 1))
    n = max(len(queries), 1)
    by_lang = {lang: sum(v) / len(v) for lang, v in sorted(per_lang.items())}
    return Quality(hits1 / n, hits5 / n, reciprocal / n, by_lang)


# Candidates are what a setting's ``candidates`` and ``all_languages`` decide; the rest only re-ranks them.
Found = Callable[[SearchSettings], list[Candidates | None]]


def candidate_cache(retriever: Retriever, texts: Sequence[str], drop: Sequence[int] | None = None) -> Found:
    """Candidates of each text under a setting, computed once per (candidates, all_languages); ``drop[i]``, when
    given, is a chunk row left out of text i's candidates (leave one out)."""
    cache: dict[tuple[int, bool], list[Candidates | None]] = {}

    def found(settings: SearchSettings) -> list[Candidates | None]:
        key = (settings.candidates, settings.all_languages)
        if key not in cache:
            probe = replace(settings, mode="hybrid")
            out: list[Candidates | None] = []
            for i, text in enumerate(texts):
                try:
                    c = retriever.candidates(text, settings=probe)
                except QueryError:
                    out.append(None)
                    continue
                if drop is not None:
                    keep = c.rows != drop[i]
                    c = Candidates(c.query, c.lang, c.langs, c.rows[keep], c.scores[keep])
                out.append(c)
            cache[key] = out
        return cache[key]

    return found


def ranked_ids(retriever: Retriever, found: list[Candidates | None], settings: SearchSettings) -> list[list[str]]:
    return [[h.id for h in retriever.rank(c, MRR_DEPTH, settings)] if c is not None else [] for c in found]


def variants(base: SearchSettings) -> list[tuple[str, list[tuple[str, SearchSettings]]]]:
    """The sweep's sections: (title, [(label, settings)]), each setting the one in use with one knob changed
    (the first section crosses the structural choices)."""

    def r(**changes: object) -> SearchSettings:
        return replace(base, mode="hybrid", **changes)  # type: ignore[arg-type]

    structure: list[tuple[str, SearchSettings]] = []
    for all_languages in (False, True):
        for fusion in ("zscore", "rrf", "weighted"):
            for top_m in ((1, 1, 1), base.top_m):
                label = f"{'all languages' if all_languages else 'query language'}, {fusion}, top_m {top_m}"
                structure.append((label, r(all_languages=all_languages, fusion=fusion, top_m=top_m)))
    weights = [(f"zscore, dense weight {w:.1f}", r(fusion="zscore", dense_weight=w)) for w in np.arange(0, 1.01, 0.1)]
    rrf = [
        (f"rrf, k {k}, dense weight {w:.1f}", r(fusion="rrf", rrf_k=k, dense_weight=w))
        for k in (1, 3, 5, 10, 20, 60)
        for w in (0.4, 0.5, 0.6, 0.7)
    ]
    aggregation = [
        (f"top_m dense {d}, char {c}, bm25 {b}", r(top_m=(d, c, b)))
        for d in (1, 2, 3, 4, 5, 8)
        for c in (1, 2, 3, 5)
        for b in (1, 2, 3, 5)
    ]
    candidates = [(f"candidates {n} per signal and language", r(candidates=n)) for n in (5, 10, 20, 50, 100, 200)]
    single = [
        (f"{mode} alone, top_m {m}", replace(base, mode=mode, top_m=m))  # type: ignore[arg-type]
        for mode in ("dense", "char-tfidf", "bm25")
        for m in ((1, 1, 1), base.top_m)
    ]
    return [
        ("languages, fusion and per-article aggregation", structure),
        ("z-score fusion: weight of the dense signal", weights),
        ("reciprocal-rank fusion of the articles: k and the dense weight", rrf),
        ("per-article aggregation: mean of the best m chunks per signal", aggregation),
        ("candidates per retriever", candidates),
        ("one signal alone", single),
    ]


@dataclass
class ThresholdRow:
    confidence_dense_weight: float
    threshold: float
    answered_correct: float
    answered_wrong: float
    negatives_refused: float


def threshold_grid(
    retriever: Retriever,
    found: list[Candidates | None],
    queries: Sequence[LabelledQuery],
    negatives: list[Candidates | None],
    weights: Sequence[float],
    thresholds: Sequence[float],
) -> list[ThresholdRow]:
    """Per weight of the dense cosine in the confidence, per threshold: answered right/wrong of the labelled
    queries, share of the out-of-scope questions refused. The ranking is the retriever's own."""
    rows = []
    for w in weights:
        settings = replace(retriever.settings, confidence_dense_weight=w)
        positives = []
        for c, q in zip(found, queries, strict=True):
            hits = retriever.rank(c, 1, settings) if c is not None else []
            positives.append((hits[0].score if hits else 0.0, bool(hits) and hits[0].id == q.expected_id))
        scores = [hits[0].score for c in negatives if c is not None and (hits := retriever.rank(c, 1, settings))]
        for t in thresholds:
            rows.append(
                ThresholdRow(
                    w,
                    t,
                    sum(s >= t and ok for s, ok in positives) / len(positives),
                    sum(s >= t and not ok for s, ok in positives) / len(positives),
                    sum(s < t for s in scores) / len(scores) if scores else float("nan"),
                )
            )
    return rows


def question_rows(retriever: Retriever, source: Path) -> tuple[list[int], list[int]]:
    """Rows of the index's title chunks and of its ways-of-asking chunks, found from ``source`` (the corpus the
    index was built from: a document's first chunks are its title and its questions, in that order)."""
    chunks = retriever.index.chunks
    position = {(c.doc_key, c.search_text): row for row, c in enumerate(chunks)}
    titles: list[int] = []
    asked: list[int] = []
    for document in load_source(source).documents:
        for j, chunk in enumerate(chunk_document(document)[: 1 + len(document.questions)]):
            row = position.get((chunk.doc_key, chunk.search_text))
            if row is None:
                raise ValueError(f"{source} is not the corpus of index {retriever.index.path.name}: rebuild it")
            (asked if j else titles).append(row)
    return titles, asked


def with_query_vectors(retriever: Retriever, rows: Sequence[int]) -> Retriever:
    """The same index with ``rows`` re-embedded as queries (``query: ``), for the prefix check."""
    index = retriever.index
    vectors = np.array(index.vectors, dtype=np.float32)
    texts = [index.chunks[row].search_text for row in rows]
    for start in range(0, len(texts), 64):
        vectors[list(rows[start : start + 64])] = retriever.embedder.embed_queries(texts[start : start + 64])
    ids = np.arange(len(index.chunks), dtype=np.int64)
    langs = np.array([c.lang for c in index.chunks])
    faiss_by_lang = {
        lang: build_faiss(vectors[langs == lang], ids[langs == lang], index.meta.faiss_factory)
        for lang in index.faiss_by_lang
    }
    loaded = LoadedIndex(index.path, index.meta, index.chunks, vectors, faiss_by_lang)
    return Retriever(loaded, retriever.embedder, retriever.settings)


def leave_one_out(retriever: Retriever, asked: Sequence[int], n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """N ways of asking as (texts, their own rows): the question is the first line of its chunk's search text."""
    rows = random.Random(seed).sample(list(asked), min(n, len(asked)))
    return [retriever.index.chunks[row].search_text.split("\n", 1)[0] for row in rows], rows
