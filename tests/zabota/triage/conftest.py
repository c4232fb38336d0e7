"""Test setup shared by this directory's tests: the repository root on sys.path, one detector for all."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# `pytest tests/<dir>` does not put the repository root on sys.path: these directories have no __init__.py, on
# purpose (were tests/__init__.py ever removed, tests/zabota/__init__.py would make this directory the package
# `zabota`). The Makefile exports PYTHONPATH, a bare run does not.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from zabota.triage.signals import SignalDetector


@pytest.fixture(scope="session")
def detector() -> SignalDetector:
    """Loading the spaCy pipelines takes seconds: the tests share one detector."""
    return SignalDetector()
