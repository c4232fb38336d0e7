"""Hybrid retrieval: dense (FAISS over sentence embeddings) and two lexical scores (character n-gram TF-IDF for
typos and slang, BM25 over word stems for rare exact words) per chunk, gathered into articles and fused, with
a confidence threshold below which there is no good answer.

An article is scored, not a chunk: its title, each of its ways of asking and each section are chunks, and a
customer's question usually resembles several of them. Per signal, an article's value is the mean of its best
``top_m`` chunks, over its chunks in every language of the corpus: the ways of asking of a Russian article
include transliterated Russian ("kak uznat nomer scheta"), which language detection calls English, and the
Russian and English articles of one id are one topic. The results are the articles of the customer's language
when the corpus has it (an English customer gets English articles), every language's otherwise.

Two numbers, two jobs:
- **order**: per query, each signal's article values become z-scores over the candidate articles and are summed
  with weights (``fusion="zscore"``), so no signal's scale dominates; reciprocal-rank fusion of the article
  rankings (``rrf``) and the confidence alone (``weighted``) are the measured alternatives (docs/benchmarks.md).
- **confidence** (``Hit.score``): a weighted sum of the dense cosine and the character-TF-IDF cosine of the
  article's best chunk. Both are on a fixed scale, so the same value means the same thing from one query to the
  next, and one threshold separates answerable questions from the rest (swept by ``make kb-tune``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import faiss  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt

from kb_index.embedders import Embedder
from kb_index.index import LoadedIndex
from kb_index.lexical import Bm25, CharTfidf, LexicalScorer
from zabota.language import SUPPORTED, Language, detect_language

MAX_QUERY_CHARS = 2000
# FAISS searches one query on one thread. With its default (a thread per core) its OpenMP threads spin after
# each search and take the cores from the query embedding's own threads: on the 2-core machine, 2525 chunks,
# the dense search took 1.1 ms (p95 13.6) instead of 0.14 (0.19) and the embedding 13 ms instead of 6.
SEARCH_THREADS = 1

Mode = Literal["hybrid", "dense", "char-tfidf", "bm25"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "char-tfidf", "bm25")
Fusion = Literal["zscore", "rrf", "weighted"]
FUSIONS: tuple[Fusion, ...] = ("zscore", "rrf", "weighted")
# Signals of a chunk or an article, in this order in every score tuple and score matrix column.
DENSE, CHAR, BM25 = 0, 1, 2


class QueryError(ValueError):
    """A query that cannot be searched (empty, too long, unknown language): the caller answers 4xx."""


@dataclass(frozen=True)
class SearchSettings:
    """Each default was chosen by ``make kb-tune`` on the development set bench/data/wild_dev (410 customer-style
    questions, 58 out-of-scope); the figures in the comments are its recall@1 (docs/benchmarks.md has the sweep).
    The previous defaults (chunks fused by RRF, then grouped; the query's language only) had 0.902 there."""

    mode: Mode = "hybrid"
    # zscore 0.951; rrf 0.941; weighted (the confidence orders) 0.939
    fusion: Fusion = "zscore"
    # share of the dense signal in zscore and rrf, the two lexical ones splitting the rest: 0.6 (0.5: 0.941,
    # 0.7: 0.946)
    dense_weight: float = 0.6
    # RRF's rank offset k (fusion="rrf" only)
    rrf_k: int = 10
    # an article's value of each signal (dense, char TF-IDF, BM25) is the mean of its best m chunks: (3, 2, 2)
    # 0.951; its best chunk alone (1, 1, 1) 0.937; (2, 2, 2) 0.946; (3, 3, 3) 0.944
    top_m: tuple[int, int, int] = (3, 2, 2)
    # chunks each signal proposes per language; their articles are the candidates (10, 20, 100: 0.951 too)
    candidates: int = 50
    # an article's evidence from its chunks in every language, not the query's alone: 0.937 without
    # (transliterated Russian questions 0.62 instead of 0.95)
    all_languages: bool = True
    # confidence = w * dense cosine + (1 - w) * char TF-IDF cosine of the article's best chunk; 0.8 keeps the most
    # right answers at a threshold refusing 85-90% of the out-of-scope questions (0.6: 4 points fewer)
    confidence_dense_weight: float = 0.8
    # below this confidence the best article is not a good answer: at 0.73, 86% of the out-of-scope questions
    # get "no good answer" for 1.4 points fewer right answers (0.74: 88% for 3.9 points; 0.75: 95% for 8.3)
    threshold: float = 0.73

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown search mode {self.mode!r} ({', '.join(MODES)})")
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r} ({', '.join(FUSIONS)})")
        for name in ("dense_weight", "confidence_dense_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.rrf_k < 1:
            raise ValueError("rrf_k must be at least 1")
        if len(self.top_m) != 3 or any(m < 1 for m in self.top_m):
            raise ValueError("top_m must be three whole numbers of at least 1 (dense, char TF-IDF, BM25)")
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")


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
    # the dense and char TF-IDF cosines of the article's best chunk, of which the confidence is made
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
    """The expensive half of a search: every chunk, in the searched languages, of every candidate article."""

    query: str
    lang: Language
    langs: list[Language]
    # chunk rows of the index, and their (dense, char TF-IDF, BM25) scores, one row each
    rows: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]


