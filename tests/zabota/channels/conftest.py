"""Test setup shared by this directory's tests."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/zabota/channels` does not put the repository root on sys.path (no __init__.py here, on purpose:
# see tests/zabota/conftest.py); `pythonpath = ["."]` in pyproject.toml does the same for a configured run.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
