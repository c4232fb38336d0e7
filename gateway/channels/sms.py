"""SMS through Twilio's REST API (Messages.json), and Twilio's inbound-SMS webhook.

Environment variables (the gateway's settings read them; this module reads none):

- ``SMS_API_BASE_URL``: default ``https://api.twilio.com`` (tests point it at a local fake).
- ``SMS_ACCOUNT_SID``: the account SID (``AC...``), the user of HTTP basic auth.
- ``SMS_AUTH_TOKEN``: the auth token (a secret): basic-auth password and the key of inbound signatures.
- ``SMS_FROM_NUMBER``: the sender number in E.164 (or an alphanumeric sender id where allowed).
- ``SMS_TIMEOUT_SECONDS``: optional, default 10.

Inbound SMS arrive as Twilio's form-encoded webhook signed with ``X-Twilio-Signature``: check it with
``signature_ok`` against the public URL Twilio called (scheme, host, path and query exactly as configured in
Twilio), then read the form with ``parse_inbound_sms``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog
from pydantic import SecretStr

from zabota.channels.phones import normalize_phone, phone_for_log
from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)

DEFAULT_API_BASE_URL = "https://api.twilio.com"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_BODY_CHARS = 1600  # Twilio refuses longer bodies (error 21617)
ELLIPSIS = "…"


class SmsError(Exception):
    """The provider did not take the message. ``reason`` is safe to log: no token, no number, no text."""

    def __init__(self, reason: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status  # the HTTP status, None for a timeout or a connection error
        self.code = code  # Twilio's error code (21211 invalid 'To' number, 20003 authentication, ...)

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class InvalidInboundSms(ValueError):
    """An inbound webhook form without the fields every Twilio SMS has."""


@dataclass(frozen=True)
class InboundSms:
    from_number: str  # E.164 where it is a phone number (it always is for SMS from a customer)
    to_number: str
    body: str
    message_sid: str


def truncate_body(body: str, limit: int = MAX_BODY_CHARS) -> str:
    """``body`` cut to ``limit`` characters, the last one an ellipsis when anything was cut."""
    if len(body) <= limit:
        return body
    return body[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


class SmsSettings(Protocol):
    """The settings fields ``TwilioSms.from_settings`` reads (GatewaySettings once the lead wires them)."""

    @property
    def sms_api_base_url(self) -> str: ...

    @property
    def sms_account_sid(self) -> str | None: ...

    @property
    def sms_auth_token(self) -> SecretStr | None: ...

    @property
    def sms_from_number(self) -> str | None: ...

    @property
    def sms_timeout_seconds(self) -> float: ...


class TwilioSms:
    def __init__(
        self, base_url: str, account_sid: str, auth_token: str, from_number: str, timeout: float = 10.0
    ) -> None:
        if not account_sid or not auth_token or not from_number:
            raise ValueError("the SMS account SID, auth token and sender number are all required")
        self._path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._from = normalize_phone(from_number) or from_number.strip()
        # No I/O until the first message; the auth token travels only in the Authorization header.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, auth=httpx.BasicAuth(account_sid, auth_token)
        )

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> TwilioSms:
        token = settings.sms_auth_token
        if not settings.sms_account_sid or token is None or not settings.sms_from_number:
            raise ValueError("SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM_NUMBER must all be set")
        return cls(
            settings.sms_api_base_url,
            settings.sms_account_sid,
            token.get_secret_value(),
            settings.sms_from_number,
            settings.sms_timeout_seconds,
        )

    async def send(self, to: str, body: str) -> str:
        """Send ``body`` (cut to 1600 characters) to ``to`` (any form ``normalize_phone`` reads); Twilio's SID."""
        number = normalize_phone(to)
        if number is None:
            raise self._failed(SmsError("invalid destination number"), to)
        if not body.strip():
            raise self._failed(SmsError("empty message body"), number)
        form = {"To": number, "From": self._from, "Body": truncate_body(body)}
        try:
            response = await self._http.post(self._path, data=form, headers={"Accept": "application/json"})
        except httpx.TimeoutException as exc:
            raise self._failed(SmsError("timeout"), number) from exc
        except httpx.HTTPError as exc:
            raise self._failed(SmsError(type(exc).__name__), number) from exc
        data = _json_object(response)
        if not response.is_success:
            raise self._failed(_error_from(response.status_code, data), number)
        sid = data.get("sid") if data is not None else None
        if not isinstance(sid, str) or not sid:
            raise self._failed(SmsError(f"HTTP {response.status_code} without a message sid"), number)
        log.info(
            "sms.sent",
            to=phone_for_log(number),
            sid=sid,
            status=data.get("status") if data else None,
            chars=len(form["Body"]),
            truncated=len(body) > MAX_BODY_CHARS,
        )
        return sid

    async def aclose(self) -> None:
        await self._http.aclose()

    @staticmethod
    def _failed(error: SmsError, to: str) -> SmsError:
        log.warning("sms.send_failed", reason=error.reason, status=error.status, code=error.code, to=phone_for_log(to))
        return error


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _error_from(status: int, data: Mapping[str, Any] | None) -> SmsError:
    if data is None:
        return SmsError(f"HTTP {status}", status=status)
    code = data.get("code")
    message = data.get("message")
    # Twilio's messages quote the numbers ("The 'To' number +7999... is not a valid phone number."): masked.
    said = mask_for_log(message)[:200] if isinstance(message, str) else "no message"
    return SmsError(f"HTTP {status} code {code}: {said}", status=status, code=code if isinstance(code, int) else None)


# --- inbound ------------------------------------------------------------------------------------------------


def twilio_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + each param's key+value, keys sorted))."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """``url`` as given, without its default port, and with it: Twilio signs whichever it was configured with."""
    parts = urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    if default_port is None or parts.hostname is None:
        return [url]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = userinfo + "@" if userinfo else ""
    variants = [url]
    if parts.port in (None, default_port):
        for netloc in (prefix + host, f"{prefix}{host}:{default_port}"):
            candidate = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
            if candidate not in variants:
                variants.append(candidate)
    return variants


def signature_ok(url: str, params: Mapping[str, str], auth_token: str, signature: str | None) -> bool:
    """Whether ``signature`` (the X-Twilio-Signature header) signs this request; constant-time comparisons."""
    if not signature or not auth_token:
        return False
    given = signature.encode("utf-8")
    matched = False
    for candidate in _url_variants(url):
        # Every variant is compared, so the time taken does not depend on which one matched.
        if hmac.compare_digest(twilio_signature(candidate, params, auth_token).encode("ascii"), given):
            matched = True
    return matched


def parse_inbound_sms(form: Mapping[str, str]) -> InboundSms:
    """The message of Twilio's inbound-SMS webhook form (From, To, Body, MessageSid)."""
    sender = (form.get("From") or "").strip()
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sender or not sid:
        raise InvalidInboundSms("the form lacks From or MessageSid")
    to = (form.get("To") or "").strip()
    return InboundSms(
        from_number=normalize_phone(sender) or sender,
        to_number=normalize_phone(to) or to,
        body=form.get("Body") or "",
        message_sid=sid,
    )
