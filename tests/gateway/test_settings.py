from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings

ENV_NAMES = (
    "GATEWAY_HOST",
    "GATEWAY_PORT",
    "REDIS_URL",
    "RASA_URL",
    "RASA_TOKEN",
    "RASA_TIMEOUT_SECONDS",
    "MAX_MESSAGE_CHARS",
    "REDELIVERY_INTERVAL_SECONDS",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_only_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    settings = GatewaySettings()  # type: ignore[call-arg]
    assert settings.gateway_host == "127.0.0.1"
    assert settings.gateway_port == 8000
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.rasa_url == "http://127.0.0.1:5005"
    assert settings.rasa_timeout_seconds == 15
    assert settings.max_message_chars == 4000
    assert settings.redelivery_interval_seconds == 5
    assert settings.log_level == "INFO"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    monkeypatch.setenv("GATEWAY_PORT", "9000")
    monkeypatch.setenv("REDIS_URL", "redis://example:6379/3")
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "100")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = GatewaySettings()  # type: ignore[call-arg]
    assert (settings.gateway_port, settings.redis_url, settings.max_message_chars) == (
        9000,
        "redis://example:6379/3",
        100,
    )
    assert settings.log_level == "DEBUG"


def test_token_is_required() -> None:
    with pytest.raises(ValidationError, match="rasa_token"):
        GatewaySettings()  # type: ignore[call-arg]


def test_token_never_shows_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    settings = GatewaySettings()  # type: ignore[call-arg]
    assert "s3cret" not in repr(settings)
    assert settings.rasa_token.get_secret_value() == "s3cret"


@pytest.mark.parametrize(
    ("name", "value"), [("GATEWAY_PORT", "0"), ("RASA_TIMEOUT_SECONDS", "-1"), ("LOG_LEVEL", "LOUD")]
)
def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        GatewaySettings()  # type: ignore[call-arg]


def test_site_identity_is_off_unless_a_long_enough_secret_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    monkeypatch.delenv("WEBCHAT_IDENTITY_SECRET", raising=False)
    assert GatewaySettings().webchat_identity_secret is None  # type: ignore[call-arg]
    monkeypatch.setenv("WEBCHAT_IDENTITY_SECRET", "")  # docker-compose passes an unset variable as empty
    assert GatewaySettings().webchat_identity_secret is None  # type: ignore[call-arg]
    monkeypatch.setenv("WEBCHAT_IDENTITY_SECRET", "k" * 32)
    secret = GatewaySettings().webchat_identity_secret  # type: ignore[call-arg]
    assert secret is not None and secret.get_secret_value() == "k" * 32
    monkeypatch.setenv("WEBCHAT_IDENTITY_SECRET", "too-short-secret")
    with pytest.raises(ValidationError, match="webchat_identity_secret") as refused:
        GatewaySettings()  # type: ignore[call-arg]
    assert "too-short-secret" not in str(refused.value)  # a refused secret is never echoed
