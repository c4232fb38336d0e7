"""The Telegram adapter against a local Bot API over real HTTP, and update parsing on real update payloads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from gateway.channels.telegram import (
    BUTTONS_ONLY_TEXT,
    MAX_TEXT_UNITS,
    TelegramBotApi,
    TelegramError,
    TelegramOutgoing,
    callback_data,
    inline_keyboard,
    parse_update,
    render_replies,
    secret_token_ok,
    split_text,
    truncate_utf8,
    utf16_units,
)
from gateway.rasa_client import BotReply, Button
from tests.fakes.http_server import QuietHandler, closed_url, serve
from tests.fakes.telegram_api import (
    FakeTelegram,
    callback_update,
    contact_update,
    edited_update,
    group_update,
    photo_update,
    sticker_update,
    text_update,
    tg_user,
)


@pytest.fixture
async def api(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramBotApi]:
    client = TelegramBotApi(fake_telegram.api_base_url, fake_telegram.token, timeout=2.0)
    try:
        yield client
    finally:
        await client.aclose()


# --- parse_update --------------------------------------------------------------------------------------------


def test_text_message_is_parsed() -> None:
    user = tg_user(user_id=555_001, first_name="Анна", language_code="ru")
    update = text_update("Не работает интернет", user)
    inbound = parse_update(update)
    assert inbound is not None
    assert inbound.update_id == update["update_id"]
    assert (inbound.user_id, inbound.chat_id) == (555_001, 555_001)
    assert inbound.text == "Не работает интернет"
    assert inbound.message_id == update["message"]["message_id"]
    assert inbound.first_name == "Анна"
    assert inbound.language_code == "ru"
    assert inbound.callback_query_id is None
    assert inbound.contact_phone is None


def test_start_command_keeps_its_text() -> None:
    update = text_update("/start")
    assert update["message"]["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    inbound = parse_update(update)
    assert inbound is not None and inbound.text == "/start"


def test_button_press_gives_the_payload_as_text() -> None:
    update = callback_update('/inform{"plan":"max"}', tg_user(user_id=42, language_code="en"))
    inbound = parse_update(update)
    assert inbound is not None
    assert inbound.text == '/inform{"plan":"max"}'
    assert inbound.callback_query_id == update["callback_query"]["id"]
    assert inbound.chat_id == 42
    assert inbound.message_id == update["callback_query"]["message"]["message_id"]
    assert inbound.language_code == "en"


def test_own_contact_gives_a_verified_phone() -> None:
    user = tg_user(user_id=777)
    inbound = parse_update(contact_update("79161234567", user))
    assert inbound is not None
    assert inbound.contact_phone == "+79161234567"
    assert inbound.text == ""


def test_contact_with_plus_is_normalised_too() -> None:
    inbound = parse_update(contact_update("+44 7700 900123", tg_user(user_id=778)))
    assert inbound is not None and inbound.contact_phone == "+447700900123"


def test_somebody_elses_contact_is_not_the_customers_phone() -> None:
    assert parse_update(contact_update("79161234567", tg_user(user_id=777), contact_user_id=999)) is None
    # A card of a person without Telegram has no user_id at all.
    update = contact_update("79161234567", tg_user(user_id=777))
    del update["message"]["contact"]["user_id"]
    assert parse_update(update) is None


def test_photo_caption_is_the_text() -> None:
    inbound = parse_update(photo_update(caption="вот такая ошибка"))
    assert inbound is not None and inbound.text == "вот такая ошибка"


@pytest.mark.parametrize(
    "update",
    [
        edited_update("исправленный текст"),
        group_update("привет всем"),
        sticker_update(),
        photo_update(),
        text_update("я бот", tg_user(is_bot=True)),
        text_update("   "),
        {"update_id": 1, "my_chat_member": {"chat": {"id": 1, "type": "private"}}},
    ],
    ids=["edited", "group", "sticker", "photo", "from-bot", "blank", "member-update"],
)
def test_updates_the_bot_does_not_answer(update: dict[str, object]) -> None:
    assert parse_update(update) is None


def test_callback_without_message_or_data_is_ignored() -> None:
    update = callback_update("/affirm")
    del update["callback_query"]["message"]  # inline mode: only inline_message_id
    update["callback_query"]["inline_message_id"] = "AAAAAKx"
    assert parse_update(update) is None
    update = callback_update("/affirm")
    del update["callback_query"]["data"]  # a game button
    assert parse_update(update) is None


def test_garbage_is_ignored_and_logged_without_content() -> None:
    with capture_logs() as logs:
        assert parse_update({"message": {"text": "+79161234567"}}) is None
        assert parse_update({"update_id": "x", "message": []}) is None
    assert [entry["event"] for entry in logs] == ["telegram.update_invalid", "telegram.update_invalid"]
    assert "79161234567" not in json.dumps(logs, default=str)


def test_secret_token() -> None:
    assert secret_token_ok("s3cr3t-token_A", "s3cr3t-token_A")
    assert not secret_token_ok("s3cr3t-token_B", "s3cr3t-token_A")
    assert not secret_token_ok(None, "s3cr3t-token_A")
    assert not secret_token_ok("", "s3cr3t-token_A")
    # No secret configured: nothing is authentic.
    assert not secret_token_ok("", "")
    assert not secret_token_ok("anything", "")
    assert secret_token_ok("секрет", "секрет")


# --- rendering -----------------------------------------------------------------------------------------------


def test_split_keeps_short_text_whole() -> None:
    assert split_text("Привет!\n\nКак дела?") == ["Привет!\n\nКак дела?"]
    assert split_text("   \n ") == []


def test_split_at_paragraph_boundaries() -> None:
    paragraphs = [f"Абзац {n}. " + "слово " * 150 for n in range(20)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(utf16_units(chunk) <= MAX_TEXT_UNITS for chunk in chunks)
    # Every chunk is whole paragraphs, and nothing is lost or reordered.
    assert "\n\n".join(chunks) == text
    for chunk in chunks:
        assert chunk.startswith("Абзац ")


def test_split_long_paragraph_at_lines_then_words_then_hard() -> None:
    lines = "\n".join(f"{n}. " + ("шаг " * 100).strip() for n in range(30))
    chunks = split_text(lines, limit=1000)
    assert all(utf16_units(chunk) <= 1000 for chunk in chunks)
    assert "\n".join(chunks) == lines
    word = "x" * 2500
    assert split_text(word, limit=1000) == ["x" * 1000, "x" * 1000, "x" * 500]


def test_split_counts_utf16_units_like_telegram() -> None:
    emoji = "😀" * 3000  # 6000 UTF-16 units, 3000 code points
    chunks = split_text(emoji)
    assert [utf16_units(chunk) for chunk in chunks] == [4096, 1904]
    assert "".join(chunks) == emoji


def test_render_plain_text_with_buttons_on_the_last_piece() -> None:
    long_text = "\n\n".join("Пункт " + "текст " * 300 for _ in range(5))
    replies = [
        BotReply(text="Здравствуйте! Вот *что* можно сделать_:"),
        BotReply(
            text=long_text, buttons=[Button(title="Помогло", payload="/affirm"), Button(title="Нет", payload="/deny")]
        ),
    ]
    out = render_replies(replies)
    assert out[0] == TelegramOutgoing("Здравствуйте! Вот *что* можно сделать_:")  # no escaping, no Markdown
    assert len(out) > 2
    assert all(message.buttons == () for message in out[:-1])
    assert [b.payload for b in out[-1].buttons] == ["/affirm", "/deny"]
    assert all(utf16_units(message.text) <= MAX_TEXT_UNITS for message in out)


def test_render_buttons_without_text_and_images() -> None:
    out = render_replies(
        [
            BotReply(text="Выберите тариф"),
            BotReply(buttons=[Button(title="Макс", payload="/choose_max"), Button(title="  ", payload="/x")]),
            BotReply(image="https://zabota.example/img/router.png"),
        ]
    )
    assert out == [
        TelegramOutgoing("Выберите тариф", (Button(title="Макс", payload="/choose_max"),)),
        TelegramOutgoing("https://zabota.example/img/router.png"),
    ]
    only_buttons = render_replies([BotReply(buttons=[Button(title="Да", payload="/affirm")])])
    assert only_buttons == [TelegramOutgoing(BUTTONS_ONLY_TEXT, (Button(title="Да", payload="/affirm"),))]
    assert render_replies([]) == []
    assert render_replies([BotReply(custom={"handoff": True})]) == []


def test_callback_data_is_cut_safely_to_64_bytes() -> None:
    assert callback_data(Button(title="Да", payload="/affirm")) == "/affirm"
    assert callback_data(Button(title="Позвоните мне")) == "Позвоните мне"
    long_payload = '/inform{"tariff":"' + "ж" * 60 + '"}'
    data = callback_data(Button(title="Тариф", payload=long_payload))
    assert len(data.encode("utf-8")) <= 64
    assert long_payload.startswith(data)
    # A two-byte letter is never cut in half.
    assert truncate_utf8("a" + "ж" * 40, 64) == "a" + "ж" * 31


# --- the Bot API client --------------------------------------------------------------------------------------


async def test_send_message_with_keyboard(api: TelegramBotApi, fake_telegram: FakeTelegram) -> None:
    buttons = [Button(title="Да", payload="/affirm"), Button(title="Соединить с оператором")]
    message_id = await api.send_message(287_456_113, "Помогло?", buttons)
    assert message_id >= 1001
    (sent,) = fake_telegram.sent_messages()
    assert sent == {
        "chat_id": 287_456_113,
        "text": "Помогло?",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "Да", "callback_data": "/affirm"}],
                [{"text": "Соединить с оператором", "callback_data": "Соединить с оператором"}],
            ]
        },
    }
    assert "parse_mode" not in sent


async def test_long_payloads_are_accepted_by_telegram(api: TelegramBotApi, fake_telegram: FakeTelegram) -> None:
    payload = '/inform{"address":"' + "улица " * 20 + '"}'
    await api.send_message(1, "Адрес верный?", [Button(title="Да", payload=payload)])
    (sent,) = fake_telegram.sent_messages()
    assert len(sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"].encode()) <= 64


async def test_send_rendered_replies(api: TelegramBotApi, fake_telegram: FakeTelegram) -> None:
    text = "\n\n".join(f"Шаг {n}: " + ("сделайте это " * 60).strip() for n in range(1, 12))
    out = render_replies([BotReply(text=text, buttons=[Button(title="Готово", payload="/affirm")])])
    ids = await api.send_replies(5, out)
    assert len(ids) == len(out) > 1
    assert ids == sorted(ids)
    sent = fake_telegram.sent_messages()
    assert "\n\n".join(m["text"] for m in sent) == text
    assert "reply_markup" in sent[-1] and all("reply_markup" not in m for m in sent[:-1])


async def test_empty_text_is_telegrams_bad_request(api: TelegramBotApi) -> None:
    with pytest.raises(TelegramError) as caught:
        await api.send_message(1, "  ")
    assert caught.value.error_code == 400
    assert "message text is empty" in caught.value.reason
    assert not caught.value.retryable


async def test_too_long_text_is_refused(api: TelegramBotApi) -> None:
    with pytest.raises(TelegramError, match="message is too long"):
        await api.send_message(1, "я" * (MAX_TEXT_UNITS + 1))


async def test_blocked_user(api: TelegramBotApi, fake_telegram: FakeTelegram) -> None:
    fake_telegram.blocked_chats.add(13)
    with pytest.raises(TelegramError) as caught:
        await api.send_message(13, "Здравствуйте")
    assert caught.value.blocked and caught.value.error_code == 403


async def test_unknown_chat(api: TelegramBotApi, fake_telegram: FakeTelegram) -> None:
    fake_telegram.known_chats = {1}
    with pytest.raises(TelegramError, match="chat not found"):
        await api.send_message(2, "Здравствуйте")


async def test_rate_limit_carries_retry_after(api: TelegramBotApi, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next(429, retry_after=7)
    with pytest.raises(TelegramError) as caught:
        await api.send_message(1, "Здравствуйте")
    assert caught.value.error_code == 429
    assert caught.value.retry_after == 7.0
    assert caught.value.retryable
    # The next call goes through.
    assert await api.send_message(1, "Здравствуйте") > 0


async def test_server_error_is_retryable(api: TelegramBotApi, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next(500)
    with pytest.raises(TelegramError) as caught:
        await api.send_message(1, "Здравствуйте")
    assert caught.value.error_code == 500 and caught.value.retryable


async def test_wrong_token_never_shows_the_token(fake_telegram: FakeTelegram) -> None:
    wrong = "7012345678:AAWrongWrongWrongWrongWrongWrong000"
    client = TelegramBotApi(fake_telegram.api_base_url, wrong, timeout=2.0)
    try:
        with capture_logs() as logs, pytest.raises(TelegramError) as caught:
            await client.send_message(1, "Здравствуйте, мой номер +7 916 123-45-67")
    finally:
        await client.aclose()
    assert caught.value.error_code == 401
    dumped = json.dumps(logs, default=str) + str(caught.value)
    assert wrong not in dumped and "AAWrong" not in dumped
    assert "123-45-67" not in dumped and "Здравствуйте" not in dumped


async def test_timeout(fake_telegram: FakeTelegram) -> None:
    fake_telegram.delay_seconds = 1.0
    client = TelegramBotApi(fake_telegram.api_base_url, fake_telegram.token, timeout=0.2)
    try:
        with pytest.raises(TelegramError) as caught:
            await client.send_message(1, "Здравствуйте")
    finally:
        await client.aclose()
    assert caught.value.reason == "sendMessage: timeout"
    assert caught.value.retryable


async def test_connection_refused_hides_the_token(fake_telegram: FakeTelegram) -> None:
    client = TelegramBotApi(closed_url(), fake_telegram.token, timeout=2.0)
    try:
        with pytest.raises(TelegramError) as caught:
            await client.send_message(1, "Здравствуйте")
    finally:
        await client.aclose()
    assert caught.value.reason == "sendMessage: ConnectError"
    assert caught.value.error_code is None and caught.value.retryable
    assert fake_telegram.token not in str(caught.value)


async def test_a_proxy_page_instead_of_the_api() -> None:
    class BadGateway(QuietHandler):
        def do_POST(self) -> None:
            self.read_body()
            body = b"<html><body>502 Bad Gateway</body></html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve(BadGateway) as url:
        client = TelegramBotApi(url, "1:" + "a" * 35, timeout=2.0)
        try:
            with pytest.raises(TelegramError) as caught:
                await client.send_message(1, "Здравствуйте")
        finally:
            await client.aclose()
    assert caught.value.error_code == 502 and caught.value.retryable
    assert "not the Bot API's JSON" in caught.value.reason


async def test_answer_callback_query_and_get_me(api: TelegramBotApi, fake_telegram: FakeTelegram) -> None:
    await api.answer_callback_query("1234567890123456789")
    assert fake_telegram.answered_callbacks() == ["1234567890123456789"]
    with pytest.raises(TelegramError, match="query is too old"):
        await api.answer_callback_query("")
    me = await api.get_me()
    assert me["is_bot"] is True and me["id"] == fake_telegram.bot_id


async def test_logs_carry_ids_not_text(api: TelegramBotApi) -> None:
    with capture_logs() as logs:
        await api.send_message(287456113, "Ваш номер договора 123456789, телефон +79161234567")
    (entry,) = logs
    assert entry["event"] == "telegram.message_sent"
    assert entry["chat"] == "…113"  # enough to tell chats apart, not the person's Telegram id
    dumped = json.dumps(logs, default=str)
    assert "123456789" not in dumped and "79161234567" not in dumped and "договора" not in dumped
    assert "287456113" not in dumped


def test_constructor_does_no_io_and_wants_a_token() -> None:
    TelegramBotApi(closed_url(), "1:abc", timeout=1.0)  # nothing listens there: no error until a call
    with pytest.raises(ValueError):
        TelegramBotApi("https://api.telegram.org", "", timeout=1.0)


def test_from_settings() -> None:
    from pydantic import SecretStr

    class Settings:
        telegram_bot_token: SecretStr | None = SecretStr("1:abc")
        telegram_api_base_url = "https://api.telegram.org"
        telegram_timeout_seconds = 5.0

    assert isinstance(TelegramBotApi.from_settings(Settings()), TelegramBotApi)
    Settings.telegram_bot_token = None
    with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
        TelegramBotApi.from_settings(Settings())


def test_a_scale_of_numbers_sits_in_rows_and_other_buttons_one_a_row() -> None:
    """A survey's 0-10 in two rows of six and five, not eleven rows; "Да"/"Нет" each on its own row."""
    scale = inline_keyboard([Button(title=str(n), payload=f"/score{n}") for n in range(11)])["inline_keyboard"]
    assert [[key["text"] for key in row] for row in scale] == [
        ["0", "1", "2", "3", "4", "5"],
        ["6", "7", "8", "9", "10"],
    ]
    words = inline_keyboard([Button(title="Да", payload="/affirm"), Button(title="Нет", payload="/deny")])
    assert [[key["text"] for key in row] for row in words["inline_keyboard"]] == [["Да"], ["Нет"]]
