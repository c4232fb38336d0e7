"""Test setup shared by this directory's tests."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/<dir>` does not put the repository root on sys.path: these directories have no __init__.py, on
# purpose (were tests/__init__.py ever removed, tests/zabota/__init__.py would make this directory the package
# `zabota`). The Makefile exports PYTHONPATH, a bare run does not; `pythonpath = ["."]` in pyproject.toml would
# make this redundant.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests import redis_isolation  # after the sys.path line above

# The real Redis, isolated per test (tests/redis_isolation.py): ``key_prefix`` (autouse) and ``redis``.
key_prefix = redis_isolation.key_prefix
redis = redis_isolation.redis
