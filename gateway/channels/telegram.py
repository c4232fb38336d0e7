"""Telegram: the Bot API client, the webhook's update parsing and the rendering of bot replies.

Environment variables (the gateway's settings read them; this module reads none):

- ``TELEGRAM_BOT_TOKEN``: the bot's token from @BotFather (a secret: never logged, never in an error).
- ``TELEGRAM_API_BASE_URL``: default ``https://api.telegram.org`` (tests point it at a local fake).
- ``TELEGRAM_WEBHOOK_SECRET``: the ``secret_token`` given to setWebhook; Telegram sends it back in the
  ``X-Telegram-Bot-Api-Secret-Token`` header of every update (``secret_token_ok``).
- ``TELEGRAM_TIMEOUT_SECONDS``: optional, default 10.

Replies are sent as plain text (no ``parse_mode``), so nothing in a bot or operator text needs escaping; bot
buttons become an inline keyboard, one button per row, whose ``callback_data`` comes back as the text of the
next inbound update.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from gateway.rasa_client import BotReply, Button
from zabota.channels.phones import normalize_phone
from zabota.redaction import mask_for_log

log = structlog.get_logger(__name__)

DEFAULT_API_BASE_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT_UNITS = 4096  # sendMessage's limit, counted in UTF-16 code units like Telegram does
MAX_CALLBACK_DATA_BYTES = 64
# The text of a message that only carries buttons (Telegram requires a non-empty text).
BUTTONS_ONLY_TEXT = "👇"


class TelegramError(Exception):
    """The Bot API did not do it. ``reason`` is safe to log: no token, no message text, no phone."""

    def __init__(self, reason: str, *, error_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_code = error_code
        # Seconds Telegram asks to wait (HTTP 429 "Too Many Requests: retry after N").
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """A timeout, a connection error, 429 or a 5xx: the same request may succeed later."""
        return self.error_code is None or self.error_code == 429 or self.error_code >= 500

    @property
    def blocked(self) -> bool:
        """The user blocked the bot or deleted the chat (403): no message reaches them in Telegram."""
        return self.error_code == 403


# --- updates (the subset the webhook reads) -----------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class TgUser(_Model):
    id: int
    is_bot: bool = False
    first_name: str = ""
    language_code: str | None = None


class TgChat(_Model):
    id: int
    type: str


class TgContact(_Model):
    phone_number: str
    user_id: int | None = None


class TgMessage(_Model):
    message_id: int
    from_: TgUser | None = Field(default=None, alias="from")
    chat: TgChat
    date: int
    text: str | None = None
    caption: str | None = None
    contact: TgContact | None = None


class TgCallbackQuery(_Model):
    id: str
    from_: TgUser = Field(alias="from")
    message: TgMessage | None = None
    data: str | None = None


class TgUpdate(_Model):
    update_id: int
    message: TgMessage | None = None
    edited_message: TgMessage | None = None
    callback_query: TgCallbackQuery | None = None


@dataclass(frozen=True)
class TelegramInbound:
    """One customer message from Telegram, as the gateway needs it."""

    update_id: int
    user_id: int
    chat_id: int
    # The message text; for a button press the button's callback data (the bot's payload); "" for a contact.
    text: str
    message_id: int | None = None
    callback_query_id: str | None = None
    # E.164, only for the user's OWN number shared with the "share contact" button (contact.user_id == from.id).
    contact_phone: str | None = None
    first_name: str | None = None
    language_code: str | None = None


def parse_update(raw: dict[str, Any]) -> TelegramInbound | None:
    """The inbound message of a webhook update, or None for an update the bot does not answer.

    Ignored: edited messages, channel posts and other update kinds, messages outside private chats (a
    customer's data never goes to a group), messages from bots, media without a caption, a contact card of
    somebody else, button presses without data or without their message (inline mode). An update that is not
    Telegram's format is ignored too (and logged), since Telegram would only resend it.
    """
    try:
        update = TgUpdate.model_validate(raw)
    except ValidationError as exc:
        log.warning("telegram.update_invalid", errors=exc.error_count())
        return None
    if update.callback_query is not None:
        return _from_callback(update.update_id, update.callback_query)
    if update.message is not None:
        return _from_message(update.update_id, update.message)
    kind = next((key for key in raw if key != "update_id"), "none")
    log.debug("telegram.update_ignored", update_id=update.update_id, kind=kind)
    return None


def _from_callback(update_id: int, query: TgCallbackQuery) -> TelegramInbound | None:
    message = query.message
    if message is None or not query.data or message.chat.type != "private" or query.from_.is_bot:
        log.debug("telegram.update_ignored", update_id=update_id, kind="callback_query")
        return None
    return TelegramInbound(
        update_id=update_id,
        user_id=query.from_.id,
        chat_id=message.chat.id,
        text=query.data,
        message_id=message.message_id,
        callback_query_id=query.id,
        first_name=query.from_.first_name or None,
        language_code=query.from_.language_code,
    )


def _from_message(update_id: int, message: TgMessage) -> TelegramInbound | None:
    sender = message.from_
    if sender is None or sender.is_bot or message.chat.type != "private":
        log.debug("telegram.update_ignored", update_id=update_id, kind="message", chat_type=message.chat.type)
        return None
    contact_phone: str | None = None
    if message.contact is not None and message.contact.user_id == sender.id:
        number = message.contact.phone_number.strip()
        # Telegram sends the number in international form, mostly without the "+".
        contact_phone = normalize_phone(number if number.startswith("+") else "+" + number)
    text = message.text if message.text is not None else (message.caption or "")
    if not text.strip() and contact_phone is None:
        log.debug("telegram.update_ignored", update_id=update_id, kind="message_without_text")
        return None
    return TelegramInbound(
        update_id=update_id,
        user_id=sender.id,
        chat_id=message.chat.id,
        text=text,
        message_id=message.message_id,
        contact_phone=contact_phone,
        first_name=sender.first_name or None,
        language_code=sender.language_code,
    )


def secret_token_ok(header: str | None, expected: str) -> bool:
    """Whether the webhook's secret-token header is the configured one (constant time; no secret: refuse)."""
    if not expected or header is None:
        return False
    return hmac.compare_digest(header.encode("utf-8"), expected.encode("utf-8"))


# --- rendering ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TelegramOutgoing:
    text: str
    buttons: tuple[Button, ...] = ()


def utf16_units(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits ``max_bytes`` in UTF-8, never cutting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


_SPLITTERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\n[ \t]*\n\s*"), "\n\n"),  # paragraphs
    (re.compile(r"\n"), "\n"),  # lines
    (re.compile(r"(?<=[.!?…])\s+"), " "),  # sentences
    (re.compile(r"\s+"), " "),  # words
)


def _hard_cut(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    units = 0
    for ch in text:
        width = utf16_units(ch)
        if units + width > limit:
            pieces.append("".join(current))
            current, units = [], 0
        current.append(ch)
        units += width
    if current:
        pieces.append("".join(current))
    return pieces


def _split(text: str, limit: int, level: int) -> list[str]:
    if utf16_units(text) <= limit:
        return [text]
    if level >= len(_SPLITTERS):
        return _hard_cut(text, limit)
    pattern, joiner = _SPLITTERS[level]
    chunks: list[str] = []
    current = ""
    for part in pattern.split(text):
        if not part.strip():
            continue
        for piece in _split(part, limit, level + 1):
            candidate = current + joiner + piece if current else piece
            if utf16_units(candidate) <= limit:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-16 units, cut at paragraph boundaries where possible.

    A paragraph longer than the limit is cut at lines, then sentences, then words, and a single word longer
    than the limit (a very long URL) at the limit itself. Blank text gives no pieces.
    """
    stripped = text.strip()
    if not stripped:
        return []
    return [piece.strip() for piece in _split(stripped, limit, 0) if piece.strip()]


def render_replies(replies: Sequence[BotReply], limit: int = MAX_TEXT_UNITS) -> list[TelegramOutgoing]:
    """Rasa's replies as Telegram messages: plain text split to fit, each reply's buttons under its last piece.

    An image becomes its URL (Telegram shows a preview). Buttons of a reply without text go under the message
    before them, or under the next one when there is none; buttons with an empty title are dropped.
    """
    out: list[TelegramOutgoing] = []
    pending: list[Button] = []
    for reply in replies:
        texts = split_text(reply.text or "", limit)
        if reply.image:
            texts.append(reply.image)
        buttons = [button for button in reply.buttons if button.title.strip()]
        if not texts:
            if out:
                last = out[-1]
                out[-1] = TelegramOutgoing(last.text, (*last.buttons, *buttons))
            else:
                pending.extend(buttons)
            continue
        for text in texts[:-1]:
            out.append(TelegramOutgoing(text))
        out.append(TelegramOutgoing(texts[-1], (*pending, *buttons)))
        pending = []
    if pending:
        out.append(TelegramOutgoing(BUTTONS_ONLY_TEXT, tuple(pending)))
    return out


def callback_data(button: Button) -> str:
    """What pressing the button sends back: the payload (or the title), cut to Telegram's 64 bytes."""
    return truncate_utf8(button.payload or button.title, MAX_CALLBACK_DATA_BYTES)


# Buttons that are all short numbers (a survey's scale, 1-5 or 0-10) sit side by side, this many to a row; any
# other button has a row of its own, where its title has room.
SCALE_BUTTONS_PER_ROW = 6


def inline_keyboard(buttons: Sequence[Button]) -> dict[str, Any]:
    keys = [{"text": button.title, "callback_data": callback_data(button)} for button in buttons]
    if keys and all(button.title.isdigit() and len(button.title) <= 2 for button in buttons):
        rows = [keys[start : start + SCALE_BUTTONS_PER_ROW] for start in range(0, len(keys), SCALE_BUTTONS_PER_ROW)]
        return {"inline_keyboard": rows}
    return {"inline_keyboard": [[key] for key in keys]}


# --- the Bot API client -------------------------------------------------------------------------------------


class TelegramSettings(Protocol):
    """The settings fields ``TelegramBotApi.from_settings`` reads (GatewaySettings once the lead wires them)."""

    @property
    def telegram_bot_token(self) -> SecretStr | None: ...

    @property
    def telegram_api_base_url(self) -> str: ...

    @property
    def telegram_timeout_seconds(self) -> float: ...


class TelegramBotApi:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        if not token:
            raise ValueError("the Telegram bot token is empty")
        self._token = token
        # Creating the client does no I/O. The token is part of every path, so nothing here logs a URL (and
        # gateway.logs keeps httpx's own request logging at WARNING).
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    @classmethod
    def from_settings(cls, settings: TelegramSettings) -> TelegramBotApi:
        token = settings.telegram_bot_token
        if token is None or not token.get_secret_value():
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        return cls(settings.telegram_api_base_url, token.get_secret_value(), settings.telegram_timeout_seconds)

    async def send_message(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> int:
        """Send one plain-text message (``buttons`` as an inline keyboard); return Telegram's message id."""
        body: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if buttons:
            body["reply_markup"] = inline_keyboard(buttons)
        result = await self._call("sendMessage", body)
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if not isinstance(message_id, int):
            raise TelegramError("sendMessage: the result has no message_id")
        # The chat id is the person's Telegram id: its last digits tell log lines apart, the whole would identify them.
        log.info(
            "telegram.message_sent",
            chat=f"…{str(chat_id)[-3:]}",
            message_id=message_id,
            chars=len(text),
            buttons=len(buttons),
        )
        return message_id

    async def send_replies(self, chat_id: int, outgoing: Sequence[TelegramOutgoing]) -> list[int]:
        """Send ``render_replies``' messages in order; stops at the first failure (raised)."""
        return [await self.send_message(chat_id, message.text, message.buttons) for message in outgoing]

    async def answer_callback_query(self, callback_query_id: str, text: str | None = None) -> None:
        """Stop the button's loading spinner (Telegram expects it within seconds of the press)."""
        body: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            body["text"] = text
        await self._call("answerCallbackQuery", body)

    async def get_me(self) -> dict[str, Any]:
        """The bot's own user (a cheap check that the token works)."""
        result = await self._call("getMe", {})
        if not isinstance(result, dict):
            raise TelegramError("getMe: the result is not an object")
        return result

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, body: dict[str, Any]) -> Any:
        try:
            response = await self._http.post(f"/bot{self._token}/{method}", json=body)
        except httpx.TimeoutException as exc:
            raise self._failed(method, TelegramError(f"{method}: timeout")) from exc
        except httpx.HTTPError as exc:
            # The class name only: an httpx error may carry the request (and the token in its URL).
            raise self._failed(method, TelegramError(f"{method}: {type(exc).__name__}")) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            code = response.status_code if not response.is_success else None
            raise self._failed(
                method, TelegramError(f"{method}: HTTP {response.status_code}, not the Bot API's JSON", error_code=code)
            )
        if data.get("ok") is True and response.is_success:
            return data.get("result")
        error_code = data.get("error_code")
        code = error_code if isinstance(error_code, int) else response.status_code
        description = data.get("description")
        # Descriptions are Telegram's ("Bad Request: chat not found"), but some quote the request: mask them.
        said = mask_for_log(description)[:200] if isinstance(description, str) else "no description"
        parameters = data.get("parameters")
        retry_after: float | None = None
        if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int | float):
            retry_after = float(parameters["retry_after"])
        raise self._failed(method, TelegramError(f"{method}: {code} {said}", error_code=code, retry_after=retry_after))

    @staticmethod
    def _failed(method: str, error: TelegramError) -> TelegramError:
        log.warning(
            "telegram.request_failed",
            method=method,
            reason=error.reason,
            error_code=error.error_code,
            retry_after=error.retry_after,
        )
        return error
