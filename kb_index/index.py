"""The FAISS index as a build artefact: one directory per build, a metadata sidecar, and a CURRENT pointer.

Layout of an index directory::

    INDEX/CURRENT                      name of the active build (replaced atomically)
    INDEX/builds/<build>/meta.json     the sidecar: embedder, dimension, normalisation, FAISS factory, corpus
                                       hash, library versions, build time, checksums of the files below
    INDEX/builds/<build>/chunks.jsonl  the chunks, row i = FAISS id i
    INDEX/builds/<build>/vectors.npy   the chunk embeddings (float32, L2-normalised): exact re-scoring and
                                       incremental rebuilds
    INDEX/builds/<build>/<lang>.faiss  one FAISS index per language, ids = rows of chunks.jsonl

Loading checks the sidecar against the embedder the caller runs with (another embedder's vectors live in
another space: searching them would return confident nonsense) and every file against its checksum.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss  # type: ignore[import-untyped]
import numpy as np

from kb_index.chunking import Chunk
from kb_index.embedders import Vectors
from zabota.language import SUPPORTED, Language

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
BUILDS_DIR = "builds"
META_FILE = "meta.json"
CHUNKS_FILE = "chunks.jsonl"
VECTORS_FILE = "vectors.npy"

# Up to this many vectors an exact flat index is fast enough (a few ms) and needs no training; above it an
# approximate index, chosen by bench/kb_scale.py (docs/benchmarks.md): IVF over 8-bit scalar-quantised
# vectors, about 4·sqrt(n) lists, searched with IVF_NPROBE lists per query.
FLAT_MAX_VECTORS = 50_000
IVF_NPROBE = 16
# FAISS searches HNSW with efSearch 16 by default, which loses recall at scale; set when an index is loaded.
HNSW_EF_SEARCH = 128


class IndexError_(Exception):
    """Base of the index errors (named so as not to shadow the built-in IndexError)."""


class IndexNotFound(IndexError_):
    pass


class IndexMismatch(IndexError_):
    """The index was built with another embedder (or dimension) than the one searching it."""


class CorruptIndex(IndexError_):
    pass


def ivf_lists(n_vectors: int) -> int:
    """About 4·sqrt(n) inverted lists, a power of two (4096 at 1M): a few hundred vectors per list."""
    return int(2 ** max(4, round(math.log2(4 * math.sqrt(max(n_vectors, 1))))))


def choose_factory(n_vectors: int) -> str:
    if n_vectors <= FLAT_MAX_VECTORS:
        return "Flat"
    return f"IVF{ivf_lists(n_vectors)},SQ8"


def tune_for_search(index: Any) -> Any:
    """Search-time parameters that an index file does not carry (HNSW efSearch, IVF nprobe)."""
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else faiss.downcast_index(index)
    if hasattr(inner, "hnsw"):
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    ivf = faiss.try_extract_index_ivf(inner)
    if ivf is not None:
        ivf.nprobe = IVF_NPROBE
    return index


def library_versions() -> dict[str, str]:
    return {"faiss": faiss.__version__, "numpy": np.__version__, "python": platform.python_version()}


@dataclass
class IndexMeta:
    embedder: str
    dim: int
    faiss_factory: str
    corpus_hash: str
    n_documents: int
    n_chunks: int
    languages: list[str]
    built_at: str
    source: str
    normalised: bool = True
    metric: str = "inner_product"
    format_version: int = FORMAT_VERSION
    versions: dict[str, str] = field(default_factory=library_versions)
    # file name -> sha256, so a truncated or tampered file is refused instead of served
    checksums: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> IndexMeta:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("metadata is not a JSON object")
        known = set(cls.__dataclass_fields__)
        missing = {"embedder", "dim", "faiss_factory", "corpus_hash"} - raw.keys()
        if missing:
            raise ValueError(f"metadata lacks {sorted(missing)}")
        return cls(**{k: v for k, v in raw.items() if k in known})


def corpus_hash(chunks: list[Chunk], embedder: str, factory: str) -> str:
    digest = hashlib.sha256(f"{FORMAT_VERSION}|{embedder}|{factory}".encode())
    for chunk in chunks:
        digest.update(json.dumps([chunk.doc_key, chunk.url, chunk.heading, chunk.text, chunk.search_text]).encode())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_faiss(vectors: Vectors, ids: np.ndarray, factory: str) -> Any:
    dim = vectors.shape[1]
    index = faiss.index_factory(
        dim, factory if factory.startswith("IVF") else f"IDMap,{factory}", faiss.METRIC_INNER_PRODUCT
    )
    if not index.is_trained:
        index.train(vectors)
    index.add_with_ids(vectors, ids.astype(np.int64))
    return index


def chunk_to_json(chunk: Chunk) -> str:
    return json.dumps(asdict(chunk), ensure_ascii=False)


def chunk_from_json(line: str) -> Chunk:
    raw = json.loads(line)
    if raw.get("lang") not in SUPPORTED:
        raise ValueError(f"chunk with unsupported language {raw.get('lang')!r}")
    return Chunk(**raw)


@dataclass
class LoadedIndex:
    """One build, loaded: what the retriever searches."""

    path: Path
    meta: IndexMeta
    chunks: list[Chunk]
    vectors: Vectors
    faiss_by_lang: dict[Language, Any]


def write_build(
    index_dir: Path, chunks: list[Chunk], vectors: Vectors, meta: IndexMeta, build_name: str | None = None
) -> Path:
    """Writes a complete build next to the others; the CURRENT pointer is not touched (see ``activate``)."""
    builds = index_dir / BUILDS_DIR
    builds.mkdir(parents=True, exist_ok=True)
    name = build_name or f"{meta.built_at.replace(':', '').replace('-', '')}-{meta.corpus_hash[:10]}"
    # written under a temporary name and renamed: a half-written build is never visible under its name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=builds))
    with (tmp / CHUNKS_FILE).open("w", encoding="utf-8") as f:
        for chunk in chunks:
            f.write(chunk_to_json(chunk) + "\n")
    np.save(tmp / VECTORS_FILE, vectors, allow_pickle=False)
    ids = np.arange(len(chunks), dtype=np.int64)
    langs = np.array([c.lang for c in chunks])
    for lang in meta.languages:
        mask = langs == lang
        faiss.write_index(build_faiss(vectors[mask], ids[mask], meta.faiss_factory), str(tmp / f"{lang}.faiss"))
    files = [CHUNKS_FILE, VECTORS_FILE, *(f"{lang}.faiss" for lang in meta.languages)]
    meta.checksums = {name_: _sha256(tmp / name_) for name_ in files}
    (tmp / META_FILE).write_text(json.dumps(asdict(meta), indent=2, ensure_ascii=False), encoding="utf-8")
    final = builds / name
    if final.exists():  # the same corpus built twice within a second (a forced rebuild)
        final = builds / f"{name}-{tmp.name.rsplit('.', 1)[-1]}"
    os.replace(tmp, final)
    return final


def activate(index_dir: Path, build: Path) -> None:
    """Points CURRENT at ``build`` atomically (write a temporary file, then rename over the old one)."""
    fd, tmp = tempfile.mkstemp(prefix=".CURRENT.", dir=index_dir)
    with os.fdopen(fd, "w") as f:
        f.write(build.name + "\n")
    os.replace(tmp, index_dir / CURRENT_FILE)


def current_build(index_dir: Path) -> Path:
    pointer = index_dir / CURRENT_FILE
    if not pointer.is_file():
        raise IndexNotFound(f"no index at {index_dir} (no {CURRENT_FILE} file): build it with `make kb-build`")
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise CorruptIndex(f"{pointer}: invalid build name {name!r}")
    return index_dir / BUILDS_DIR / name


def read_meta(build: Path) -> IndexMeta:
    try:
        return IndexMeta.from_json((build / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CorruptIndex(f"{build}: no {META_FILE}") from error
    except (ValueError, TypeError) as error:
        raise CorruptIndex(f"{build}/{META_FILE}: {error}") from error


def load_build(build: Path, embedder_name: str, dim: int) -> LoadedIndex:
    """Loads and verifies one build; refuses another embedder's index and any corrupt file."""
    meta = read_meta(build)
    if meta.format_version != FORMAT_VERSION:
        raise IndexMismatch(f"{build}: index format {meta.format_version}, this code reads {FORMAT_VERSION}")
    if meta.embedder != embedder_name or meta.dim != dim:
        raise IndexMismatch(
            f"{build}: built with embedder {meta.embedder!r} ({meta.dim}-d), but the service embeds queries with "
            f"{embedder_name!r} ({dim}-d); rebuild the index with this embedder (make kb-build)"
        )
    for name, expected in meta.checksums.items():
        path = build / name
        if not path.is_file():
            raise CorruptIndex(f"{build}: {name} is missing")
        if _sha256(path) != expected:
            raise CorruptIndex(f"{build}: {name} does not match its checksum (truncated or modified)")
    try:
        with (build / CHUNKS_FILE).open(encoding="utf-8") as f:
            chunks = [chunk_from_json(line) for line in f if line.strip()]
        # memory-mapped: a large corpus's vectors stay in the page cache instead of the process's heap
        vectors = np.load(build / VECTORS_FILE, allow_pickle=False, mmap_mode="r")
        faiss_by_lang: dict[Language, Any] = {}
        for lang in meta.languages:
            if lang not in SUPPORTED:
                raise ValueError(f"unsupported language {lang!r}")
            faiss_by_lang[lang] = tune_for_search(faiss.read_index(str(build / f"{lang}.faiss")))  # type: ignore[index]
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        raise CorruptIndex(f"{build}: {error}") from error
    if vectors.shape != (len(chunks), dim) or vectors.dtype != np.float32:
        raise CorruptIndex(f"{build}: vectors {vectors.shape} {vectors.dtype} do not match {len(chunks)} chunks")
    if sum(int(index.ntotal) for index in faiss_by_lang.values()) != len(chunks):
        raise CorruptIndex(f"{build}: the FAISS indexes hold another number of vectors than there are chunks")
    return LoadedIndex(path=build, meta=meta, chunks=chunks, vectors=vectors, faiss_by_lang=faiss_by_lang)


def load_current(index_dir: Path, embedder_name: str, dim: int) -> LoadedIndex:
    return load_build(current_build(index_dir), embedder_name, dim)


def prune_builds(index_dir: Path, keep: int = 2) -> list[Path]:
    """Removes old builds, keeping the active one and the ``keep`` newest; returns what was removed."""
    builds_dir = index_dir / BUILDS_DIR
    if not builds_dir.is_dir():
        return []
    try:
        active = current_build(index_dir).name
    except IndexError_:
        active = ""
    builds = sorted(
        (p for p in builds_dir.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )
    removed = []
    for build in builds[:-keep] if keep else builds:
        if build.name != active:
            shutil.rmtree(build, ignore_errors=True)
            removed.append(build)
    return removed
