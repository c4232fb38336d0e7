"""A local Telegram Bot API, and builders of REAL update payloads for the webhook.

``serve_fake_telegram()`` runs a server that answers POST (or GET) ``/bot<token>/<method>`` for sendMessage,
answerCallbackQuery and getMe the way api.telegram.org does: the same envelope (``{"ok": true, "result": ...}``
or ``{"ok": false, "error_code": ..., "description": ...}``), the same checks and error texts for the fields the
project sends, JSON or form bodies. It records every call and can be told to fail (``fail_next``).

The update builders copy the exact JSON shape Telegram posts to a webhook (private chats, ``from``/``chat``/
``date``/``entities``, a callback query with its message and keyboard, a shared contact), so the webhook is
tested with what production receives.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http_server import QuietHandler, serve

DEFAULT_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
BOT_USERNAME = "zabota_test_bot"
_TOKEN_SHAPE = re.compile(r"^\d+:[\w-]{30,}$")
MAX_TEXT_UNITS = 4096
MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True)
class TelegramCall:
    method: str  # as Telegram names it: "sendMessage", "answerCallbackQuery", "getMe"
    params: dict[str, Any]
    status: int  # what the fake answered


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None


@dataclass
class FakeTelegram:
    token: str = DEFAULT_TOKEN
    url: str = ""
    # Chats that exist (None: any chat id is a chat); chats whose user blocked the bot.
    known_chats: set[int] | None = None
    blocked_chats: set[int] = field(default_factory=set)
    # Seconds to wait before answering (timeouts).
    delay_seconds: float = 0.0
    _calls: list[TelegramCall] = field(default_factory=list)
    _failures: deque[_Failure] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))

    @property
    def api_base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL should be: the client adds ``/bot<token>/<method>``."""
        return self.url

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])

    @property
    def calls(self) -> list[TelegramCall]:
        with self._lock:
            return list(self._calls)

    def sent_messages(self) -> list[dict[str, Any]]:
        """The params of every sendMessage that succeeded, in order."""
        return [call.params for call in self.calls if call.method == "sendMessage" and call.status == 200]

    def answered_callbacks(self) -> list[str]:
        return [
            str(call.params.get("callback_query_id"))
            for call in self.calls
            if call.method == "answerCallbackQuery" and call.status == 200
        ]

    def fail_next(
        self, status: int = 500, description: str | None = None, *, retry_after: int | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls with this error (429 adds ``parameters.retry_after``)."""
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after or 1}",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(status, "Bad Request")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure(status, description, retry_after))

    def _record(self, method: str, params: dict[str, Any], status: int) -> None:
        with self._lock:
            self._calls.append(TelegramCall(method, params, status))

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _next_message_id(self) -> int:
        with self._lock:
            return next(self._message_ids)


def _error(status: int, description: str, retry_after: int | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, body


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_keyboard(markup: Any) -> str | None:
    """Telegram's complaint about a reply_markup, or None when it is a valid inline keyboard."""
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            return "Bad Request: can't parse reply keyboard markup JSON object"
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        return "Bad Request: can't parse reply keyboard markup JSON object"
    for row in markup["inline_keyboard"]:
        if not isinstance(row, list):
            return "Bad Request: can't parse reply keyboard markup JSON object"
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                return 'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String'
            if not button["text"].strip():
                return "Bad Request: BUTTON_TEXT_INVALID"
            actions = [
                key for key in ("callback_data", "url", "switch_inline_query", "web_app", "pay") if key in button
            ]
            if not actions:
                return (
                    "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and (
                not isinstance(data, str) or not data or len(data.encode("utf-8")) > MAX_CALLBACK_BYTES
            ):
                return "Bad Request: BUTTON_DATA_INVALID"
    return None


def _send_message(fake: FakeTelegram, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    chat_id = params.get("chat_id")
    if chat_id in (None, ""):
        return _error(400, "Bad Request: chat_id is empty")
    try:
        chat = int(chat_id)
    except (TypeError, ValueError):
        return _error(400, "Bad Request: chat not found")
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        return _error(400, "Bad Request: message text is empty")
    if _utf16_len(text) > MAX_TEXT_UNITS:
        return _error(400, "Bad Request: message is too long")
    if "parse_mode" in params and params["parse_mode"] not in ("Markdown", "MarkdownV2", "HTML", ""):
        return _error(400, f'Bad Request: unsupported parse_mode "{params["parse_mode"]}"')
    if fake.known_chats is not None and chat not in fake.known_chats:
        return _error(400, "Bad Request: chat not found")
    if chat in fake.blocked_chats:
        return _error(403, "Forbidden: bot was blocked by the user")
    result: dict[str, Any] = {
        "message_id": fake._next_message_id(),
        "from": {"id": fake.bot_id, "is_bot": True, "first_name": "Zabota", "username": BOT_USERNAME},
        "chat": {"id": chat, "first_name": "Test", "type": "private"},
        "date": int(time.time()),
        "text": text,
    }
    if "reply_markup" in params:
        problem = _check_keyboard(params["reply_markup"])
        if problem:
            return _error(400, problem)
        markup = params["reply_markup"]
        result["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
    return 200, {"ok": True, "result": result}


def _answer_callback_query(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if not params.get("callback_query_id"):
        return _error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
    return 200, {"ok": True, "result": True}


def _get_me(fake: FakeTelegram) -> tuple[int, dict[str, Any]]:
    return 200, {
        "ok": True,
        "result": {
            "id": fake.bot_id,
            "is_bot": True,
            "first_name": "Zabota",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        },
    }


def _handler(fake: FakeTelegram) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            self._handle(self.read_body())

        def _params(self, body: bytes) -> dict[str, Any] | None:
            params: dict[str, Any] = dict(parse_qsl(urlsplit(self.path).query))
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if not body:
                return params
            if content_type == "application/json":
                try:
                    data = json.loads(body)
                except ValueError:
                    return None
                if not isinstance(data, dict):
                    return None
                params.update(data)
            elif content_type == "application/x-www-form-urlencoded":
                params.update(parse_qsl(body.decode("utf-8")))
            return params

        def _handle(self, body: bytes) -> None:
            if fake.delay_seconds:
                time.sleep(fake.delay_seconds)
            match = re.fullmatch(r"/bot([^/]*)/([A-Za-z]+)", urlsplit(self.path).path)
            if match is None or not _TOKEN_SHAPE.match(match.group(1)):
                self.send_json(*_error(404, "Not Found"))
                return
            token, method = match.groups()
            if token != fake.token:
                self.send_json(*_error(401, "Unauthorized"))
                return
            known = {"sendmessage": "sendMessage", "answercallbackquery": "answerCallbackQuery", "getme": "getMe"}
            name = known.get(method.lower())
            if name is None:
                self.send_json(*_error(404, "Not Found"))
                return
            params = self._params(body)
            if params is None:
                status, payload = _error(400, "Bad Request: can't parse JSON object")
                fake._record(name, {}, status)
                self.send_json(status, payload)
                return
            failure = fake._take_failure()
            if failure is not None:
                status, payload = _error(failure.status, failure.description, failure.retry_after)
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else None
                fake._record(name, params, status)
                self.send_json(status, payload, headers)
                return
            if name == "sendMessage":
                status, payload = _send_message(fake, params)
            elif name == "answerCallbackQuery":
                status, payload = _answer_callback_query(params)
            else:
                status, payload = _get_me(fake)
            fake._record(name, params, status)
            self.send_json(status, payload)

    return Handler


@contextmanager
def serve_fake_telegram(token: str = DEFAULT_TOKEN) -> Iterator[FakeTelegram]:
    fake = FakeTelegram(token=token)
    with serve(_handler(fake)) as url:
        fake.url = url
        yield fake


# --- real update payloads -----------------------------------------------------------------------------------

_update_ids = itertools.count(734_516_001)
_message_ids = itertools.count(501)
_URL_IN_TEXT = re.compile(r"https?://\S+")


def tg_user(
    user_id: int = 287_456_113,
    first_name: str = "Анна",
    last_name: str | None = "Петрова",
    username: str | None = "anna_petrova",
    language_code: str | None = "ru",
    is_bot: bool = False,
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name is not None:
        user["last_name"] = last_name
    if username is not None:
        user["username"] = username
    if language_code is not None:
        user["language_code"] = language_code
    return user


def private_chat(user: dict[str, Any]) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": user["id"], "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if key in user:
            chat[key] = user[key]
    chat["type"] = "private"
    return chat


def _entities(text: str) -> list[dict[str, Any]]:
    """Telegram's entities for commands and URLs, offsets and lengths in UTF-16 units."""
    entities: list[dict[str, Any]] = []
    command = re.match(r"/[A-Za-z0-9_]+(?:@\w+)?", text)
    if command:
        entities.append({"offset": 0, "length": _utf16_len(command.group(0)), "type": "bot_command"})
    for match in _URL_IN_TEXT.finditer(text):
        offset = _utf16_len(text[: match.start()])
        entities.append({"offset": offset, "length": _utf16_len(match.group(0)), "type": "url"})
    return entities


def message_payload(
    user: dict[str, Any] | None = None,
    *,
    text: str | None = None,
    chat: dict[str, Any] | None = None,
    message_id: int | None = None,
    date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    user = user or tg_user()
    message: dict[str, Any] = {
        "message_id": message_id if message_id is not None else next(_message_ids),
        "from": user,
        "chat": chat or private_chat(user),
        "date": date if date is not None else int(time.time()),
    }
    if text is not None:
        message["text"] = text
        entities = _entities(text)
        if entities:
            message["entities"] = entities
    message.update(extra)
    return message


def text_update(text: str, user: dict[str, Any] | None = None, *, update_id: int | None = None) -> dict[str, Any]:
    """A customer's text message in the private chat with the bot (``/start`` carries its bot_command entity)."""
    return {"update_id": update_id or next(_update_ids), "message": message_payload(user, text=text)}


def callback_update(
    data: str,
    user: dict[str, Any] | None = None,
    *,
    message_text: str = "Помогло?",
    buttons: list[tuple[str, str]] | None = None,
    update_id: int | None = None,
    query_id: str | None = None,
) -> dict[str, Any]:
    """A press of an inline button under a message the bot sent earlier."""
    user = user or tg_user()
    keyboard = buttons or [("Да", data)]
    bot_message = {
        "message_id": next(_message_ids),
        "from": {"id": 7_012_345_678, "is_bot": True, "first_name": "Zabota", "username": BOT_USERNAME},
        "chat": private_chat(user),
        "date": int(time.time()) - 30,
        "text": message_text,
        "reply_markup": {
            "inline_keyboard": [[{"text": title, "callback_data": payload}] for title, payload in keyboard]
        },
    }
    return {
        "update_id": update_id or next(_update_ids),
        "callback_query": {
            "id": query_id or str(1_234_567_890_123_456_789 + next(_message_ids)),
            "from": user,
            "message": bot_message,
            "chat_instance": "-5373894587203471920",
            "data": data,
        },
    }


def contact_update(
    phone_number: str = "79161234567",
    user: dict[str, Any] | None = None,
    *,
    contact_user_id: int | None = None,
    update_id: int | None = None,
) -> dict[str, Any]:
    """The customer pressed "share my contact" (``contact_user_id`` = the sender) or forwarded someone's card."""
    user = user or tg_user()
    contact: dict[str, Any] = {"phone_number": phone_number, "first_name": user["first_name"]}
    if "last_name" in user:
        contact["last_name"] = user["last_name"]
    contact["user_id"] = user["id"] if contact_user_id is None else contact_user_id
    return {"update_id": update_id or next(_update_ids), "message": message_payload(user, contact=contact)}


def edited_update(text: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
    message = message_payload(user, text=text)
    message["edit_date"] = message["date"] + 5
    return {"update_id": next(_update_ids), "edited_message": message}


def group_update(text: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
    chat = {"id": -1_001_987_654_321, "title": "Соседи", "type": "supergroup"}
    return {"update_id": next(_update_ids), "message": message_payload(user, text=text, chat=chat)}


def photo_update(caption: str | None = None, user: dict[str, Any] | None = None) -> dict[str, Any]:
    photo = [
        {
            "file_id": "AgACAgIAAxkBAAIBZ2Zx",
            "file_unique_id": "AQADq7gxG",
            "file_size": 1364,
            "width": 90,
            "height": 67,
        },
        {
            "file_id": "AgACAgIAAxkBAAIBZ2Zy",
            "file_unique_id": "AQADq7gxH",
            "file_size": 48213,
            "width": 800,
            "height": 600,
        },
    ]
    extra: dict[str, Any] = {"photo": photo}
    if caption is not None:
        extra["caption"] = caption
    return {"update_id": next(_update_ids), "message": message_payload(user, **extra)}


def sticker_update(user: dict[str, Any] | None = None) -> dict[str, Any]:
    sticker = {
        "width": 512,
        "height": 512,
        "emoji": "👍",
        "set_name": "HotCherry",
        "is_animated": True,
        "is_video": False,
        "type": "regular",
        "file_id": "CAACAgIAAxkBAAIBaGZx",
        "file_unique_id": "AgADkAADlp-MDg",
        "file_size": 24213,
    }
    return {"update_id": next(_update_ids), "message": message_payload(user, sticker=sticker)}
