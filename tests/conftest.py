"""The real stack for integration and browser tests: Redis, the trained Rasa model, the action server and the
gateway, started once per test session on their own ports and Redis databases (so a running `make run` is
untouched). The paid outside services are local fakes speaking their real APIs: Telegram's Bot API, Twilio's
SMS API, and an SMTP server. Defined here, at the root of tests/, so tests/integration and tests/browser share
one stack in one pytest run."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from tests import records_database
from tests.fakes.smtp_server import FakeSmtp, serve_smtp
from tests.fakes.telegram_api import DEFAULT_TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegram, serve_fake_telegram
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, serve_fake_twilio
from zabota.records import RecordsSettings
from zabota.stack import RedisLocation, Stack, StackSettings, free_port

# Databases of the system of record, created and dropped by the tests (tests/records_database.py): one fixture
# for the whole session, so its summary line names one place.
make_database = records_database.make_database

# Redis databases used only by the tests; flushed before the stack starts.
TEST_DB_APP = 14
TEST_DB_RASA = 13
TELEGRAM_SECRET = "telegram-webhook-secret-for-tests"


@dataclass(frozen=True)
class Fakes:
    telegram: FakeTelegram
    twilio: FakeTwilio
    smtp: FakeSmtp


@dataclass(frozen=True)
class Tokens:
    operator: str  # "anna", an operator
    lead: str  # "lena", a lead
    other_operator: str  # "boris", an operator
    voice: str


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    with serve_fake_telegram() as telegram, serve_fake_twilio() as twilio, serve_smtp() as smtp:
        yield Fakes(telegram, twilio, smtp)


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens(
        operator=secrets.token_urlsafe(16),
        lead=secrets.token_urlsafe(16),
        other_operator=secrets.token_urlsafe(16),
        voice=secrets.token_urlsafe(16),
    )


@pytest.fixture(scope="session")
def webchat_identity_secret() -> str:
    """WEBCHAT_IDENTITY_SECRET of the test stack's gateway, new for each run: what the company's website signs a
    logged-in customer's external_id with (zabota/site_identity.py), so a test can be that website."""
    return secrets.token_hex(32)  # the gateway takes at least 32 characters


def _operators_json(tokens: Tokens) -> str:
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    return json.dumps(
        [
            {"id": "anna", "name": "Анна", "role": "operator", "token_sha256": digest(tokens.operator)},
            {"id": "boris", "name": "Борис", "role": "operator", "token_sha256": digest(tokens.other_operator)},
            {"id": "lena", "name": "Елена", "role": "lead", "token_sha256": digest(tokens.lead)},
        ]
    )


@pytest.fixture(scope="session")
def stack(
    fakes: Fakes,
    tokens: Tokens,
    tmp_path_factory: pytest.TempPathFactory,
    make_database: Callable[[], RecordsSettings],
    webchat_identity_secret: str,
) -> Iterator[Stack]:
    base = RedisLocation.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    gateway_port = free_port()
    settings = StackSettings(
        redis_url=base.url(db=TEST_DB_APP),
        rasa_db=TEST_DB_RASA,
        gateway_port=gateway_port,
        rasa_port=free_port(),
        action_port=free_port(),
        voice_token=tokens.voice,
        # This run's own logs, so a test can read everything the processes wrote (and nothing older).
        log_dir=tmp_path_factory.mktemp("stack-logs"),
        extra_env={
            "ZABOTA_OPERATORS": _operators_json(tokens),
            # a system of record of the tests' own; the stack migrates it before the gateway starts
            "DATABASE_URL": make_database().url,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_BASE_URL": fakes.telegram.api_base_url,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "SMS_API_BASE_URL": fakes.twilio.url,
            "SMS_ACCOUNT_SID": ACCOUNT_SID,
            "SMS_AUTH_TOKEN": AUTH_TOKEN,
            "SMS_FROM_NUMBER": FROM_NUMBER,
            "SMTP_HOST": fakes.smtp.host,
            "SMTP_PORT": str(fakes.smtp.port),
            "SMTP_STARTTLS": "false",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}",
            # the website chat recognises a logged-in customer of the company's site by a token signed with it
            "WEBCHAT_IDENTITY_SECRET": webchat_identity_secret,
            # Tests send many messages from few senders; the limit itself is tested on its own.
            "RATE_LIMIT_PER_MINUTE": "600",
        },
    )
    stack = Stack(settings)
    stack.start_redis()  # may start a private redis-server when REDIS_URL does not answer
    for db in (TEST_DB_APP, TEST_DB_RASA):
        redis.Redis.from_url(RedisLocation.from_url(stack.redis_url).url(db=db)).flushdb()
    try:
        stack.start_actions()
        stack.start_rasa()
        stack.start_gateway()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.fixture()
def app_redis(stack: Stack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    yield client
    client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Says which database the system-of-record tests used (PostgreSQL when it answers, else SQLite)."""
    from tests.records_database import DATABASE_USED

    where = config.stash.get(DATABASE_USED, None)
    if where is not None:
        terminalreporter.write_line(f"system-of-record tests ran on {where}")