def confidence(scores: Scores, settings: SearchSettings) -> float:
    w = settings.confidence_dense_weight
    return w * scores[DENSE] + (1 - w) * scores[CHAR]


def _ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    ranks = np.empty(len(values))
    ranks[np.argsort(-values, kind="stable")] = np.arange(len(values))
    return ranks


def order_scores(
    scores: Mapping[K, Scores], settings: SearchSettings, confidences: Mapping[K, float] | None = None
) -> dict[K, float]:
    """The number articles are ordered by, from their signal values: one signal alone, the z-score sum or RRF of
    the three, or the confidence (``confidences`` when given, else computed from the values)."""
    keys = list(scores)
    if settings.mode == "dense":
        return {key: scores[key][DENSE] for key in keys}
    if settings.mode == "char-tfidf":
        return {key: scores[key][CHAR] for key in keys}
    if settings.mode == "bm25":
        return {key: scores[key][BM25] for key in keys}
    if settings.fusion == "weighted":
        if confidences is not None:
            return {key: confidences[key] for key in keys}
        return {key: confidence(scores[key], settings) for key in keys}
    if not keys:
        return {}
    w = settings.dense_weight
    weights = ((DENSE, w), (CHAR, (1 - w) / 2), (BM25, (1 - w) / 2))
    matrix = np.array([scores[key] for key in keys], dtype=np.float64).reshape(len(keys), 3)
    fused = np.zeros(len(keys))
    for signal, weight in weights:
        column = matrix[:, signal]
        if settings.fusion == "rrf":
            fused += weight / (settings.rrf_k + _ranks(column) + 1)
        else:  # zscore; a signal that is the same for every candidate says nothing and adds nothing
            spread = float(column.std())
            if spread > 1e-12:
                fused += weight * (column - column.mean()) / spread
    return {key: float(value) for key, value in zip(keys, fused, strict=True)}


def _top_mean(values: npt.NDArray[np.float32], m: int) -> float:
    if len(values) <= m:
        return float(values.mean())
    return float(np.partition(values, len(values) - m)[-m:].mean())


