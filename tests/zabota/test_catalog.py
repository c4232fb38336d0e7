from __future__ import annotations

from pathlib import Path

import pytest

from zabota.catalog import DEFAULT_CATALOG, load_catalog, parse_catalog

REPO = Path(__file__).resolve().parents[2]
# The product's spec lives beside the checkout (../shared) or, on a copied working tree, inside it (shared/).
SPEC_CANDIDATES = (REPO.parent / "shared" / "spec" / "catalog.yml", REPO / "shared" / "spec" / "catalog.yml")


def test_catalog_has_the_42_intents_of_the_spec() -> None:
    catalog = load_catalog()
    assert len(catalog.intents) == 42
    assert len(catalog.kb_topics) == 42
    assert {"greet", "request_human", "feature_howto", "crisis", "bereavement"} <= set(catalog.intents)


def test_every_escalate_intent_has_a_priority() -> None:
    catalog = load_catalog()
    escalate = [catalog.intents[name] for name in catalog.names("escalate")]
    assert escalate
    assert all(intent.priority in ("p1", "p2", "p3", "p4") for intent in escalate)
    assert catalog.intents["crisis"].priority == "p1"
    assert catalog.intents["fraud_report"].priority == "p2"


def test_sensitive_intents_always_escalate() -> None:
    catalog = load_catalog()
    sensitive = [intent for intent in catalog.intents.values() if intent.sensitive]
    assert len(sensitive) == 7
    assert all(intent.handling == "escalate" for intent in sensitive)


def test_every_kb_reference_is_a_known_topic() -> None:
    catalog = load_catalog()
    for intent in catalog.intents.values():
        if intent.kb is not None:
            assert intent.kb in catalog.kb_topics, intent.name
    assert catalog.intent("roaming") is not None
    assert catalog.intent("no_such_intent") is None


def test_catalog_copy_equals_the_spec() -> None:
    spec = next((path for path in SPEC_CANDIDATES if path.is_file()), None)
    if spec is None:
        pytest.skip("spec/catalog.yml is not available beside this checkout")
    assert DEFAULT_CATALOG.read_text(encoding="utf-8") == spec.read_text(encoding="utf-8")


def test_escalate_intent_without_priority_is_rejected() -> None:
    text = "intents:\n  - {name: crisis, handling: escalate}\nkb_topics: []\n"
    with pytest.raises(ValueError, match="no priority"):
        parse_catalog(text)


def test_unknown_kb_topic_is_rejected() -> None:
    text = "intents:\n  - {name: roaming, handling: kb, kb: roaming}\nkb_topics: []\n"
    with pytest.raises(ValueError, match="unknown kb topic"):
        parse_catalog(text)
