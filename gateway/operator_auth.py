"""Operators and their tokens: who may use the operator API and console, and in which role.

Operators are configured in ``ZABOTA_OPERATORS`` (JSON) with the SHA-256 of their personal token, never the
token itself, so the configuration can be read without granting access. Requests carry the token as
``Authorization: Bearer <token>``; the console's WebSocket sends it as its first frame (never in the URL,
which ends up in access logs).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError

from gateway.errors import ApiError

Role = Literal["operator", "lead"]


class OperatorEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = Field(min_length=1, max_length=100)
    role: Role = "operator"
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


_ENTRIES = TypeAdapter(list[OperatorEntry])


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    role: Role

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class OperatorDirectory:
    def __init__(self, entries: list[OperatorEntry]) -> None:
        ids = [entry.id for entry in entries]
        if len(ids) != len(set(ids)):
            raise ValueError("ZABOTA_OPERATORS lists an operator id twice")
        self._entries = entries

    @classmethod
    def from_json(cls, raw: str) -> OperatorDirectory:
        """Raises ``ValueError`` naming what is wrong (the gateway refuses to start with a broken list)."""
        try:
            return cls(_ENTRIES.validate_python(json.loads(raw or "[]")))
        except (ValueError, ValidationError) as exc:
            raise ValueError(f"ZABOTA_OPERATORS is not a valid operator list: {exc}") from None

    def authenticate(self, token: str) -> Operator | None:
        digest = token_digest(token)
        found: Operator | None = None
        for entry in self._entries:
            # Compare with every entry, in constant time each, so timing tells nothing about which matched.
            if hmac.compare_digest(digest, entry.token_sha256):
                found = Operator(entry.id, entry.name, entry.role)
        return found

    def name_of(self, operator_id: str) -> str | None:
        return next((entry.name for entry in self._entries if entry.id == operator_id), None)

    def __len__(self) -> int:
        return len(self._entries)


def require_service_token(
    expected: SecretStr | None, authorization: str | None, *, off_error: str, off_detail: str, who: str
) -> None:
    """A route for another system (the call-centre platform, the company's outreach triggers): 503 when its
    token is not configured (the route is off), 401 unless the request carries that token as a bearer token."""
    if expected is None:
        raise ApiError(503, off_error, off_detail)
    token = bearer_token(authorization) or ""
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise ApiError(401, "unauthorized", f"send the {who} token as 'Authorization: Bearer <token>'")


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_operator_from(directory: OperatorDirectory, authorization: str | None) -> Operator:
    token = bearer_token(authorization)
    if token is None:
        raise ApiError(401, "unauthorized", "send the operator token as 'Authorization: Bearer <token>'")
    operator = directory.authenticate(token)
    if operator is None:
        raise ApiError(401, "unauthorized", "the operator token is not valid")
    return operator
