from __future__ import annotations

from zabota.catalog import load_catalog
from zabota.records.contact_log import CONTACT_GAP_SECONDS, ContactPointer, current_contact, turn_contact

CUSTOMER = "c-00000000000000c1"


def test_a_conversation_goes_on_in_its_channel_until_a_long_pause() -> None:
    first, new = current_contact(CUSTOMER, "webchat", 1000.0, None, "m-1")
    assert new and first.contact_id.startswith("k-") and first.channel == "webchat"
    same, new = current_contact(CUSTOMER, "webchat", 1000.0 + CONTACT_GAP_SECONDS - 1, first, "m-2")
    assert not new and same.contact_id == first.contact_id and same.last_at == 1000.0 + CONTACT_GAP_SECONDS - 1
    later, new = current_contact(CUSTOMER, "webchat", same.last_at + CONTACT_GAP_SECONDS, same, "m-3")
    assert new and later.contact_id != first.contact_id
    call, new = current_contact(CUSTOMER, "voice", later.last_at + 1, later, "m-4")
    assert new and call.channel == "voice"


def test_the_id_of_a_new_contact_is_the_same_for_a_redelivered_message() -> None:
    one, _ = current_contact(CUSTOMER, "sms", 5.0, None, "m-9")
    two, _ = current_contact(CUSTOMER, "sms", 50.0, None, "m-9")
    assert one.contact_id == two.contact_id


def test_an_unknown_channel_is_recorded_as_webchat_and_pointers_survive_storage() -> None:
    pointer, _ = current_contact(CUSTOMER, "kiosk", 1.0, None, "m-1")
    assert pointer.channel == "webchat"
    assert ContactPointer.from_dict(pointer.as_dict()) == pointer
    assert ContactPointer.from_dict({"contact_id": 3}) is None
    assert ContactPointer.from_dict(None) is None


def test_what_a_turn_adds() -> None:
    pointer = ContactPointer("k-1", "voice", 10.0)
    catalog = load_catalog()
    flow = turn_contact(pointer, CUSTOMER, started=10.0, intent="check_balance", catalog=catalog, feedback=False)
    assert (flow.intents, flow.flows, flow.feedback) == (("check_balance",), ("check_balance",), "unhelpful")
    kb = turn_contact(pointer, CUSTOMER, started=10.0, intent="roaming", catalog=catalog, articles=("roaming", ""))
    assert (kb.flows, kb.articles) == ((), ("roaming",))
    fallback = turn_contact(pointer, CUSTOMER, started=10.0, intent="nlu_fallback", catalog=catalog)
    assert fallback.intents == ()
