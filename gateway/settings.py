"""Gateway configuration, read from the environment once when the app is created (never per request)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
MIN_IDENTITY_SECRET_CHARS = 32


class GatewaySettings(BaseSettings):
    # Plain environment variables named like the fields (GATEWAY_HOST, REDIS_URL, ...), no prefix, no .env file:
    # zabota.stack and docker-compose.yml set the same names for every process.
    # hide_input_in_errors: a refused value is never echoed in the start-up error (it may be a secret).
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, hide_input_in_errors=True)

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    redis_url: str = "redis://127.0.0.1:6379/0"
    # The system of record (zabota/records): sqlite:///path or postgresql://...; empty: the embedded SQLite file
    # .run/zabota.sqlite3. Migrated by `make db-upgrade` (the stack does it before starting the gateway).
    database_url: str = ""
    # The deployment's project (brand), for the tone rules' `project` condition (zabota/tone/rules.yml).
    zabota_project: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    # Required: Rasa runs with --enable-api --auth-token, and an API without the token is an open door.
    rasa_token: SecretStr
    rasa_timeout_seconds: float = Field(default=15.0, gt=0)
    max_message_chars: int = Field(default=4000, ge=1)
    redelivery_interval_seconds: float = Field(default=5.0, gt=0)
    log_level: LogLevel = "INFO"

    # Abuse protection: messages one sender may send per minute (each channel counts its own senders).
    rate_limit_per_minute: int = Field(default=20, ge=1)
    # Where customers' times are shown ("a person will answer by 14:35").
    timezone: str = "Europe/Moscow"
    # The phone number offered for a call-back in urgent sensitive chat cases (kb/FACTS.md).
    care_phone: str = "8 800 100-20-30"
    # The gateway's public base URL, as the SMS provider calls it (its webhook signature covers the URL).
    public_base_url: str = "http://127.0.0.1:8000"

    # Operators: a JSON list of {"id", "name", "role": "operator"|"lead", "token_sha256"}; tokens are never
    # stored, only their SHA-256. Empty: nobody can log in to the console.
    zabota_operators: str = "[]"

    # Telegram: the bot's token, the Bot API's base URL (a local fake in tests) and the webhook's secret token
    # (setWebhook's secret_token; Telegram sends it in X-Telegram-Bot-Api-Secret-Token). No token: the channel
    # is off and its webhook answers 503.
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_webhook_secret: SecretStr | None = None

    # The website chat's signed identity (zabota/site_identity.py): the secret the company's website signs its
    # logged-in customer's external_id with, so the widget's visitor is that customer. Unset (or empty, as
    # docker-compose passes an unset variable): off, and a message carrying a token is refused with a reason.
    # At least 32 characters (`openssl rand -hex 32`): the secret is all that stands between a forger and
    # any customer's conversation.
    webchat_identity_secret: SecretStr | None = None

    # SMS provider (Twilio's REST API format). No account: SMS is off (voice answers say nothing was sent).
    sms_api_base_url: str = "https://api.twilio.com"
    sms_account_sid: str | None = None
    sms_auth_token: SecretStr | None = None
    sms_from_number: str | None = None

    # Email by SMTP. No host: email is off.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "care@zabota.example"
    smtp_starttls: bool = True

    # The call-centre platform's token for POST /api/v1/voice/events (Authorization: Bearer). No token: the
    # voice endpoint answers 503.
    voice_api_token: SecretStr | None = None
    # The company's other systems trigger outreach with this token (POST /api/v1/outreach/events); unset: off.
    outreach_api_token: SecretStr | None = None
    # How often the outreach sender looks for messages whose time has come.
    outreach_interval_seconds: float = Field(default=5.0, gt=0)

    # The events ingester (zabota/events/ingest.py): moves the events stream into the system of record's events
    # table. Off only where another process ingests (one ingester per gateway process is the default); the
    # stream keeps the events meanwhile, and an ingester started later catches up.
    events_ingest: bool = True
    # Entries one ingester round reads and writes in one transaction.
    events_ingest_batch_size: int = Field(default=500, ge=1, le=10_000)

    # Outside calls (Telegram, SMS, SMTP) must not hold a customer's request for long.
    telegram_timeout_seconds: float = Field(default=10.0, gt=0)
    sms_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)

    @field_validator("webchat_identity_secret", mode="before")
    @classmethod
    def _identity_secret(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or raw == "":
            return None
        if isinstance(raw, str) and len(raw) < MIN_IDENTITY_SECRET_CHARS:
            raise ValueError(f"at least {MIN_IDENTITY_SECRET_CHARS} characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        # LOG_LEVEL=info is as common as LOG_LEVEL=INFO.
        return value.upper() if isinstance(value, str) else value
