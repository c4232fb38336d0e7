"""The operator API over the real Redis with a fake Rasa over HTTP: tokens, the queue, one handoff's detail and
every action (claim, reply, note, hand back, close), with handoffs opened the way production opens them: by
the dispatcher, on messages the classifier reads as crisis, fraud or a request for a person."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_testkit import (
    LEAD_TOKEN,
    OPERATOR_TOKEN,
    OTHER_OPERATOR_TOKEN,
    AppContext,
    FakeRasa,
    StartApp,
    bearer,
    wait_until_routed,
)
from redis.asyncio import Redis

from gateway import texts
from gateway.webchat import webchat_customer
from zabota import redis_keys
from zabota.redaction import CARD_MASK

API = "/api/v1/operator"
WEBCHAT = "/api/v1/webchat/messages"
CARD = "4111 1111 1111 1111"

CRISIS_TEXT = "мне очень плохо, не знаю что делать"
FRAUD_TEXT = "с моей карты списали деньги, я ничего не покупала"
HUMAN_TEXT = "позовите живого человека"
ROUTINE_TEXT = "не работает интернет"

ANNA = bearer(OPERATOR_TOKEN)
BORIS = bearer(OTHER_OPERATOR_TOKEN)
LENA = bearer(LEAD_TOKEN)


@pytest.fixture
def rasa(fake_rasa: FakeRasa) -> FakeRasa:
    """The fake classifier reads these messages as the intents that escalate (p1, p2, p3)."""
    fake_rasa.intents = {"очень плохо": "crisis", "списали": "fraud_report", "живого человека": "request_human"}
    return fake_rasa


async def open_handoff(ctx: AppContext, redis: Redis, text: str, sender: str) -> tuple[str, str]:
    """The customer behind webchat ``sender`` writes ``text``; the dispatcher opens a handoff, the router queues it.
    Returns (customer id, handoff id)."""
    customer = await webchat_customer(ctx.services, sender)
    outcome = await ctx.services.dispatcher.handle(
        channel="webchat", sender_id=sender, text=text, metadata={}, customer_id=customer
    )
    assert outcome.handoff is not None, f"no handoff for {text!r}"
    await wait_until_routed(redis, outcome.handoff.handoff_id)
    return customer, outcome.handoff.handoff_id


async def history(ctx: AppContext, sender: str) -> list[dict[str, Any]]:
    response = await ctx.client.get(f"/api/v1/webchat/{sender}/history")
    assert response.status_code == 200
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


# --- authentication ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "send the operator token as 'Authorization: Bearer <token>'"),
        ({"Authorization": f"Basic {OPERATOR_TOKEN}"}, "send the operator token as 'Authorization: Bearer <token>'"),
        ({"Authorization": "Bearer "}, "send the operator token as 'Authorization: Bearer <token>'"),
        ({"Authorization": OPERATOR_TOKEN}, "send the operator token as 'Authorization: Bearer <token>'"),
        ({"Authorization": "Bearer not-a-token"}, "the operator token is not valid"),
        # The digest of a token is what the configuration holds; it is not itself a token.
        ({"Authorization": "Bearer " + "0" * 64}, "the operator token is not valid"),
    ],
)
async def test_every_route_needs_a_valid_bearer_token(
    start_app: StartApp, rasa: FakeRasa, headers: dict[str, str], detail: str
) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        responses = [
            await ctx.client.get(f"{API}/me", headers=headers),
            await ctx.client.get(f"{API}/queue", headers=headers),
            await ctx.client.get(f"{API}/handoffs/h-000000000000", headers=headers),
            await ctx.client.post(f"{API}/handoffs/h-000000000000/claim", headers=headers),
            await ctx.client.post(f"{API}/handoffs/h-000000000000/reply", json={"text": "hi"}, headers=headers),
            await ctx.client.post(f"{API}/handoffs/h-000000000000/note", json={"text": "hi"}, headers=headers),
            await ctx.client.post(f"{API}/handoffs/h-000000000000/handback", headers=headers),
            await ctx.client.post(f"{API}/handoffs/h-000000000000/close", headers=headers),
        ]
    for response in responses:
        assert response.status_code == 401, response.request.url
        assert response.json() == {"error": "unauthorized", "detail": detail}


async def test_me_names_the_operator_and_the_lead(start_app: StartApp) -> None:
    async with start_app() as ctx:
        anna = await ctx.client.get(f"{API}/me", headers=ANNA)
        lena = await ctx.client.get(f"{API}/me", headers=LENA)
        lower_case_scheme = await ctx.client.get(f"{API}/me", headers={"Authorization": f"bearer {OPERATOR_TOKEN}"})
    assert anna.status_code == 200
    assert anna.json() == {"id": "anna", "name": "Анна", "role": "operator"}
    assert lena.json() == {"id": "lena", "name": "Елена", "role": "lead"}
    assert lower_case_scheme.json()["id"] == "anna"


# --- the queue --------------------------------------------------------------------------------------------------


async def test_queue_is_most_urgent_first_then_earliest_due(start_app: StartApp, rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        empty = await ctx.client.get(f"{API}/queue", headers=ANNA)
        # Opened in an order that is not the queue's: a p3, the p1, the p2, another p3.
        _, human_first = await open_handoff(ctx, redis, HUMAN_TEXT, "w-q1")
        _, crisis = await open_handoff(ctx, redis, CRISIS_TEXT, "w-q2")
        _, fraud = await open_handoff(ctx, redis, FRAUD_TEXT, "w-q3")
        _, human_second = await open_handoff(ctx, redis, HUMAN_TEXT + ", пожалуйста", "w-q4")
        full = await ctx.client.get(f"{API}/queue", headers=ANNA)
        limited = await ctx.client.get(f"{API}/queue", params={"limit": 2}, headers=LENA)
        bad_limit = await ctx.client.get(f"{API}/queue", params={"limit": 0}, headers=ANNA)
    assert empty.status_code == 200 and empty.json() == {"items": []}
    items = full.json()["items"]
    assert [item["handoff_id"] for item in items] == [crisis, fraud, human_first, human_second]
    assert [item["priority"] for item in items] == ["p1", "p2", "p3", "p3"]
    assert items[2]["due_at"] < items[3]["due_at"]  # the same priority: the earliest due first
    assert [item["intent"] for item in items] == ["crisis", "fraud_report", "request_human", "request_human"]
    assert [item["sensitive"] for item in items] == [True, True, False, False]
    first = items[0]
    assert first["state"] == "queued" and first["assignee"] is None and first["assignee_name"] is None
    assert first["preview"] == CRISIS_TEXT
    assert (first["channel"], first["language"], first["overdue"]) == ("webchat", "ru", False)
    assert first["customer_id"].startswith("c-")
    assert any(reason["code"] == "sensitive_intent" for reason in first["reasons"])
    assert [item["handoff_id"] for item in limited.json()["items"]] == [crisis, fraud]
    assert bad_limit.status_code == 422


# --- one handoff ------------------------------------------------------------------------------------------------


async def test_detail_has_summary_notes_history_and_a_masked_profile(
    start_app: StartApp, rasa: FakeRasa, redis: Redis
) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        customer = await webchat_customer(ctx.services, "w-d")
        await ctx.services.customers.update_profile(
            customer, name="Иван Петров", phone="+79161234567", email="ivan.petrov@mail.ru", segment="vip"
        )
        first = await ctx.client.post(WEBCHAT, json={"sender_id": "w-d", "text": ROUTINE_TEXT})
        assert first.status_code == 200
        _, handoff_id = await open_handoff(ctx, redis, HUMAN_TEXT, "w-d")
        response = await ctx.client.get(f"{API}/handoffs/{handoff_id}", headers=BORIS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"handoff", "history", "profile"}
    handoff = body["handoff"]
    assert handoff["handoff_id"] == handoff_id and handoff["customer_id"] == customer
    assert (handoff["state"], handoff["priority"], handoff["intent"]) == ("queued", "p3", "request_human")
    assert handoff["notes"] == [] and handoff["resolution"] is None
    summary = handoff["summary"]
    assert summary["handoff_id"] == handoff_id
    assert summary["customer"]["contacts"] == {"phone": "+7 *** ***-45-67", "email": "i***@mail.ru"}
    assert summary["customer"]["name"] == "Иван Петров"
    assert [line["text"] for line in summary["problem"]][:1] == [ROUTINE_TEXT]
    assert HUMAN_TEXT in [line["text"] for line in summary["problem"]]
    assert "human_request" in [reason["code"] for reason in summary["reasons"]]
    assert summary["next_step"]
    assert {"intents", "entities", "bot_tried", "sentiment", "transcript", "due_at"} <= set(summary)
    customer_lines = [entry["text"] for entry in body["history"] if entry["role"] == "customer"]
    assert customer_lines == [ROUTINE_TEXT, HUMAN_TEXT]
    assert body["history"][1] == {**body["history"][1], "role": "bot", "text": f"echo: {ROUTINE_TEXT}"}
    recent = body["profile"].pop("recent_contacts")
    # one contact so far (the system of record): the routine question and the request for a person
    assert [(c["channel"], c["handoff_priority"]) for c in recent] == [("webchat", "p3")]
    assert body["profile"] == {
        "customer_id": customer,
        "name": "Иван Петров",
        "segment": "vip",
        "language": "ru",
        "contacts": {"phone": "+7 *** ***-45-67", "email": "i***@mail.ru"},
        "channels": ["sms", "email"],
    }
    # The operator recognises the contacts; the full number and address are not shown.
    assert "9161234567" not in response.text and "ivan.petrov" not in response.text


async def test_unknown_handoffs_are_404_for_every_route(start_app: StartApp) -> None:
    async with start_app() as ctx:
        unknown = f"{API}/handoffs/h-ffffffffffff"
        responses = [
            await ctx.client.get(unknown, headers=ANNA),
            await ctx.client.post(f"{unknown}/claim", headers=ANNA),
            await ctx.client.post(f"{unknown}/reply", json={"text": "Здравствуйте"}, headers=LENA),
            await ctx.client.post(f"{unknown}/note", json={"text": "заметка"}, headers=ANNA),
            await ctx.client.post(f"{unknown}/handback", headers=ANNA),
            await ctx.client.post(f"{unknown}/close", json={"resolution": "x"}, headers=ANNA),
        ]
    for response in responses:
        assert response.status_code == 404, response.request.url
        assert response.json() == {"error": "not_found", "detail": "no such handoff"}


@pytest.mark.parametrize(
    ("method", "path", "body", "error", "field"),
    [
        ("get", "/handoffs/a%20b", None, "invalid_request", "handoff_id"),
        ("get", "/handoffs/" + "h" * 65, None, "invalid_request", "handoff_id"),
        ("post", "/handoffs/h%3Cscript%3E/claim", None, "invalid_request", "handoff_id"),
        ("post", "/handoffs/{id}/reply", {"text": ""}, "invalid_request", "text"),
        ("post", "/handoffs/{id}/reply", {"text": " \n\t "}, "empty_text", "empty"),
        ("post", "/handoffs/{id}/reply", {"text": "x" * 4001}, "invalid_request", "text"),
        ("post", "/handoffs/{id}/reply", {}, "invalid_request", "text"),
        ("post", "/handoffs/{id}/reply", {"text": "hi", "html": True}, "invalid_request", "html"),
        ("post", "/handoffs/{id}/note", {"text": ""}, "invalid_request", "text"),
        ("post", "/handoffs/{id}/note", {"text": "   "}, "empty_text", "empty"),
        ("post", "/handoffs/{id}/note", {"text": "x" * 4001}, "invalid_request", "text"),
        ("post", "/handoffs/{id}/close", {"resolution": "x" * 1001}, "invalid_request", "resolution"),
    ],
)
async def test_bad_ids_and_texts_are_422(
    start_app: StartApp,
    rasa: FakeRasa,
    redis: Redis,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    error: str,
    field: str,
) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, HUMAN_TEXT, "w-v")
        await ctx.client.post(f"{API}/handoffs/{handoff_id}/claim", headers=ANNA)
        url = API + path.format(id=handoff_id)
        if method == "get":
            response = await ctx.client.get(url, headers=ANNA)
        else:
            response = await ctx.client.post(url, json=body, headers=ANNA)
        after = await ctx.client.get(f"{API}/handoffs/{handoff_id}", headers=ANNA)
    assert response.status_code == 422
    assert response.json()["error"] == error
    assert field in response.json()["detail"]
    # Nothing was done: no note, no reply in the log, still claimed.
    assert after.json()["handoff"]["notes"] == []
    assert after.json()["handoff"]["state"] == "claimed"
    assert not [entry for entry in after.json()["history"] if entry["role"] == "operator"]


async def test_a_reply_at_the_length_limit_is_accepted(start_app: StartApp, rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, HUMAN_TEXT, "w-l")
        response = await ctx.client.post(f"{API}/handoffs/{handoff_id}/reply", json={"text": "я" * 4000}, headers=LENA)
    assert response.status_code == 200
    assert response.json()["entry"]["text"] == "я" * 4000


# --- claim ------------------------------------------------------------------------------------------------------


async def test_claim_is_exclusive_and_a_lead_may_take_over(start_app: StartApp, rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, FRAUD_TEXT, "w-c")
        url = f"{API}/handoffs/{handoff_id}/claim"
        anna = await ctx.client.post(url, headers=ANNA)
        again = await ctx.client.post(url, headers=ANNA)
        boris = await ctx.client.post(url, headers=BORIS)
        lena = await ctx.client.post(url, headers=LENA)
        anna_back = await ctx.client.post(url, headers=ANNA)
        queue = await ctx.client.get(f"{API}/queue", headers=ANNA)
        lines = await history(ctx, "w-c")
    assert anna.status_code == 200
    item = anna.json()["handoff"]
    assert (item["state"], item["assignee"], item["assignee_name"]) == ("claimed", "anna", "Анна")
    assert anna.json()["entry"] is None
    assert again.status_code == 200 and again.json()["handoff"]["assignee"] == "anna"  # claiming twice is harmless
    assert boris.status_code == 409
    assert boris.json()["error"] == "conflict" and "already_claimed" in boris.json()["detail"]
    assert lena.status_code == 200
    assert (lena.json()["handoff"]["assignee"], lena.json()["handoff"]["assignee_name"]) == ("lena", "Елена")
    assert anna_back.status_code == 409  # taken over by the lead: not Anna's any more
    [queued] = queue.json()["items"]
    assert (queued["handoff_id"], queued["state"], queued["assignee"]) == (handoff_id, "claimed", "lena")
    # The customer is told who joined: Anna, then the lead who took over (a fraud case: in the formal tone).
    system = [line["text"] for line in lines if line["role"] == "system"]
    assert system[0] == texts.OPERATOR_JOINED.say("ru", "formal").format(name="Анна")
    assert system[-1] == texts.OPERATOR_JOINED.say("ru", "formal").format(name="Елена")


async def test_claiming_again_does_not_tell_the_customer_twice(
    start_app: StartApp, rasa: FakeRasa, redis: Redis
) -> None:
    """A second claim by the assignee (a double click, a retried request) changes nothing in the store, so the
    customer must not get a second "a specialist has joined" line (by Telegram or SMS it would cost a message)."""
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, HUMAN_TEXT, "w-c2")
        url = f"{API}/handoffs/{handoff_id}/claim"
        first = await ctx.client.post(url, headers=ANNA)
        second = await ctx.client.post(url, headers=ANNA)
        lines = await history(ctx, "w-c2")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["handoff"] == second.json()["handoff"]  # the store saw nothing to change
    system = [line["text"] for line in lines if line["role"] == "system"]
    assert system == [texts.OPERATOR_JOINED["ru"].format(name="Анна")]


# --- reply ------------------------------------------------------------------------------------------------------


async def test_only_the_assignee_or_a_lead_may_reply(start_app: StartApp, rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, HUMAN_TEXT, "w-r")
        url = f"{API}/handoffs/{handoff_id}/reply"
        unclaimed = await ctx.client.post(url, json={"text": "Здравствуйте!"}, headers=ANNA)
        await ctx.client.post(f"{API}/handoffs/{handoff_id}/claim", headers=ANNA)
        boris = await ctx.client.post(url, json={"text": "Это Борис"}, headers=BORIS)
        anna = await ctx.client.post(url, json={"text": "  Здравствуйте! Чем помочь?  "}, headers=ANNA)
        lena = await ctx.client.post(url, json={"text": "Я руководитель смены"}, headers=LENA)
        lines = await history(ctx, "w-r")
        detail = await ctx.client.get(f"{API}/handoffs/{handoff_id}", headers=ANNA)
    for refused in (unclaimed, boris):
        assert refused.status_code == 403
        assert refused.json() == {"error": "forbidden", "detail": "only the assignee or a lead may reply"}
    assert anna.status_code == 200
    entry = anna.json()["entry"]
    assert (entry["role"], entry["author"], entry["text"]) == ("operator", "Анна", "Здравствуйте! Чем помочь?")
    assert entry["message_id"].startswith("op-") and entry["channel"] == "webchat" and entry["lang"] == "ru"
    assert lena.status_code == 200 and lena.json()["entry"]["author"] == "Елена"
    assert lena.json()["handoff"]["assignee"] == "anna"  # a lead's reply does not take the handoff over
    operator_lines = [(line["author"], line["text"]) for line in lines if line["role"] == "operator"]
    assert operator_lines == [("Анна", "Здравствуйте! Чем помочь?"), ("Елена", "Я руководитель смены")]
    assert lines[-2] == entry  # the customer's history holds exactly what the operator API answered
    assert "Это Борис" not in detail.text
    assert detail.json()["handoff"]["overdue"] is False


async def test_replies_are_stored_as_plain_text_and_card_numbers_redacted(
    start_app: StartApp, rasa: FakeRasa, redis: Redis
) -> None:
    markup = "<script>alert('x')</script> & <b>жирный</b> \"кавычки\""
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, FRAUD_TEXT, "w-x")
        await ctx.client.post(f"{API}/handoffs/{handoff_id}/claim", headers=ANNA)
        url = f"{API}/handoffs/{handoff_id}/reply"
        html = await ctx.client.post(url, json={"text": markup}, headers=ANNA)
        card = await ctx.client.post(url, json={"text": f"Карта {CARD} заблокирована"}, headers=ANNA)
        lines = await history(ctx, "w-x")
        record = await redis.get(redis_keys.handoff_record(handoff_id))
    assert html.status_code == 200 and html.json()["entry"]["text"] == markup  # nothing escaped, nothing altered
    assert card.status_code == 200
    assert card.json()["entry"]["text"] == f"Карта {CARD_MASK} заблокирована"
    assert [line["text"] for line in lines if line["role"] == "operator"] == [
        markup,
        f"Карта {CARD_MASK} заблокирована",
    ]
    assert record is not None and CARD not in record  # nor in the handoff's action log


# --- notes ------------------------------------------------------------------------------------------------------


async def test_notes_are_for_operators_only(start_app: StartApp, rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, FRAUD_TEXT, "w-n")
        url = f"{API}/handoffs/{handoff_id}/note"
        # Any operator may note, claimed or not; the text is redacted like a reply.
        boris = await ctx.client.post(url, json={"text": f"  клиент диктовал карту {CARD}  "}, headers=BORIS)
        anna = await ctx.client.post(url, json={"text": "<i>перезвонить</i>"}, headers=ANNA)
        detail = await ctx.client.get(f"{API}/handoffs/{handoff_id}", headers=LENA)
        lines = await history(ctx, "w-n")
    assert boris.status_code == 200 and anna.status_code == 200
    assert boris.json()["entry"] is None
    notes = detail.json()["handoff"]["notes"]
    assert [(n["operator_id"], n["author"], n["text"]) for n in notes] == [
        ("boris", "Борис", f"клиент диктовал карту {CARD_MASK}"),
        ("anna", "Анна", "<i>перезвонить</i>"),
    ]
    assert all(isinstance(note["timestamp"], float) for note in notes)
    assert CARD not in detail.text
    # Never in the customer's conversation.
    assert not any("перезвонить" in (line["text"] or "") or "диктовал" in (line["text"] or "") for line in lines)
    assert [line["role"] for line in lines].count("operator") == 0


# --- hand back and close ----------------------------------------------------------------------------------------


async def test_hand_back_returns_the_conversation_to_the_bot(start_app: StartApp, rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        opened = await ctx.client.post(WEBCHAT, json={"sender_id": "w-h", "text": HUMAN_TEXT})
        customer = await redis.get(redis_keys.identity("web:w-h"))
        assert customer is not None
        handoff_id = await redis.get(redis_keys.conversation_handoff(customer))
        assert handoff_id is not None
        await wait_until_routed(redis, handoff_id)
        held = await ctx.client.post(WEBCHAT, json={"sender_id": "w-h", "text": "алло, вы тут?"})
        await ctx.client.post(f"{API}/handoffs/{handoff_id}/claim", headers=ANNA)
        boris = await ctx.client.post(f"{API}/handoffs/{handoff_id}/handback", headers=BORIS)
        handed = await ctx.client.post(f"{API}/handoffs/{handoff_id}/handback", headers=ANNA)
        twice = await ctx.client.post(f"{API}/handoffs/{handoff_id}/handback", headers=ANNA)
        pointer = await redis.get(redis_keys.conversation_handoff(customer))
        queue = await ctx.client.get(f"{API}/queue", headers=ANNA)
        after = await ctx.client.post(WEBCHAT, json={"sender_id": "w-h", "text": "а как сменить тариф?"})
        lines = await history(ctx, "w-h")
    eta = opened.json()["replies"][-1]["text"]
    assert any(variant.split("{")[0] in eta for variant in texts.HANDOFF_ETA.all_variants("ru"))  # in its tone
    # While an operator holds it the bot says nothing and never sees the message.
    assert held.status_code == 200 and held.json()["delivered"] is True
    # Told once that the message reached the specialist; the bot itself says nothing.
    assert [reply["text"] for reply in held.json()["replies"]] == [texts.WITH_OPERATOR["ru"]]
    assert "алло, вы тут?" not in [request["message"] for request in rasa.requests]
    assert boris.status_code == 403
    assert handed.status_code == 200 and handed.json()["handoff"]["state"] == "handed_back"
    assert twice.status_code == 409 and "not_active" in twice.json()["detail"]
    assert pointer is None and queue.json()["items"] == []
    # The hold is gone: the next message reaches Rasa again and the bot answers.
    assert rasa.requests[-1]["message"] == "а как сменить тариф?"
    assert after.json()["replies"][0]["text"] == "echo: а как сменить тариф?"
    assert texts.HANDED_BACK["ru"] in [line["text"] for line in lines if line["role"] == "system"]


async def test_a_queued_handoff_may_be_handed_back_by_any_operator(
    start_app: StartApp, rasa: FakeRasa, redis: Redis
) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, HUMAN_TEXT, "w-hq")
        response = await ctx.client.post(f"{API}/handoffs/{handoff_id}/handback", headers=BORIS)
    assert response.status_code == 200
    assert (response.json()["handoff"]["state"], response.json()["handoff"]["assignee"]) == ("handed_back", None)


async def test_close_finishes_the_handoff(start_app: StartApp, rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        customer, handoff_id = await open_handoff(ctx, redis, FRAUD_TEXT, "w-cl")
        base = f"{API}/handoffs/{handoff_id}"
        await ctx.client.post(f"{base}/claim", headers=ANNA)
        boris = await ctx.client.post(f"{base}/close", json={"resolution": "не моё"}, headers=BORIS)
        closed = await ctx.client.post(
            f"{base}/close", json={"resolution": f"вернули деньги на карту {CARD}"}, headers=ANNA
        )
        again = await ctx.client.post(f"{base}/close", headers=LENA)
        reply = await ctx.client.post(f"{base}/reply", json={"text": "ещё одно"}, headers=LENA)
        claim = await ctx.client.post(f"{base}/claim", headers=LENA)
        late_note = await ctx.client.post(f"{base}/note", json={"text": "проверено"}, headers=LENA)
        detail = await ctx.client.get(base, headers=LENA)
        queue = await ctx.client.get(f"{API}/queue", headers=ANNA)
        pointer = await redis.get(redis_keys.conversation_handoff(customer))
        ttl = await redis.ttl(redis_keys.handoff_record(handoff_id))
        lines = await history(ctx, "w-cl")
    assert boris.status_code == 403
    assert closed.status_code == 200 and closed.json()["handoff"]["state"] == "closed"
    for refused in (again, reply, claim):
        assert refused.status_code == 409
        assert refused.json()["error"] == "conflict"
    assert late_note.status_code == 200  # a lead may still comment on a closed handoff
    handoff = detail.json()["handoff"]
    assert handoff["state"] == "closed"
    assert handoff["resolution"] == f"вернули деньги на карту {CARD_MASK}"
    assert [note["text"] for note in handoff["notes"]] == ["проверено"]
    assert queue.json()["items"] == [] and pointer is None
    assert 0 < ttl <= redis_keys.HANDOFF_CLOSED_TTL_SECONDS  # kept for review, then it goes
    assert lines[-1]["role"] == "system" and lines[-1]["text"] == texts.CLOSED.say("ru", "formal")  # a sensitive case


async def test_close_without_a_body_and_the_bot_answers_next(start_app: StartApp, rasa: FakeRasa, redis: Redis) -> None:
    async with start_app(rasa_url=rasa.url) as ctx:
        _, handoff_id = await open_handoff(ctx, redis, HUMAN_TEXT, "w-cb")
        closed = await ctx.client.post(f"{API}/handoffs/{handoff_id}/close", headers=ANNA)
        after = await ctx.client.post(WEBCHAT, json={"sender_id": "w-cb", "text": "и ещё вопрос"})
    assert closed.status_code == 200
    assert closed.json()["handoff"]["state"] == "closed"
    assert after.json()["replies"][0]["text"] == "echo: и ещё вопрос"