class Retriever:
    """Searches one loaded build. Immutable after construction, so it is safe to share between threads."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: SearchSettings | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        faiss.omp_set_num_threads(SEARCH_THREADS)  # process-wide: a process that searches serves queries
        chunks = index.chunks
        self._rows_by_lang: dict[Language, npt.NDArray[np.int64]] = {}
        self._lexical_by_lang: dict[Language, tuple[LexicalScorer, LexicalScorer]] = {}
        # row -> its language, and its place in that language's rows (and lexical score arrays)
        self._lang_of = np.array([c.lang for c in chunks])
        self._position = np.zeros(len(chunks), dtype=np.int64)
        for lang in index.faiss_by_lang:
            rows = np.array([i for i, c in enumerate(chunks) if c.lang == lang], dtype=np.int64)
            texts = [chunks[i].search_text for i in rows]
            char, bm25 = CharTfidf(), Bm25()
            char.fit(texts)
            bm25.fit(texts)
            self._rows_by_lang[lang] = rows
            self._lexical_by_lang[lang] = (char, bm25)
            self._position[rows] = np.arange(len(rows))
        # articles by id, every language together: row -> article number; (article, language) -> its rows
        self._article_ids: list[str] = []
        numbers: dict[str, int] = {}
        self._article_of = np.zeros(len(chunks), dtype=np.int64)
        by_article: dict[tuple[int, Language], list[int]] = {}
        for row, chunk in enumerate(chunks):
            number = numbers.setdefault(chunk.doc_id, len(numbers))
            if number == len(self._article_ids):
                self._article_ids.append(chunk.doc_id)
            self._article_of[row] = number
            by_article.setdefault((number, chunk.lang), []).append(row)
        self._article_rows = {key: np.array(rows, dtype=np.int64) for key, rows in by_article.items()}

    @property
    def languages(self) -> list[Language]:
        return list(self._rows_by_lang)

    def _langs_for(self, lang: Language) -> list[Language]:
        """The query's language when the corpus has it (an English customer gets English articles); otherwise
        every language there is (a Russian-only FAQ still answers an English query if it can)."""
        return [lang] if lang in self._rows_by_lang else self.languages

    def candidates(self, text: str, lang: str | None = None, settings: SearchSettings | None = None) -> Candidates:
        """Validates the query, finds the candidate articles (the articles of each signal's best chunks) and
        scores all their chunks: the expensive half of a search, the embedding included."""
        settings = settings or self.settings
        query = check_query(text)
        if lang is not None and lang not in SUPPORTED:
            raise QueryError(f"unsupported language {lang!r} (supported: {', '.join(SUPPORTED)})")
        query_lang: Language = lang if lang is not None else detect_language(query)  # type: ignore[assignment]
        # a lexical baseline alone does not pay for the embedding (its latency is measured against hybrid's)
        lexical_only = settings.mode in ("char-tfidf", "bm25")
        query_vector = None if lexical_only else self.embedder.embed_queries([query])[0]
        langs = self.languages if settings.all_languages else self._langs_for(query_lang)
        lexical: dict[Language, tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]] = {}
        articles: set[int] = set()
        for search_lang in langs:
            rows = self._rows_by_lang[search_lang]
            k = min(settings.candidates, len(rows))
            char, bm25 = (scorer.scores(query) for scorer in self._lexical_by_lang[search_lang])
            lexical[search_lang] = (char, bm25)
            for values in (char, bm25):
                top = np.argpartition(-values, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
                articles.update(self._article_of[rows[top[values[top] > 0]]].tolist())
            if query_vector is not None:
                _, ids = self.index.faiss_by_lang[search_lang].search(query_vector.reshape(1, -1), k)
                articles.update(self._article_of[ids[0][ids[0] >= 0]].tolist())
        parts = [self._article_rows[(a, g)] for a in sorted(articles) for g in langs if (a, g) in self._article_rows]
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        scores = np.zeros((len(rows), 3), dtype=np.float32)
        if query_vector is not None and len(rows):
            # einsum, not a BLAS matrix product: OpenBLAS's threads would spin after it and slow the next query's
            # embedding (p95 24 ms -> 110 ms measured on the 2-core machine)
            scores[:, DENSE] = np.einsum("ij,j->i", self.index.vectors[rows], query_vector)
        row_langs = self._lang_of[rows]
        for search_lang, (char, bm25) in lexical.items():
            mask = row_langs == search_lang
            positions = self._position[rows[mask]]
            scores[mask, CHAR] = char[positions]
            scores[mask, BM25] = bm25[positions]
        return Candidates(query=query, lang=query_lang, langs=langs, rows=rows, scores=scores)

    def rank(self, candidates: Candidates, k: int = 5, settings: SearchSettings | None = None) -> list[Hit]:
        """The top ``k`` articles by ``settings`` (default: the retriever's own; its ``candidates`` and
        ``all_languages`` apply in ``candidates``), each shown in the query's language when the corpus has it,
        with its best section there as the snippet."""
        if not 1 <= k <= 50:
            raise QueryError("k must be between 1 and 50")
        settings = settings or self.settings
        rows, scores = candidates.rows, candidates.scores
        chunks = self.index.chunks
        w = settings.confidence_dense_weight
        chunk_confidence = w * scores[:, DENSE] + (1 - w) * scores[:, CHAR]
        shown_lang = candidates.lang if candidates.lang in self._rows_by_lang else None
        numbers = self._article_of[rows]
        row_langs = self._lang_of[rows]
        values: dict[int, Scores] = {}
        best: dict[int, int] = {}  # article -> position (in rows) of its most confident chunk
        for article in np.unique(numbers).tolist():
            if shown_lang is not None and (article, shown_lang) not in self._article_rows:
                continue  # no article of this id in the customer's language
            at = np.flatnonzero(numbers == article)
            values[article] = (
                _top_mean(scores[at, DENSE], settings.top_m[DENSE]),
                _top_mean(scores[at, CHAR], settings.top_m[CHAR]),
                _top_mean(scores[at, BM25], settings.top_m[BM25]),
            )
            best[article] = int(at[np.argmax(chunk_confidence[at])])
        order = order_scores(values, settings, {a: float(chunk_confidence[p]) for a, p in best.items()})
        hits = []
        for article in sorted(order, key=lambda a: (-order[a], self._article_ids[a]))[:k]:
            top = best[article]
            lang = shown_lang or chunks[rows[top]].lang
            # the snippet: the article's most confident chunk in the language it is shown in
            here = np.flatnonzero((numbers == article) & (row_langs == lang))
            shown = int(here[np.argmax(chunk_confidence[here])]) if len(here) else top
            chunk = chunks[rows[shown]]
            hits.append(
                Hit(
                    id=chunk.doc_id,
                    lang=chunk.lang,
                    title=chunk.title,
                    url=chunk.url,
                    score=round(float(chunk_confidence[top]), 6),
                    snippet=chunk.text,
                    heading=chunk.heading,
                    dense=round(float(scores[top, DENSE]), 6),
                    lexical=round(float(scores[top, CHAR]), 6),
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
