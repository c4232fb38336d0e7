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
