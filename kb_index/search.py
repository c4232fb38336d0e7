"""Hybrid retrieval: dense (FAISS over sentence embeddings) and two lexical scores (character n-gram TF-IDF for
typos and slang, BM25 over word stems for rare exact words) per chunk, fused, grouped into articles, in the
customer's language, with a confidence threshold below which there is no good answer.

Two numbers, two jobs:
- **order**: reciprocal-rank fusion of the three rankings over their top candidates. Ranks need no common
  scale, and RRF measured best on the project's development queries (docs/benchmarks.md).
- **confidence** (``Hit.score``): a weighted sum of the best chunk's dense cosine and character-TF-IDF cosine.
  Both are on a fixed scale, so the same value means the same thing from one query to the next, and one
  threshold separates answerable questions from the rest (chosen by the sweep of ``make kb-eval``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np

from kb_index.chunking import Chunk
from kb_index.embedders import Embedder
from kb_index.index import LoadedIndex
from kb_index.lexical import Bm25, CharTfidf, LexicalScorer
from zabota.language import SUPPORTED, Language, detect_language

MAX_QUERY_CHARS = 2000
# How many chunks each part proposes before fusion.
CANDIDATES = 50

Mode = Literal["hybrid", "dense", "char-tfidf", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "char-tfidf", "bm25")
Fusion = Literal["rrf", "weighted"]
# Signals of a chunk, in this order in every score tuple.
DENSE, CHAR, BM25 = 0, 1, 2


class QueryError(ValueError):
    """A query that cannot be searched (empty, too long, unknown language): the caller answers 4xx."""


@dataclass(frozen=True)
class SearchSettings:
    mode: Mode = "hybrid"
    # rrf: reciprocal-rank fusion of the three signals; weighted: the confidence itself orders the results
    fusion: Fusion = "rrf"
    # RRF: share of the dense ranking (the two lexical ones split the rest) and the rank offset k
    rrf_dense_weight: float = 0.6
    rrf_k: int = 10
    # confidence = w * dense cosine + (1 - w) * char TF-IDF cosine of the best chunk
    confidence_dense_weight: float = 0.6
    # below this confidence the best article is not a good answer. Development sweep (make kb-tune): at 0.55
    # 90% of out-of-scope questions get "no good answer" for 2.7 points fewer right answers; at 0.50 only 25%.
    threshold: float = 0.55

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown search mode {self.mode!r} ({', '.join(MODES)})")
        if self.fusion not in ("rrf", "weighted"):
            raise ValueError(f"unknown fusion {self.fusion!r} (rrf, weighted)")
        for name in ("rrf_dense_weight", "confidence_dense_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.rrf_k < 1:
            raise ValueError("rrf_k must be at least 1")


@dataclass(frozen=True)
class Hit:
    id: str
    lang: Language
    title: str
    url: str
    # the confidence (see the module docstring); compared with the threshold
    score: float
    snippet: str
    heading: str
    dense: float
    lexical: float


@dataclass
class SearchResponse:
    query: str
    lang: Language
    hits: list[Hit]
    threshold: float
    seconds: float = 0.0
    searched_langs: list[Language] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        """Whether the best article is a good enough answer to show."""
        return bool(self.hits) and self.hits[0].score >= self.threshold

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.answered else None


def check_query(text: str) -> str:
    query = " ".join(text.split())
    if not query:
        raise QueryError("empty query")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query of {len(query)} characters is over the limit of {MAX_QUERY_CHARS}")
    if not any(ch.isalnum() for ch in query):
        raise QueryError("query has no letters or digits")
    return query


Scores = tuple[float, float, float]  # dense, char TF-IDF, BM25
K = TypeVar("K")


@dataclass
class Candidates:
    query: str
    lang: Language
    langs: list[Language]
    # chunk row -> (dense, char TF-IDF, BM25)
    scores: dict[int, Scores]


def confidence(scores: Scores, settings: SearchSettings) -> float:
    w = settings.confidence_dense_weight
    return w * scores[DENSE] + (1 - w) * scores[CHAR]


def _ranks(scores: dict[K, Scores], signal: int) -> dict[K, int]:
    return {key: rank for rank, key in enumerate(sorted(scores, key=lambda r: -scores[r][signal]))}


def order_scores(scores: dict[K, Scores], settings: SearchSettings) -> dict[K, float]:
    """The number results are ordered by: one signal alone, RRF of the three, or the confidence."""
    if settings.mode == "dense":
        return {row: s[DENSE] for row, s in scores.items()}
    if settings.mode == "char-tfidf":
        return {row: s[CHAR] for row, s in scores.items()}
    if settings.mode == "bm25":
        return {row: s[BM25] for row, s in scores.items()}
    if settings.fusion == "weighted":
        return {row: confidence(s, settings) for row, s in scores.items()}
    w, k = settings.rrf_dense_weight, settings.rrf_k
    weights = {DENSE: w, CHAR: (1 - w) / 2, BM25: (1 - w) / 2}
    fused = dict.fromkeys(scores, 0.0)
    for signal, weight in weights.items():
        for row, rank in _ranks(scores, signal).items():
            fused[row] += weight / (k + rank + 1)
    return fused


class Retriever:
    """Searches one loaded build. Immutable after construction, so it is safe to share between threads."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: SearchSettings | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        self._rows_by_lang: dict[Language, np.ndarray] = {}
        self._lexical_by_lang: dict[Language, tuple[LexicalScorer, LexicalScorer]] = {}
        chunks = index.chunks
        for lang in index.faiss_by_lang:
            rows = np.array([i for i, c in enumerate(chunks) if c.lang == lang], dtype=np.int64)
            texts = [chunks[i].search_text for i in rows]
            char, bm25 = CharTfidf(), Bm25()
            char.fit(texts)
            bm25.fit(texts)
            self._rows_by_lang[lang] = rows
            self._lexical_by_lang[lang] = (char, bm25)

    @property
    def languages(self) -> list[Language]:
        return list(self._rows_by_lang)

    def _langs_for(self, lang: Language) -> list[Language]:
        """The query's language when the corpus has it (an English customer gets English articles); otherwise
        every language there is (a Russian-only FAQ still answers an English query if it can)."""
        return [lang] if lang in self._rows_by_lang else self.languages

    def _chunk_scores(self, query: str, query_vector: np.ndarray | None, lang: Language) -> dict[int, Scores]:
        """Row -> (dense, char, bm25) for the top candidates of each signal in one language."""
        rows = self._rows_by_lang[lang]
        k = min(CANDIDATES, len(rows))
        char, bm25 = (scorer.scores(query) for scorer in self._lexical_by_lang[lang])
        candidates: set[int] = set()
        for lexical in (char, bm25):
            top = np.argpartition(-lexical, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
            candidates.update(int(rows[i]) for i in top)
        if query_vector is not None:
            _, ids = self.index.faiss_by_lang[lang].search(query_vector.reshape(1, -1), k)
            candidates.update(int(i) for i in ids[0] if i >= 0)
        position = {int(row): i for i, row in enumerate(rows)}
        return {
            row: (
                float(self.index.vectors[row] @ query_vector) if query_vector is not None else 0.0,
                float(char[position[row]]),
                float(bm25[position[row]]),
            )
            for row in candidates
        }

    def candidates(self, text: str, lang: str | None = None) -> Candidates:
        """Validates the query and scores the candidate chunks of every signal (the expensive half of a search)."""
        query = check_query(text)
        if lang is not None and lang not in SUPPORTED:
            raise QueryError(f"unsupported language {lang!r} (supported: {', '.join(SUPPORTED)})")
        query_lang: Language = lang if lang is not None else detect_language(query)  # type: ignore[assignment]
        # a lexical baseline alone does not pay for the embedding (its latency is measured against hybrid's)
        lexical_only = self.settings.mode in ("char-tfidf", "bm25")
        query_vector = None if lexical_only else self.embedder.embed_queries([query])[0]
        langs = self._langs_for(query_lang)
        scores: dict[int, Scores] = {}
        for search_lang in langs:
            scores.update(self._chunk_scores(query, query_vector, search_lang))
        return Candidates(query=query, lang=query_lang, langs=langs, scores=scores)

    def rank(self, candidates: Candidates, k: int = 5, settings: SearchSettings | None = None) -> list[Hit]:
        """The top ``k`` articles by ``settings`` (default: the retriever's own), each by its best chunk.

        Chunks are fused first and grouped into articles after: measured against fusing per-article maxima,
        this ranked better on both the development and the held-out queries (docs/benchmarks.md)."""
        if not 1 <= k <= 50:
            raise QueryError("k must be between 1 and 50")
        settings = settings or self.settings
        order = order_scores(candidates.scores, settings)
        chunks: Sequence[Chunk] = self.index.chunks
        best: dict[str, int] = {}
        for row, value in order.items():
            key = chunks[row].doc_key
            if key not in best or value > order[best[key]]:
                best[key] = row
        hits = []
        for row in sorted(best.values(), key=lambda r: -order[r])[:k]:
            chunk, scores = chunks[row], candidates.scores[row]
            hits.append(
                Hit(
                    id=chunk.doc_id,
                    lang=chunk.lang,
                    title=chunk.title,
                    url=chunk.url,
                    score=round(confidence(scores, settings), 6),
                    snippet=chunk.text,
                    heading=chunk.heading,
                    dense=round(scores[DENSE], 6),
                    lexical=round(scores[CHAR], 6),
                )
            )
        return hits

    def search(self, text: str, lang: str | None = None, k: int = 5) -> SearchResponse:
        started = time.perf_counter()
        found = self.candidates(text, lang)
        hits = self.rank(found, k)
        return SearchResponse(
            query=found.query,
            lang=found.lang,
            hits=hits,
            threshold=self.settings.threshold,
            seconds=time.perf_counter() - started,
            searched_langs=found.langs,
        )
