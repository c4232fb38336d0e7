"""Retrieval quality on a labelled query set: recall@1, recall@5, MRR and latency, for the service's hybrid
search and, in the same run, its dense-only part and a character TF-IDF baseline; plus the sweeps that chose
the fusion weight and the no-answer threshold."""

from __future__ import annotations

import contextlib
import csv
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from kb_index.embedders import Embedder
from kb_index.index import LoadedIndex
from kb_index.search import Candidates, QueryError, Retriever, SearchSettings

MRR_DEPTH = 10


@dataclass(frozen=True)
class LabelledQuery:
    query: str
    expected_id: str
    lang: str = ""


@dataclass
class Metrics:
    name: str
    n: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    p50_ms: float
    p95_ms: float
    by_lang: dict[str, float] = field(default_factory=dict)  # recall@1 per language

    def as_dict(self) -> dict[str, object]:
        return {
            "recall@1": round(self.recall_at_1, 4),
            "recall@5": round(self.recall_at_5, 4),
            "mrr": round(self.mrr, 4),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
        }


def read_queries(path: Path) -> list[LabelledQuery]:
    """A CSV with columns ``query`` (or ``text``/``question``) and ``expected_id`` (or ``id``), ``lang`` optional."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        text_col = next((c for c in ("query", "text", "question") if c in columns), None)
        id_col = next((c for c in ("expected_id", "id") if c in columns), None)
        if text_col is None or id_col is None:
            raise ValueError(f"{path}: needs columns query,expected_id (has {','.join(columns)})")
        out = []
        for row in reader:
            row = {k.strip().lower(): (v or "") for k, v in row.items() if k is not None}
            if row.get(text_col, "").strip() and row.get(id_col, "").strip():
                out.append(LabelledQuery(row[text_col].strip(), row[id_col].strip(), row.get("lang", "").strip()))
    if not out:
        raise ValueError(f"{path}: no labelled queries")
    return out


def read_texts(path: Path) -> list[str]:
    """Negative examples (questions the knowledge base should not answer): a CSV column text or query; rows
    with an ``intent`` column count only when it is out of scope."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        texts = []
        for row in reader:
            intent = (row.get("intent") or "oos").strip()
            text = (row.get("text") or row.get("query") or "").strip()
            if text and intent in ("oos", "out_of_scope"):
                texts.append(text)
    return texts


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def evaluate(name: str, retriever: Retriever, queries: Sequence[LabelledQuery]) -> Metrics:
    """Runs every query through ``retriever.search`` as the service would (embedding included in latency)."""
    hits1 = hits5 = 0
    reciprocal = 0.0
    latencies: list[float] = []
    per_lang: dict[str, list[int]] = {}
    with contextlib.suppress(QueryError):  # a refused query counts as not found below
        retriever.search(queries[0].query)  # warm-up: lazy model loading is not a query's latency
    for q in queries:
        started = time.perf_counter()
        try:
            ids = [h.id for h in retriever.search(q.query, k=MRR_DEPTH).hits]
        except QueryError:
            ids = []  # a query the service would refuse (empty, too long) counts as not found
        latencies.append((time.perf_counter() - started) * 1000)
        rank = ids.index(q.expected_id) + 1 if q.expected_id in ids else 0
        hits1 += rank == 1
        hits5 += 0 < rank <= 5
        reciprocal += 1 / rank if rank else 0.0
        per_lang.setdefault(q.lang or "?", []).append(int(rank == 1))
    n = len(queries)
    return Metrics(
        name=name,
        n=n,
        recall_at_1=hits1 / n,
        recall_at_5=hits5 / n,
        mrr=reciprocal / n,
        p50_ms=statistics.median(latencies),
        p95_ms=_percentile(latencies, 0.95),
        by_lang={lang: sum(v) / len(v) for lang, v in sorted(per_lang.items())},
    )


def baselines(index: LoadedIndex, embedder: Embedder, settings: SearchSettings) -> dict[str, Retriever]:
    """The service's search and what it is compared with, over the same index."""
    return {
        "hybrid": Retriever(index, embedder, settings),
        "dense-only": Retriever(index, embedder, replace(settings, mode="dense")),
        "char-tfidf": Retriever(index, embedder, replace(settings, mode="char-tfidf")),
        "bm25": Retriever(index, embedder, replace(settings, mode="bm25")),
        "hybrid-weighted": Retriever(index, embedder, replace(settings, mode="hybrid", fusion="weighted")),
    }


def weight_sweep(
    retriever: Retriever, queries: Sequence[LabelledQuery], weights: Sequence[float]
) -> list[tuple[float, float]]:
    """recall@1 of the retriever's fusion (z-score or RRF; hybrid) for each weight of the dense signal, over the
    same candidates."""
    settings = replace(retriever.settings, mode="hybrid")
    if settings.fusion == "weighted":
        settings = replace(settings, fusion="zscore")
    found: list[tuple[Candidates, str]] = [(retriever.candidates(q.query), q.expected_id) for q in queries]
    out = []
    for w in weights:
        swept = replace(settings, dense_weight=w)
        correct = sum(bool((hits := retriever.rank(c, 1, swept)) and hits[0].id == want) for c, want in found)
        out.append((w, correct / len(found)))
    return out


@dataclass
class ThresholdRow:
    threshold: float
    answered_correct: float  # of the labelled queries: answered with the right article
    answered_wrong: float  # of the labelled queries: answered with a wrong article
    negatives_refused: float  # of the out-of-scope questions: "no good answer"


def threshold_sweep(
    retriever: Retriever, queries: Sequence[LabelledQuery], negatives: Sequence[str], thresholds: Sequence[float]
) -> list[ThresholdRow]:
    positives = []
    for q in queries:
        hits = retriever.search(q.query, k=1).hits
        positives.append((hits[0].score if hits else 0.0, bool(hits) and hits[0].id == q.expected_id))
    negative_scores = []
    for text in negatives:
        try:
            hits = retriever.search(text, k=1).hits
        except QueryError:
            continue
        negative_scores.append(hits[0].score if hits else 0.0)
    rows = []
    for t in thresholds:
        rows.append(
            ThresholdRow(
                threshold=t,
                answered_correct=sum(s >= t and ok for s, ok in positives) / len(positives),
                answered_wrong=sum(s >= t and not ok for s, ok in positives) / len(positives),
                negatives_refused=(sum(s < t for s in negative_scores) / len(negative_scores))
                if negative_scores
                else float("nan"),
            )
        )
    return rows
