"""The custom NLU components, trained and loaded through Rasa's own model storage (no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.linear_intent_classifier import LinearIntentClassifier, normalise
from bot.components.sentence_featurizer import SentenceEmbeddingFeaturizer

EXAMPLES = {
    "internet_down": ["интернет не работает", "нет интернета с утра", "internet is down", "инет пропал"],
    "check_balance": ["какой у меня баланс", "сколько денег на счету", "what is my balance", "баланс"],
    "greet": ["привет", "здравствуйте", "hello", "добрый день"],
}


def training_data() -> TrainingData:
    return TrainingData(
        [Message(data={TEXT: text, "intent": intent}) for intent, texts in EXAMPLES.items() for text in texts]
    )


def featurizer() -> SentenceEmbeddingFeaturizer:
    config = {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "e5"}
    return SentenceEmbeddingFeaturizer(config, "e5")


@pytest.fixture()
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def test_featurizer_adds_one_unit_sentence_vector_per_message() -> None:
    messages = [Message(data={TEXT: "интернет не работает"}), Message(data={TEXT: "internet is down"})]
    featurizer().process(messages)
    vectors = []
    for message in messages:
        sequence, sentence = message.get_dense_features(TEXT)
        assert sequence is None
        assert sentence is not None and sentence.features.shape == (1, 384)
        vectors.append(sentence.features[0])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-3)
    # the same problem in two languages lands close together: the point of a multilingual encoder
    assert float(np.dot(vectors[0], vectors[1])) > 0.8


def test_featurizer_rejects_an_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown backend"):
        SentenceEmbeddingFeaturizer.validate_config({"backend": "hub-download"})


def test_classifier_trains_persists_and_loads_without_pickle(storage: LocalModelStorage) -> None:
    data = featurizer().process_training_data(training_data())
    resource = Resource("intent_classifier")
    context = ExecutionContext(node_name="intent_classifier", graph_schema=None)  # type: ignore[arg-type]
    classifier = LinearIntentClassifier.create({}, storage, resource, context)
    classifier.train(data)

    loaded = LinearIntentClassifier.load({}, storage, resource, context)
    messages = [Message(data={TEXT: t}) for t in ["у меня не работает интернет", "how much money is on my account"]]
    featurizer().process(messages)
    loaded.process(messages)
    assert [m.get("intent")["name"] for m in messages] == ["internet_down", "check_balance"]
    ranking = messages[0].get("intent_ranking")
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-4)
    with storage.read_from(resource) as directory:
        assert not list(directory.glob("*.pkl"))


def test_classifier_works_on_sparse_features_alone(storage: LocalModelStorage) -> None:
    resource = Resource("sparse_only")
    context = ExecutionContext(node_name="sparse_only", graph_schema=None)  # type: ignore[arg-type]
    classifier = LinearIntentClassifier.create({}, storage, resource, context)
    classifier.train(training_data())
    message = Message(data={TEXT: "баланс какой"})
    classifier.process([message])
    assert message.get("intent")["name"] == "check_balance"


def test_normalise_folds_case_yo_and_spaces() -> None:
    assert normalise("  Всё   ОК ") == "все ок"


# ---------------------------------------------------------------------------------------------- triage override
def _override(storage: LocalModelStorage) -> Any:
    from rasa.engine.graph import ExecutionContext, GraphSchema

    from bot.components.triage_override import TriageIntentOverride

    resource = Resource("override")
    context = ExecutionContext(GraphSchema({}), "test")
    component = TriageIntentOverride.create({}, storage, resource, context)
    component.train(training_data())
    return TriageIntentOverride.load({}, storage, resource, context)


def _classified(metadata: object) -> Message:
    message = Message(data={TEXT: "интернет не работает", "metadata": metadata})
    message.set("intent", {"name": "internet_down", "confidence": 0.9}, add_to_output=True)
    return message


def test_the_override_replaces_the_intent_with_the_triage_one(storage: LocalModelStorage) -> None:
    component = _override(storage)
    triage = {"override_intent": "check_balance", "escalate": True}
    [message] = component.process([_classified({"zabota_triage": triage})])
    assert message.get("intent") == {"name": "check_balance", "confidence": 1.0}
    assert triage["nlu_intent"] == {"name": "internet_down", "confidence": 0.9}


@pytest.mark.parametrize(
    "metadata",
    [None, {}, {"zabota_triage": "crisis"}, {"zabota_triage": {"override_intent": "no_such_intent"}}, {"other": 1}],
)
def test_no_override_without_a_known_intent(storage: LocalModelStorage, metadata: object) -> None:
    [message] = _override(storage).process([_classified(metadata)])
    assert message.get("intent") == {"name": "internet_down", "confidence": 0.9}


# ------------------------------------------------------------------------------------------ transliteration
# The reader needs pymorphy3's dictionary (the bot environment has it); one component for the module.
def _translit_reader() -> Any:
    from bot.components.transliteration_reader import TransliterationReader

    return TransliterationReader({})


@pytest.fixture(scope="module")
def translit() -> Any:
    return _translit_reader()


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("ne hochu zhit", "не хочу жить"),
        ("kak otpisatsya ot vseh uslug", "как отписаться от всех услуг"),
        ("poteryal mobilnik na koncerte", "потерял мобильник на концерте"),
        ("Internet ne rabotaet s utra", "интернет не работает с утра"),
    ],
)
def test_translit_russian_is_read_in_cyrillic_and_the_original_kept(translit: Any, written: str, read: str) -> None:
    from bot.components.transliteration_reader import ORIGINAL_TEXT_KEY

    [message] = translit.process([Message(data={TEXT: written})])
    assert message.get(TEXT) == read
    assert message.get(ORIGINAL_TEXT_KEY) == written
    # the text as written is part of the parse result, so nothing the customer wrote is lost
    assert message.as_dict(only_output_properties=True)[ORIGINAL_TEXT_KEY] == written


@pytest.mark.parametrize(
    "text",
    [
        "интернет не работает",
        "лампочка WAN не горит, роутер tp-link",  # Cyrillic with Latin names: Russian already
        "можно pay через apple pay?",
        "my router is not working",
        "do you accept SBP fast payments",
        "how do i make invoices come to my email automatically",
        "order status",
        "delete my personal data",
        "privet",  # one word: too little to tell from English "sure"
        "/greet",
        "ZB-4829173",
        "",
    ],
)
def test_cyrillic_english_and_commands_pass_untouched(translit: Any, text: str) -> None:
    from bot.components.transliteration_reader import ORIGINAL_TEXT_KEY

    [message] = translit.process([Message(data={TEXT: text})])
    assert message.get(TEXT) == text
    assert message.get(ORIGINAL_TEXT_KEY) is None


def test_no_dictionary_is_loaded_for_messages_without_latin_letters() -> None:
    reader = _translit_reader()
    reader.process([Message(data={TEXT: "интернет не работает"}), Message(data={TEXT: "89161234567"})])
    assert reader._gate is None


def test_training_examples_are_read_the_same_way_with_their_entities(translit: Any) -> None:
    from bot.components.transliteration_reader import ORIGINAL_TEXT_KEY

    order = {"entity": "order_id", "start": 14, "end": 24, "value": "ZB-4829173"}
    address = {"entity": "address", "start": 22, "end": 34, "value": "ul. Lenina 5"}
    data = TrainingData(
        [
            Message(data={TEXT: "status zakaza ZB-4829173", "intent": "order_status", "entities": [order]}),
            Message(
                data={TEXT: "inet propal po adresu ul. Lenina 5", "intent": "internet_down", "entities": [address]}
            ),
            Message(data={TEXT: "интернет не работает", "intent": "internet_down"}),
            Message(data={TEXT: "my internet is down", "intent": "internet_down"}),
        ]
    )
    examples = translit.process_training_data(data).training_examples
    texts = [m.get(TEXT) for m in examples]
    assert texts[0] == "статус заказа ZB-4829173"
    assert texts[1].startswith("инет пропал по адресу ") and "Lenina" not in texts[1]
    assert texts[2:] == ["интернет не работает", "my internet is down"]
    assert examples[0].get(ORIGINAL_TEXT_KEY) == "status zakaza ZB-4829173"
    assert examples[2].get(ORIGINAL_TEXT_KEY) is None
    # the annotations point at the same words in the reading
    [moved_order] = examples[0].get("entities")
    assert texts[0][moved_order["start"] : moved_order["end"]] == moved_order["value"] == "ZB-4829173"
    [moved_address] = examples[1].get("entities")
    assert texts[1][moved_address["start"] : moved_address["end"]] == moved_address["value"]
    assert moved_address["value"].endswith(" 5") and moved_address["value"] != "ul. Lenina 5"


def test_the_restorer_puts_the_text_as_written_back(translit: Any) -> None:
    from bot.components.transliteration_reader import READING_KEY, TransliterationRestorer

    written = "zakaz ZB-4829173 ne prishel"
    [message] = translit.process([Message(data={TEXT: written})])
    reading = message.get(TEXT)
    assert reading != written
    start = reading.index("ZB-")
    # what an extractor finds in the reading...
    message.set("entities", [{"entity": "order_id", "start": start, "end": start + 10, "value": "ZB-4829173"}])
    message.set("intent", {"name": "delivery_delay", "confidence": 0.9}, add_to_output=True)
    [message] = TransliterationRestorer().process([message])
    parsed = message.as_dict(only_output_properties=True)
    # ...points at the customer's own text, which the parse result returns
    assert parsed[TEXT] == written and parsed[READING_KEY] == reading
    [entity] = parsed["entities"]
    assert written[entity["start"] : entity["end"]] == "ZB-4829173"
    assert parsed["intent"]["name"] == "delivery_delay"


def test_the_restorer_leaves_a_message_that_was_not_read() -> None:
    from bot.components.transliteration_reader import READING_KEY, TransliterationRestorer

    [message] = TransliterationRestorer().process([Message(data={TEXT: "my internet is down"})])
    assert message.get(TEXT) == "my internet is down" and message.get(READING_KEY) is None


def test_the_pipeline_trains_and_parses_translit_through_rasa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both components in a small Rasa NLU pipeline: trained from YAML, loaded, and parsed through the graph."""
    import asyncio

    # Rasa's training cache is keyed by component name and config, not code: none here, nor in the project's
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "cache"))
    monkeypatch.setenv("RASA_MAX_CACHE_SIZE", "0")

    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    config = tmp_path / "config.yml"
    config.write_text(
        "recipe: default.v1\nlanguage: ru\nassistant_id: test\npipeline:\n"
        "  - name: bot.components.transliteration_reader.TransliterationReader\n"
        "  - name: WhitespaceTokenizer\n"
        "  - name: CountVectorsFeaturizer\n"
        "  - name: bot.components.linear_intent_classifier.LinearIntentClassifier\n"
        "  - name: bot.components.transliteration_reader.TransliterationRestorer\n",
        encoding="utf-8",
    )
    nlu = tmp_path / "nlu.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: crisis\n  examples: |\n    - не хочу жить\n    - я больше не могу жить\n    - хочу умереть\n"
        "- intent: internet_down\n  examples: |\n    - интернет не работает\n    - нет интернета\n"
        "    - internet ne rabotaet s utra\n"
        "- intent: greet\n  examples: |\n    - привет\n    - здравствуйте\n    - hello\n",
        encoding="utf-8",
    )
    model = train_nlu(str(config), str(nlu), str(tmp_path / "models"), fixed_model_name="translit")
    assert model
    agent = Agent.load(model)
    parsed = asyncio.run(agent.parse_message("ya ne hochu zhit"))
    assert parsed["text"] == "ya ne hochu zhit"
    assert parsed["text_read_as"] == "я не хочу жить"
    assert parsed["intent"]["name"] == "crisis"
    assert "text_read_as" not in asyncio.run(agent.parse_message("hello there"))
