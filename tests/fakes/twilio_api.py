"""A local Twilio Messages API, and Twilio's inbound-SMS webhook as Twilio sends it.

``serve_fake_twilio()`` answers ``POST /2010-04-01/Accounts/<AccountSid>/Messages.json`` like api.twilio.com:
HTTP basic auth (account SID : auth token), a form-encoded body with To / From / Body, 201 with the message
resource (``sid`` "SM...", ``status`` "queued"), and Twilio's error bodies ``{code, message, more_info, status}``
for the checks it makes (missing or invalid numbers, empty or too long body, a sender that is not the account's).

``inbound_sms_form`` builds the form Twilio posts for a received SMS; ``sign`` computes its X-Twilio-Signature
(written here independently of the adapter, from Twilio's documented algorithm).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http_server import QuietHandler, serve

ACCOUNT_SID = "AC3f2b7c0d9e8a41f6b5c4d3e2f1a0b9c8"
AUTH_TOKEN = "9b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e"
FROM_NUMBER = "+15005550006"
API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_message_counter = itertools.count(1)


def _message_sid() -> str:
    return "SM" + hashlib.md5(f"{time.time_ns()}-{next(_message_counter)}".encode()).hexdigest()


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class _Failure:
    status: int
    code: int
    message: str


@dataclass
class FakeTwilio:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    from_number: str = FROM_NUMBER
    url: str = ""
    delay_seconds: float = 0.0
    _messages: list[dict[str, Any]] = field(default_factory=list)
    _requests: int = 0
    _failures: deque[_Failure] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The message resources created (what the 201 answered), oldest first."""
        with self._lock:
            return list(self._messages)

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._requests

    def fail_next(
        self, status: int = 500, code: int = 20500, message: str = "Internal Server Error", times: int = 1
    ) -> None:
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure(status, code, message))

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            self._requests += 1
            return self._failures.popleft() if self._failures else None

    def _create(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return 400, twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender and not form.get("MessagingServiceSid"):
            return 400, twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body and not form.get("MediaUrl"):
            return 400, twilio_error(400, 21602, "Message body is required.")
        if not _E164.match(to):
            return 400, twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if sender != self.from_number:
            return 400, twilio_error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone number or short code "
                "for your account.",
            )
        if len(body) > MAX_BODY_CHARS:
            return 400, twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        sid = _message_sid()
        now = formatdate(usegmt=True)
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(body) // 70))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self._messages.append(resource)
        return 201, resource


def _handler(fake: FakeTwilio) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def _authorized(self) -> bool:
            header = self.headers.get("Authorization") or ""
            scheme, _, encoded = header.partition(" ")
            if scheme.lower() != "basic":
                return False
            try:
                user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return user == fake.account_sid and hmac.compare_digest(password, fake.auth_token)

        def do_GET(self) -> None:
            self._answer(None)

        def do_POST(self) -> None:
            self._answer(self.read_body())

        def _answer(self, body: bytes | None) -> None:
            if fake.delay_seconds:
                time.sleep(fake.delay_seconds)
            path = urlsplit(self.path).path
            if not self._authorized():
                self.send_json(
                    401, twilio_error(401, 20003, "Authenticate"), {"WWW-Authenticate": 'Basic realm="Twilio API"'}
                )
                return
            match = re.fullmatch(rf"/{API_VERSION}/Accounts/([^/]+)/Messages\.json", path)
            if match is None or match.group(1) != fake.account_sid:
                self.send_json(404, twilio_error(404, 20404, f"The requested resource {path} was not found"))
                return
            if body is None:
                self.send_json(405, twilio_error(405, 20004, "Method not allowed"))
                return
            failure = fake._take_failure()
            if failure is not None:
                self.send_json(failure.status, twilio_error(failure.status, failure.code, failure.message))
                return
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            form = dict(parse_qsl(body.decode("utf-8"))) if content_type == "application/x-www-form-urlencoded" else {}
            self.send_json(*fake._create(form))

    return Handler


@contextmanager
def serve_fake_twilio(
    account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, from_number: str = FROM_NUMBER
) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token, from_number=from_number)
    with serve(_handler(fake)) as url:
        fake.url = url
        yield fake


# --- inbound webhook ----------------------------------------------------------------------------------------


def sign(url: str, params: Mapping[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature of a POST to ``url`` with form ``params``, as Twilio computes it."""
    data = url
    for key in sorted(params):
        data += key + params[key]
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def inbound_sms_form(
    from_number: str = "+79161234567",
    body: str = "Не работает интернет",
    *,
    to_number: str = FROM_NUMBER,
    account_sid: str = ACCOUNT_SID,
) -> dict[str, str]:
    """The form Twilio posts to the messaging webhook for a received SMS (all the fields it sends)."""
    sid = _message_sid()
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "RU" if from_number.startswith("+7") else "US",
        "To": to_number,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_number,
        "ApiVersion": API_VERSION,
    }


def signed_inbound(
    url: str, form: Mapping[str, str], auth_token: str = AUTH_TOKEN
) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, form) of Twilio's webhook request to ``url``, for ``client.post(url, data=form, headers=headers)``."""
    headers = {
        "X-Twilio-Signature": sign(url, form, auth_token),
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": "b3a7c1c6-5d0e-4c8e-9a55-6b1e2f3d4c5b",
    }
    return headers, dict(form)
