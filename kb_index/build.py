"""Building an index: load documents, chunk, embed what is new, write a build, verify it, then switch to it.

Incremental by content hash: a chunk whose text was embedded by the same embedder in the active build keeps
its vector, so editing one article re-embeds a few chunks, not the corpus. A corpus identical to the active
build's is not rebuilt at all. The switch is atomic (``index.activate``) and happens only after the new build
loaded and answered a test search, so a running service never sees a broken index.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import structlog
from tqdm import tqdm

from kb_index.chunking import Chunk, chunk_documents
from kb_index.documents import LoadError, load_source
from kb_index.embedders import Embedder, Vectors
from kb_index.index import (
    IndexError_,
    IndexMeta,
    activate,
    choose_factory,
    corpus_hash,
    current_build,
    load_build,
    prune_builds,
    read_meta,
    write_build,
)

log = structlog.stdlib.get_logger(__name__)

EMBED_BATCH = 32


@dataclass
class BuildReport:
    index_dir: str
    build: str
    up_to_date: bool
    n_documents: int
    n_chunks: int
    embedded: int
    reused: int
    seconds: float
    faiss_factory: str
    embedder: str
    languages: list[str]
    errors: list[LoadError] = field(default_factory=list)


def _previous_vectors(index_dir: Path, embedder: Embedder) -> dict[str, np.ndarray]:
    """search_text hash -> vector from the active build, when it was embedded by the same embedder."""
    try:
        build = current_build(index_dir)
        meta = read_meta(build)
        if meta.embedder != embedder.name or meta.dim != embedder.dim:
            return {}
        previous = load_build(build, embedder.name, embedder.dim)
    except IndexError_ as error:
        log.info("kb.build.no_reuse", reason=str(error))
        return {}
    return {chunk.content_hash(): previous.vectors[i] for i, chunk in enumerate(previous.chunks)}


def embed_chunks(
    chunks: Sequence[Chunk], embedder: Embedder, reuse: dict[str, np.ndarray], progress: bool
) -> tuple[Vectors, int]:
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    todo: list[int] = []
    for i, chunk in enumerate(chunks):
        cached = reuse.get(chunk.content_hash())
        if cached is not None:
            vectors[i] = cached
        else:
            todo.append(i)
    with tqdm(total=len(todo), desc="embedding chunks", unit="chunk", disable=not progress or not todo) as bar:
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            vectors[batch] = embedder.embed_passages([chunks[i].search_text for i in batch])
            bar.update(len(batch))
    return vectors, len(todo)


def build_index(
    source: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    factory: str | None = None,
    progress: bool = True,
    force: bool = False,
    smoke_test: Callable[[Path], None] | None = None,
) -> BuildReport:
    """Builds ``source`` into ``index_dir`` and activates it. ``smoke_test(build_dir)`` may raise to refuse a
    build before it is activated (the default loads it and runs one search)."""
    started = datetime.now(UTC)
    loaded = load_source(source)
    chunks = chunk_documents(loaded.documents)
    factory = factory or choose_factory(len(chunks))
    languages: list[str] = sorted({c.lang for c in chunks})
    digest = corpus_hash(chunks, embedder.name, factory)
    index_dir.mkdir(parents=True, exist_ok=True)

    if not force:
        try:
            active = current_build(index_dir)
            active_meta = read_meta(active)
            if active_meta.corpus_hash == digest and active_meta.embedder == embedder.name:
                load_build(active, embedder.name, embedder.dim)  # up to date only if it also loads
                return BuildReport(
                    str(index_dir), active.name, True, len(loaded.documents), len(chunks), 0, len(chunks),
                    0.0, factory, embedder.name, languages, loaded.errors,
                )  # fmt: skip
        except IndexError_:
            pass

    vectors, embedded = embed_chunks(chunks, embedder, _previous_vectors(index_dir, embedder), progress)
    meta = IndexMeta(
        embedder=embedder.name,
        dim=embedder.dim,
        faiss_factory=factory,
        corpus_hash=digest,
        n_documents=len(loaded.documents),
        n_chunks=len(chunks),
        languages=list(languages),
        built_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        source=str(source),
    )
    build = write_build(index_dir, chunks, vectors, meta)
    try:
        (smoke_test or _default_smoke_test(embedder))(build)
    except Exception:
        shutil.rmtree(build, ignore_errors=True)  # never activated: nothing refers to it
        raise
    activate(index_dir, build)
    prune_builds(index_dir)
    seconds = (datetime.now(UTC) - started).total_seconds()
    log.info("kb.build.activated", build=build.name, chunks=len(chunks), embedded=embedded, seconds=round(seconds, 1))
    return BuildReport(
        str(index_dir), build.name, False, len(loaded.documents), len(chunks), embedded, len(chunks) - embedded,
        seconds, factory, embedder.name, languages, loaded.errors,
    )  # fmt: skip


def _default_smoke_test(embedder: Embedder) -> Callable[[Path], None]:
    def check(build: Path) -> None:
        from kb_index.search import Retriever

        loaded = load_build(build, embedder.name, embedder.dim)
        retriever = Retriever(loaded, embedder)
        first = loaded.chunks[0]
        response = retriever.search(first.title, lang=first.lang, k=1)
        if not response.hits:
            raise IndexError_(f"{build}: the new index returned nothing for one of its own titles")

    return check
