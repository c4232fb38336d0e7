"""A sensitive case from the customer's message to the operator and back to the bot, over the real API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import Tokens
from tests.integration.stack_kit import auth, customer_of, eventually, handoff_of, reply_text, say
from zabota import redis_keys
from zabota.stack import Stack

pytestmark = pytest.mark.integration

CARD = "4276 3800 1234 5679"  # Luhn-valid


def queue_item(gateway: httpx.Client, token: str, handoff_id: str) -> dict | None:  # type: ignore[type-arg]
    items = gateway.get("/api/v1/operator/queue", headers=auth(token)).json()["items"]
    return next((item for item in items if item["handoff_id"] == handoff_id), None)


def test_operator_api_needs_a_token(gateway: httpx.Client) -> None:
    assert gateway.get("/api/v1/operator/queue").status_code == 401
    assert gateway.get("/api/v1/operator/queue", headers=auth("wrong")).status_code == 401
    assert gateway.post("/api/v1/operator/handoffs/h-1/claim").status_code == 401


def test_sensitive_case_reaches_an_operator_and_goes_back_to_the_bot(
    gateway: httpx.Client, tokens: Tokens, app_redis: redis.Redis, stack: Stack
) -> None:
    sender = f"it-op-{uuid.uuid4().hex[:8]}"
    first = say(gateway, sender, "здравствуйте, у меня не работает интернет")
    assert reply_text(first)
    text = f"бывший муж угрожает мне и пишет с моего номера, он знает мою карту {CARD}"
    body = say(gateway, sender, text)
    replies = reply_text(body)
    assert "специалист" in replies.lower()  # told that a person answers, and when
    assert "8 800 100-20-30" in replies  # urgent sensitive chat: the care line / call-back offered

    customer = customer_of(app_redis, f"web:{sender}")
    record = handoff_of(app_redis, customer)
    handoff_id = record["handoff_id"]
    summary = record["summary"]
    assert summary["priority"] in ("p1", "p2")
    assert summary["sensitive"] is True
    assert {"sensitive_signal", "sensitive_intent"} & {reason["code"] for reason in summary["reasons"]}
    assert summary["next_step"]
    assert any("угрожает" in line["text"] for line in summary["problem"])
    assert "1234 5679" not in json.dumps(record, ensure_ascii=False)

    item = eventually(lambda: queue_item(gateway, tokens.operator, handoff_id), what="handoff in the queue")
    assert item["state"] == "queued" and item["sensitive"] is True

    # While the handoff waits, the customer's messages go to the operators, not to the bot.
    held = say(gateway, sender, "вы тут? мне страшно")
    # told once (in the formal tone of a sensitive case), the bot stays silent
    assert "ваше сообщение передано специалисту" in reply_text(held).lower()
    assert say(gateway, sender, "алло")["replies"] == []

    detail = gateway.get(f"/api/v1/operator/handoffs/{handoff_id}", headers=auth(tokens.operator)).json()
    assert any(entry.get("text") == "вы тут? мне страшно" for entry in detail["history"])
    assert detail["handoff"]["summary"]["handoff_id"] == handoff_id

    claimed = gateway.post(f"/api/v1/operator/handoffs/{handoff_id}/claim", headers=auth(tokens.operator))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["handoff"]["assignee"] == "anna"
    # Another operator cannot take it over; replying to someone else's handoff is forbidden.
    assert (
        gateway.post(f"/api/v1/operator/handoffs/{handoff_id}/claim", headers=auth(tokens.other_operator)).status_code
        == 409
    )
    forbidden = gateway.post(
        f"/api/v1/operator/handoffs/{handoff_id}/reply", json={"text": "x"}, headers=auth(tokens.other_operator)
    )
    assert forbidden.status_code == 403

    reply = gateway.post(
        f"/api/v1/operator/handoffs/{handoff_id}/reply",
        json={"text": "Здравствуйте, я Анна, помогу. Вы сейчас в безопасности?"},
        headers=auth(tokens.operator),
    )
    assert reply.status_code == 200, reply.text
    note = gateway.post(
        f"/api/v1/operator/handoffs/{handoff_id}/note",
        json={"text": "проверить SIM-своп"},
        headers=auth(tokens.operator),
    )
    assert note.status_code == 200

    history = gateway.get(f"/api/v1/webchat/{sender}/history").json()["messages"]
    roles = [(entry["role"], entry.get("text") or "") for entry in history]
    assert ("operator", "Здравствуйте, я Анна, помогу. Вы сейчас в безопасности?") in roles
    assert any(role == "system" and "Анна" in text for role, text in roles)  # "a specialist has joined"
    assert not any("SIM-своп" in text for _, text in roles)  # internal notes never reach the customer

    back = gateway.post(f"/api/v1/operator/handoffs/{handoff_id}/handback", headers=auth(tokens.operator))
    assert back.status_code == 200 and back.json()["handoff"]["state"] == "handed_back"
    assert app_redis.get(redis_keys.conversation_handoff(customer)) is None
    # The bot's tracker now holds what the operator said: it resumes with the context.
    tracker = httpx.get(
        f"http://127.0.0.1:{stack.settings.rasa_port}/conversations/{customer}/tracker",
        params={"token": stack.settings.rasa_token},
    ).json()
    bot_lines = [event.get("text") for event in tracker["events"] if event.get("event") == "bot"]
    assert "Здравствуйте, я Анна, помогу. Вы сейчас в безопасности?" in bot_lines

    after = say(gateway, sender, "как оплатить интернет?")
    assert "zabota.example/help/ru/" in reply_text(after)  # the bot answers again


def test_operator_actions_validate_their_input(gateway: httpx.Client, tokens: Tokens) -> None:
    headers = auth(tokens.operator)
    assert gateway.post("/api/v1/operator/handoffs/h-nothing/claim", headers=headers).status_code == 404
    empty = gateway.post("/api/v1/operator/handoffs/h-nothing/reply", json={"text": ""}, headers=headers)
    assert empty.status_code == 422
    too_long = gateway.post("/api/v1/operator/handoffs/h-nothing/reply", json={"text": "a" * 5000}, headers=headers)
    assert too_long.status_code == 422
    assert gateway.get("/api/v1/operator/handoffs/bad%20id", headers=headers).status_code == 422


def test_triage_dry_run_has_no_side_effects(gateway: httpx.Client, app_redis: redis.Redis) -> None:
    before = app_redis.xlen(redis_keys.INBOUND_STREAM), app_redis.xlen(redis_keys.HANDOFF_STREAM)
    routine = gateway.post("/api/v1/triage", json={"text": "не работает интернет, роутер мигает", "channel": "voice"})
    assert routine.status_code == 200, routine.text
    body = routine.json()
    assert body["intent"]["name"] == "internet_down" and 0 < body["intent"]["confidence"] <= 1
    assert body["escalate"] is False and body["priority"] is None and body["sensitive"] is False
    assert body["reasons"] and body["kb"] and body["kb"][0]["id"] == "router-reboot"
    assert {"voice", "sms"} <= {choice["channel"] for choice in body["reply_channels"]}

    crisis = gateway.post("/api/v1/triage", json={"text": "я не вижу смысла жить дальше", "channel": "webchat"}).json()
    assert crisis["escalate"] is True and crisis["priority"] == "p1" and crisis["sensitive"] is True
    assert any(choice["purpose"] == "callback_offer" for choice in crisis["reply_channels"])
    assert (app_redis.xlen(redis_keys.INBOUND_STREAM), app_redis.xlen(redis_keys.HANDOFF_STREAM)) == before


def test_triage_rejects_bad_requests_with_reasons(gateway: httpx.Client) -> None:
    assert gateway.post("/api/v1/triage", json={"text": "   "}).status_code == 422
    assert gateway.post("/api/v1/triage", json={"text": "a" * 5000}).status_code == 413
    assert gateway.post("/api/v1/triage", json={"text": "hi", "channel": "pigeon"}).status_code == 422
    assert gateway.post("/api/v1/triage", json={"text": "hi", "extra": 1}).status_code == 422
    not_json = gateway.post("/api/v1/triage", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422 and "detail" in not_json.json()


def test_no_raw_personal_data_in_any_log(gateway: httpx.Client, stack: Stack, tokens: Tokens) -> None:
    sender = f"it-pii-{uuid.uuid4().hex[:8]}"
    secrets_ = {
        "card": "5469 3800 8765 4323",  # Luhn-valid
        "phone": "+7 916 555-44-33",
        "email": "ivan.petrov.pii@example.org",
        "passport": "паспорт 4512 778899",
    }
    say(gateway, sender, f"моя карта {secrets_['card']}, {secrets_['passport']}, пишите на {secrets_['email']}")
    say(gateway, sender, f"перезвоните на {secrets_['phone']}, мне угрожают")
    gateway.post(
        "/api/v1/voice/events",
        json={"call_id": "pii", "caller": "+79165554433", "text": "не работает интернет"},
        headers=auth(tokens.voice),
    )
    logs = "\n".join(path.read_text(errors="replace") for path in Path(stack.settings.log_dir).glob("*.log"))
    assert logs, "the stack wrote no logs"
    for kind, value in {**secrets_, "phone digits": "9165554433", "card digits": "5469380087654323"}.items():
        assert value not in logs, f"raw {kind} in the logs"
    assert "778899" not in logs
