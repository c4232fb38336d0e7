"""Gateway configuration, read from the environment once when the app is created (never per request)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class GatewaySettings(BaseSettings):
    # Plain environment variables named like the fields (GATEWAY_HOST, REDIS_URL, ...), no prefix, no .env file:
    # zabota.stack and docker-compose.yml set the same names for every process.
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    redis_url: str = "redis://127.0.0.1:6379/0"
    rasa_url: str = "http://127.0.0.1:5005"
    # Required: Rasa runs with --enable-api --auth-token, and an API without the token is an open door.
    rasa_token: SecretStr
    rasa_timeout_seconds: float = Field(default=15.0, gt=0)
    max_message_chars: int = Field(default=4000, ge=1)
    redelivery_interval_seconds: float = Field(default=5.0, gt=0)
    log_level: LogLevel = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        # LOG_LEVEL=info is as common as LOG_LEVEL=INFO.
        return value.upper() if isinstance(value, str) else value
