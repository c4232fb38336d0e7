"""What `python -m rasa_sdk --actions actions` finds, and the action server's settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rasa_sdk.executor import ActionExecutor

from actions import settings
from actions.settings import DEFAULT_REDIS_URL, ActionSettings, close_redis, get_redis

REPO = Path(__file__).resolve().parents[2]
ACTIONS = {
    "action_detect_language",
    "action_escalate",
    "action_answer_from_kb",
    "action_kb_feedback",
    "validate_account_number_form",
    "validate_outage_check_form",
    "validate_order_status_form",
    "validate_payment_missing_form",
}


def test_the_sdk_registers_every_action() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(executor.actions) >= ACTIONS


def test_importing_the_package_registers_every_action_in_a_fresh_interpreter() -> None:
    """The same in a new process, as the action server starts it: and no Redis client exists after the import."""
    code = (
        "from rasa_sdk.executor import ActionExecutor\n"
        "e = ActionExecutor(); e.register_package('actions')\n"
        "import actions.settings as s; assert s._redis is None\n"
        "print(' '.join(sorted(e.actions)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert set(result.stdout.split()) >= ACTIONS


def test_settings_from_the_environment() -> None:
    assert ActionSettings.from_env({}).redis_url == DEFAULT_REDIS_URL
    assert ActionSettings.from_env({"REDIS_URL": ""}).redis_url == DEFAULT_REDIS_URL
    assert ActionSettings.from_env({"REDIS_URL": "redis://redis:6379/2"}).redis_url == "redis://redis:6379/2"


async def test_the_redis_client_is_created_once_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://example.invalid:6390/3")
    await close_redis()
    try:
        client = get_redis()
        assert get_redis() is client
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("example.invalid", 6390, 3)
    finally:
        await close_redis()
    assert settings._redis is None
