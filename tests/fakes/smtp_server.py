"""A local SMTP server (aiosmtpd) that records what it receives, for the email adapter and integration tests.

``serve_smtp()`` runs aiosmtpd's Controller in its own thread and event loop on a free loopback port. It can
require AUTH (LOGIN/PLAIN over plain TCP, as a test relay may) and refuse chosen recipients with 550. Received
mail is kept as parsed ``email.message.Message`` objects next to the raw envelope.
"""

from __future__ import annotations

import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.fakes.http_server import free_port


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: Message


@dataclass
class FakeSmtp:
    host: str = "127.0.0.1"
    port: int = 0
    username: str | None = None
    password: str | None = None
    reject_recipients: set[str] = field(default_factory=set)
    _received: list[ReceivedMail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def received(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    @property
    def messages(self) -> list[Message]:
        return [mail.message for mail in self.received]


class _Handler:
    def __init__(self, fake: FakeSmtp) -> None:
        self._fake = fake

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        # AUTH is checked here rather than with aiosmtpd's auth_required, which warns on every connection
        # when TLS is not required too (a local test server has no certificate).
        if self._fake.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in {rejected.lower() for rejected in self._fake.reject_recipients}:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(envelope.content, bytes):
            raw = envelope.content
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw,
            message=email.message_from_bytes(raw),
        )
        with self._fake._lock:
            self._fake._received.append(mail)
        return "250 2.0.0 Ok: queued"


def _authenticator(fake: FakeSmtp) -> Any:
    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == fake.username and auth_data.password.decode() == fake.password
        # handled=False: aiosmtpd then answers 535 itself (True would mean "already answered": the client hangs).
        return AuthResult(success=ok, handled=False)

    return authenticate


@contextmanager
def serve_smtp(
    *, username: str | None = None, password: str | None = None, reject: set[str] | None = None
) -> Iterator[FakeSmtp]:
    """An SMTP server on 127.0.0.1; with ``username`` it requires AUTH before MAIL (530 otherwise)."""
    fake = FakeSmtp(port=free_port(), username=username, password=password, reject_recipients=set(reject or ()))
    kwargs: dict[str, Any] = {}
    if username is not None:
        kwargs.update(authenticator=_authenticator(fake), auth_require_tls=False)
    controller = Controller(_Handler(fake), hostname=fake.host, port=fake.port, **kwargs)
    controller.start()
    try:
        yield fake
    finally:
        controller.stop()
