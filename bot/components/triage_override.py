"""Lets the gateway's triage decide the intent the dialogue acts on when it escalates.

The gateway classifies every message first (``/model/parse``, no side effects) and runs the triage
(zabota/triage: sensitive signals in the text, complexity across turns). When the triage escalates a message
that Rasa classified as routine - «интернет не работает, а бывший муж угрожает мне» is internet_down to the
classifier - the gateway sends the message with ``metadata["zabota_triage"] = {"override_intent": "crisis",
...}``. This component, after the FallbackClassifier (only the TransliterationRestorer, which gives the
customer's own text back, comes after it), replaces the predicted intent with that one, so the ordinary
rules run ``action_escalate`` and the customer hears the intent's own handoff text (helplines for crisis). The
classifier's own prediction stays in ``intent_ranking`` and is copied to ``zabota_triage.nlu_intent``.

Only the gateway can set this: Rasa's API is bound to 127.0.0.1 behind a token, and the gateway drops the key
from any client-supplied metadata. An unknown intent name is ignored (logged), never trusted blindly.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

METADATA_KEY = "zabota_triage"
OVERRIDE_KEY = "override_intent"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TriageIntentOverride(GraphComponent):
    """Applies ``metadata.zabota_triage.override_intent`` to the message's intent (intents seen in training only)."""

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self._storage = model_storage
        self._resource = resource
        self._intents: set = set(config.get("known_intents") or [])

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TriageIntentOverride":
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TriageIntentOverride":
        intents: List[str] = []
        try:
            with model_storage.read_from(resource) as directory:
                intents = (directory / "intents.txt").read_text(encoding="utf-8").split()
        except (ValueError, FileNotFoundError):
            logger.warning("triage_override.no_intents: every override will be ignored")
        return cls({**config, "known_intents": intents}, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        # The intents the dialogue knows: an override to anything else would reach no rule.
        intents = sorted(training_data.intents)
        with self._storage.write_to(self._resource) as directory:
            (directory / "intents.txt").write_text("\n".join(intents), encoding="utf-8")
        self._intents = set(intents)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._apply(message)
        return messages

    def _apply(self, message: Message) -> None:
        metadata = message.get("metadata") or {}
        triage: Optional[Dict[str, Any]] = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        if not isinstance(triage, dict):
            return
        target = triage.get(OVERRIDE_KEY)
        if not isinstance(target, str) or not target:
            return
        if target not in self._intents:
            logger.warning("triage_override.unknown_intent %s: ignored", target)
            return
        predicted = message.get(INTENT) or {}
        message.set(
            INTENT,
            {
                INTENT_NAME_KEY: target,
                # The escalation is certain (it was decided); the classifier's own confidence is kept below.
                PREDICTED_CONFIDENCE_KEY: 1.0,
            },
            add_to_output=True,
        )
        triage["nlu_intent"] = {
            "name": predicted.get(INTENT_NAME_KEY),
            "confidence": predicted.get(PREDICTED_CONFIDENCE_KEY),
        }
