"""Fixtures for the channel adapters: the fake Telegram, Twilio and SMTP servers over real sockets."""

from __future__ import annotations

import sys
from pathlib import Path

# `pytest tests/gateway/channels` does not put the repository root on sys.path (no __init__.py here, on purpose:
# see tests/gateway/conftest.py); `pythonpath = ["."]` in pyproject.toml does the same for a configured run.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from collections.abc import Iterator

import pytest

from tests.fakes.smtp_server import FakeSmtp, serve_smtp
from tests.fakes.telegram_api import FakeTelegram, serve_fake_telegram
from tests.fakes.twilio_api import FakeTwilio, serve_fake_twilio


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with serve_fake_telegram() as fake:
        yield fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with serve_fake_twilio() as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with serve_smtp() as fake:
        yield fake
