"""Email through an SMTP server (aiosmtplib): documents and long texts the channel policy sends by email.

Environment variables (the gateway's settings read them; this module reads none):

- ``SMTP_HOST``, ``SMTP_PORT`` (587 for STARTTLS submission, 25 for a local relay).
- ``SMTP_USERNAME``, ``SMTP_PASSWORD``: empty username means no AUTH (a trusted relay).
- ``SMTP_FROM``: the sender, ``care@example.com`` or ``Забота <care@example.com>``.
- ``SMTP_STARTTLS``: true to require STARTTLS (the connection fails if the server does not offer it).
- ``SMTP_TIMEOUT_SECONDS``: optional, default 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

import aiosmtplib
import structlog
from pydantic import SecretStr

from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)


class EmailError(Exception):
    """The SMTP server did not take the message. ``reason`` is safe to log: no address, no text, no password."""

    def __init__(self, reason: str, *, smtp_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.smtp_code = smtp_code

    @property
    def retryable(self) -> bool:
        """No answer, or a 4xx (temporary) answer: the same message may go through later."""
        return self.smtp_code is None or 400 <= self.smtp_code < 500


class SmtpSettings(Protocol):
    """The settings fields ``SmtpEmail.from_settings`` reads (GatewaySettings once the lead wires them)."""

    @property
    def smtp_host(self) -> str | None: ...

    @property
    def smtp_port(self) -> int: ...

    @property
    def smtp_username(self) -> str | None: ...

    @property
    def smtp_password(self) -> SecretStr | None: ...

    @property
    def smtp_from(self) -> str | None: ...

    @property
    def smtp_starttls(self) -> bool: ...

    @property
    def smtp_timeout_seconds(self) -> float: ...


def _address(value: str) -> str | None:
    """The bare address of ``value`` (``Name <a@b>`` or ``a@b``), None when it is not one line with an @."""
    if "\r" in value or "\n" in value:
        return None
    address = parseaddr(value)[1]
    local, at, domain = address.rpartition("@")
    return address if at and local and "." in domain else None


@dataclass(frozen=True)
class _Auth:
    username: str
    password: str


class SmtpEmail:
    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        from_addr: str,
        starttls: bool,
        timeout: float = 10.0,
    ) -> None:
        sender = _address(from_addr)
        if not host or sender is None:
            raise ValueError("SMTP host and a valid sender address are required")
        self._host = host
        self._port = port
        self._auth = _Auth(username, password or "") if username else None
        self._from = from_addr.strip()
        self._domain = sender.rpartition("@")[2]
        self._starttls = starttls
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: SmtpSettings) -> SmtpEmail:
        if not settings.smtp_host or not settings.smtp_from:
            raise ValueError("SMTP_HOST and SMTP_FROM must be set")
        password = settings.smtp_password.get_secret_value() if settings.smtp_password is not None else None
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            password,
            settings.smtp_from,
            settings.smtp_starttls,
            settings.smtp_timeout_seconds,
        )

    def build_message(self, to: str, subject: str, text: str) -> EmailMessage:
        address = _address(to)
        if address is None:
            raise EmailError("invalid recipient address")
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = address
        message["Subject"] = " ".join(subject.split())
        message["Date"] = formatdate(localtime=False, usegmt=True)
        # An explicit domain: make_msgid would otherwise look up this host's FQDN (a DNS query).
        message["Message-ID"] = make_msgid(domain=self._domain)
        message.set_content(text, charset="utf-8")
        return message

    async def send(self, to: str, subject: str, text: str) -> str:
        """Send a plain-text email; return its Message-ID (``<...@domain>``)."""
        try:
            message = self.build_message(to, subject, text)
        except EmailError as exc:
            log.warning("email.send_failed", reason=exc.reason)
            raise
        message_id = str(message["Message-ID"])
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._auth.username if self._auth else None,
                password=self._auth.password if self._auth else None,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            error = EmailError(f"SMTP {exc.code}: {mask_for_log(exc.message)[:200]}", smtp_code=exc.code)
            log.warning("email.send_failed", reason=error.reason, smtp_code=exc.code)
            raise error from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({refusal.code for refusal in exc.recipients})
            error = EmailError(
                f"recipient refused (SMTP {', '.join(map(str, codes))})", smtp_code=codes[0] if codes else None
            )
            log.warning("email.send_failed", reason=error.reason, smtp_code=error.smtp_code)
            raise error from exc
        except TimeoutError as exc:  # aiosmtplib's connect and read timeouts are TimeoutErrors too
            error = EmailError("timeout")
            log.warning("email.send_failed", reason=error.reason)
            raise error from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Connection refused, timeout, no STARTTLS offered, TLS failure: the class name says which.
            error = EmailError(type(exc).__name__)
            log.warning("email.send_failed", reason=error.reason)
            raise error from exc
        log.info("email.sent", message_id=message_id, chars=len(text))
        return message_id
