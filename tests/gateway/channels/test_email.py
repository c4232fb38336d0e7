"""The SMTP adapter against a local aiosmtpd server over real SMTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from email.header import decode_header, make_header

import pytest
from structlog.testing import capture_logs

from gateway.channels.email import EmailError, SmtpEmail
from tests.fakes.http_server import free_port
from tests.fakes.smtp_server import FakeSmtp, serve_smtp

FROM = "Забота <care@zabota.example>"


def mailer(smtp: FakeSmtp, **overrides: object) -> SmtpEmail:
    values: dict[str, object] = {
        "host": smtp.host,
        "port": smtp.port,
        "username": None,
        "password": None,
        "from_addr": FROM,
        "starttls": False,
        "timeout": 2.0,
    }
    values.update(overrides)
    return SmtpEmail(**values)  # type: ignore[arg-type]


async def test_send_plain_text_email(smtp: FakeSmtp) -> None:
    text = "Здравствуйте!\n\nДетализация за март во вложении не нужна: вот она текстом.\nИтого: 650 ₽."
    message_id = await mailer(smtp).send("anna@example.com", "Детализация\nза март", text)
    (mail,) = smtp.received
    assert mail.rcpt_tos == ("anna@example.com",)
    assert mail.mail_from == "care@zabota.example"
    message = mail.message
    assert message["Message-ID"] == message_id
    assert message_id.startswith("<") and message_id.endswith("@zabota.example>")
    assert str(make_header(decode_header(message["Subject"]))) == "Детализация за март"  # no header injection
    assert str(make_header(decode_header(message["From"]))) == FROM
    assert message["To"] == "anna@example.com"
    assert message.get_content_type() == "text/plain"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.decode(message.get_content_charset() or "utf-8").rstrip("\n") == text


async def test_auth() -> None:
    with serve_smtp(username="bot", password="s3cret") as smtp:
        await mailer(smtp, username="bot", password="s3cret").send("anna@example.com", "Тема", "Текст")
        assert len(smtp.received) == 1
        with pytest.raises(EmailError) as caught:
            await mailer(smtp, username="bot", password="wrong").send("anna@example.com", "Тема", "Текст")
        assert caught.value.smtp_code == 535
        assert "wrong" not in caught.value.reason
        with pytest.raises(EmailError) as caught:
            await mailer(smtp).send("anna@example.com", "Тема", "Текст")  # no AUTH at all
        assert caught.value.smtp_code == 530
        assert len(smtp.received) == 1


async def test_refused_recipient_is_not_logged() -> None:
    with serve_smtp(reject={"gone@example.com"}) as smtp, capture_logs() as logs, pytest.raises(EmailError) as caught:
        await mailer(smtp).send("gone@example.com", "Тема", "Текст")
    assert caught.value.smtp_code == 550 and not caught.value.retryable
    assert "gone@" not in json.dumps(logs, default=str) + caught.value.reason
    assert smtp.received == []


@pytest.mark.parametrize("address", ["not-an-address", "anna@localhost", "anna@example.com\r\nBcc: x@example.com", ""])
async def test_invalid_recipient(smtp: FakeSmtp, address: str) -> None:
    with pytest.raises(EmailError, match="invalid recipient"):
        await mailer(smtp).send(address, "Тема", "Текст")
    assert smtp.received == []


async def test_starttls_required_but_not_offered(smtp: FakeSmtp) -> None:
    with pytest.raises(EmailError) as caught:
        await mailer(smtp, starttls=True).send("anna@example.com", "Тема", "Текст")
    assert caught.value.reason == "SMTPException"
    assert smtp.received == []


async def test_connection_refused() -> None:
    email = SmtpEmail("127.0.0.1", free_port(), None, None, FROM, False, 2.0)
    with pytest.raises(EmailError) as caught:
        await email.send("anna@example.com", "Тема", "Текст")
    assert caught.value.reason == "SMTPConnectError" and caught.value.retryable


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (no SMTP banner)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        yield sock.getsockname()[1]


async def test_timeout(silent_server: int) -> None:
    email = SmtpEmail("127.0.0.1", silent_server, None, None, FROM, False, 0.3)
    with pytest.raises(EmailError) as caught:
        await email.send("anna@example.com", "Тема", "Текст")
    assert caught.value.reason == "timeout" and caught.value.retryable


async def test_logs_carry_the_message_id_only(smtp: FakeSmtp) -> None:
    with capture_logs() as logs:
        message_id = await mailer(smtp).send("anna@example.com", "Договор", "Номер договора 123456789")
    (entry,) = logs
    assert entry == {"event": "email.sent", "log_level": "info", "message_id": message_id, "chars": 24}
    assert "anna" not in json.dumps(logs, default=str)


def test_constructor_checks_the_sender() -> None:
    with pytest.raises(ValueError):
        SmtpEmail("smtp.example.com", 587, None, None, "no address", True, 1.0)
    with pytest.raises(ValueError):
        SmtpEmail("", 587, None, None, "care@example.com", True, 1.0)
