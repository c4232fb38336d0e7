"""Lexical scorers over chunk texts: character n-gram TF-IDF (typo-tolerant) and BM25 over crude word stems.

Both are fitted on the chunks when an index is loaded (seconds for tens of thousands of chunks), so the index
directory holds only what is expensive to recompute: the embeddings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

Scores = npt.NDArray[np.float32]
_WORD = re.compile(r"\w+", re.UNICODE)
# Russian inflects word endings: the first letters of a word ("интернет", "интернета", "интернетом") are a
# stem good enough for matching, and need no dictionary.
STEM_LENGTH = 5


def normalise_text(text: str) -> str:
    return text.lower().replace("ё", "е")


def stems(text: str) -> list[str]:
    return [word[:STEM_LENGTH] for word in _WORD.findall(normalise_text(text)) if len(word) > 1 or word.isdigit()]


class LexicalScorer(Protocol):
    name: str

    def fit(self, texts: Sequence[str]) -> None: ...

    def scores(self, query: str) -> Scores:
        """One score per fitted text, higher is closer; 0 where nothing is shared."""
        ...


class CharTfidf:
    """Cosine between TF-IDF vectors of character 2-5-grams inside word boundaries."""

    name = "char-tfidf"

    def __init__(self, ngram_range: tuple[int, int] = (2, 5)) -> None:
        self.ngram_range = ngram_range
        self._vectorizer: TfidfVectorizer | None = None
        self._matrix: sp.csr_matrix | None = None

    def fit(self, texts: Sequence[str]) -> None:
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.ngram_range, sublinear_tf=True, dtype=np.float32
        )
        self._matrix = self._vectorizer.fit_transform([normalise_text(t) for t in texts]).tocsr()

    def scores(self, query: str) -> Scores:
        if self._vectorizer is None or self._matrix is None:
            raise RuntimeError("CharTfidf.scores before fit")
        vector = self._vectorizer.transform([normalise_text(query)])
        return np.asarray((self._matrix @ vector.T).toarray()).ravel().astype(np.float32)


class Bm25:
    """Okapi BM25 over word stems; scores divided by the query's best possible score, so they fall in [0, 1]."""

    name = "bm25"

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._vocabulary: dict[str, int] = {}
        self._idf: npt.NDArray[np.float64] = np.zeros(0)
        self._weights: sp.csc_matrix | None = None

    def fit(self, texts: Sequence[str]) -> None:
        docs = [Counter(stems(t)) for t in texts]
        vocabulary: dict[str, int] = {}
        rows, cols, tf = [], [], []
        for row, counts in enumerate(docs):
            for term, count in counts.items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                tf.append(count)
        n = max(len(docs), 1)
        lengths = np.array([sum(c.values()) for c in docs], dtype=np.float64)
        avg = float(lengths.mean()) if len(lengths) else 1.0
        df = np.bincount(np.array(cols, dtype=np.int64), minlength=len(vocabulary)) if cols else np.zeros(0)
        self._idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        tf_arr = np.array(tf, dtype=np.float64)
        norm = self.k1 * (1 - self.b + self.b * lengths[np.array(rows, dtype=np.int64)] / max(avg, 1e-9)) if rows else 0
        weights = tf_arr * (self.k1 + 1) / (tf_arr + norm)
        self._weights = sp.csc_matrix((weights, (rows, cols)), shape=(len(docs), len(vocabulary)))
        self._vocabulary = vocabulary

    def scores(self, query: str) -> Scores:
        if self._weights is None:
            raise RuntimeError("Bm25.scores before fit")
        terms = [self._vocabulary[t] for t in set(stems(query)) if t in self._vocabulary]
        total = np.zeros(self._weights.shape[0], dtype=np.float64)
        if not terms:
            return total.astype(np.float32)
        idf = self._idf[terms]
        total = np.asarray(self._weights[:, terms] @ idf).ravel()
        best = float(idf.sum() * (self.k1 + 1))
        return (total / best if best > 0 else total).astype(np.float32)


def create_lexical(name: str) -> LexicalScorer:
    if name == CharTfidf.name:
        return CharTfidf()
    if name == Bm25.name:
        return Bm25()
    raise ValueError(f"unknown lexical scorer {name!r} ({CharTfidf.name}, {Bm25.name})")
