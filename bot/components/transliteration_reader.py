"""Russian typed in Latin letters («ne hochu zhit», «kak otpisatsya ot vseh uslug») read in Cyrillic before the
NLU pipeline sees it, and the customer's own text put back after it.

Why: the classifier's character n-grams and both sentence encoders learnt Russian from Cyrillic; a translit
message shares almost no n-grams with it and lands near nothing, so it fell to nlu_fallback. The project's
reader (zabota/transliteration.py, the one the triage uses) turns it into Cyrillic with pymorphy3's dictionary.

Two components, both in bot/config.yml:

- ``TransliterationReader``, first in the pipeline (before the tokenizer): when a message is Latin-letter
  Russian, its TEXT becomes the Cyrillic reading and the text as written is kept under ``text_as_written``.
  The same happens to every training example (entity offsets moved with it), so the classifier learns and
  predicts on the same script. Cyrillic messages, commands ("/intent") and English pass untouched; so does a
  message whose Latin words are mostly English (sklearn's English stop words, the reader's English markers and
  a short list of everyday customer words) or that has fewer than two Latin words read as Russian: one word is
  too little to tell «privet» from "sure".
- ``TransliterationRestorer``, last: puts the text as written back into TEXT, keeps the reading under
  ``text_read_as`` and moves the entities' offsets (and values taken verbatim from the text) back onto the
  original, so ``/model/parse`` returns the customer's own words. The tracker would keep them anyway: Rasa's
  ``MessageProcessor._handle_message_with_tracker`` logs ``UserUttered(message.text, ...)`` from the
  UserMessage, but the event's ``parse_data["text"]`` comes from the pipeline.

pymorphy3's dictionary (about 15 MB) loads on the first message that has Latin letters, once per component;
nothing is read at import.
"""

from __future__ import annotations

import logging
import re
from difflib import SequenceMatcher
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from zabota.transliteration import ENGLISH_MARKERS, RussianTransliteration

logger = logging.getLogger(__name__)

# the message as the customer wrote it (set by the reader), and the Cyrillic reading (set by the restorer)
ORIGINAL_TEXT_KEY = "text_as_written"
READING_KEY = "text_read_as"

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'`]*")
# everyday English of customer messages that the dictionary reads as Russian words («order» is «ордер», «card»
# «кард», «slow» «слов»); words customers also write in Russian translit («status», «plan», «super», «data»,
# «bot», «login», «problem», «day», «son», «stop», «box», «set», «let», «nah», «pay» as in «apple pay») are
# not here
_CUSTOMER_ENGLISH = frozenset(
    {
        "order", "orders", "card", "cards", "phone", "fone", "number", "account", "acct", "money", "payment",
        "paid", "charge", "charged", "refund", "return", "delivery", "deliver", "package", "parcel",
        "cancel", "tariff", "service", "network", "connection", "speed", "slow", "broken", "stolen", "lost",
        "block", "blocked", "delete", "personal", "real", "person", "human", "talk", "speak", "sure", "wanna",
        "gonna", "gotta", "yh", "yep", "nope", "check", "change", "quit", "rock", "dog", "cat", "pet",
        "hair", "best", "page", "load", "site", "app", "like", "love", "nice", "good", "bad", "great",
        "new", "old", "time", "today", "tomorrow", "yesterday", "week", "month", "year", "home", "house",
        "address", "street", "city", "message", "text", "reply", "wrong", "right", "issue", "error", "fix",
        "fixed", "make", "know", "think", "tell", "said", "send", "sent", "receive", "received", "open",
        "close", "closed", "turn", "long", "late", "wait", "waiting", "soon", "second", "minute", "minutes",
        "hour", "hours", "days", "weeks", "months", "cash", "price", "cost", "fee", "free", "extra", "way",
        "thing", "things", "someone", "somebody", "guy", "guys", "man", "woman", "mom", "dad", "daughter", "wife",
        "husband", "family", "friend", "kid", "kids", "child", "died", "dead", "passed", "away",
    }
)  # fmt: skip
# English stop words that are also short Russian words in translit («so mnoj», «bylo by», «kto-to», «on», «im»)
_ALSO_RUSSIAN = frozenset({"a", "i", "u", "to", "no", "do", "my", "on", "so", "by", "im", "me", "he", "her", "ten"})
ENGLISH_WORDS = (ENGLISH_STOP_WORDS | ENGLISH_MARKERS | _CUSTOMER_ENGLISH) - _ALSO_RUSSIAN


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


class TranslitGate:
    """Decides whether a message is Latin-letter Russian and returns its Cyrillic reading (else None)."""

    def __init__(self, reader: RussianTransliteration, english_share: float, min_words_read: int) -> None:
        self._reader = reader
        self._english_share = english_share
        self._min_words_read = min_words_read

    def read(self, text: str) -> Optional[str]:
        if not text or text.startswith(INTENT_MESSAGE_PREFIX):
            return None
        latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
        cyrillic = sum(1 for ch in text if _is_cyrillic(ch))
        # a Cyrillic message with Latin words in it («лампочка WAN не горит», «можно pay через apple pay») is
        # Russian already: only a message mostly in Latin letters is read
        if latin <= 2 * cyrillic:
            return None
        words = [w.lower() for w in _LATIN_WORD.findall(text)]
        if len(words) < self._min_words_read:
            return None
        # the share among the words that can be told apart: «my», «to», «no» are as Russian as they are English
        english = sum(1 for w in words if w in ENGLISH_WORDS)
        if english and english >= self._english_share * sum(1 for w in words if w not in _ALSO_RUSSIAN):
            return None
        reading = self._reader.read(text)
        if reading is None or reading.words_read < self._min_words_read:
            return None
        return reading.text


def _offset_map(source: str, target: str) -> Callable[[int, bool], int]:
    """Maps a character offset in ``source`` to ``target`` (an end offset when the flag is set): the two texts
    differ only in the words the reader replaced, and no Cyrillic letter equals a Latin one, so the matching
    blocks are exactly what stayed; an offset inside a replaced word moves to that word's edge."""
    opcodes = SequenceMatcher(None, source, target, autojunk=False).get_opcodes()

    def convert(offset: int, is_end: bool) -> int:
        if offset <= 0:
            return 0
        if offset >= len(source):
            return len(target)
        for tag, i1, i2, j1, j2 in opcodes:
            if is_end and i1 < offset <= i2:
                return j1 + (offset - i1) if tag == "equal" else j2
            if not is_end and i1 <= offset < i2:
                return j1 + (offset - i1) if tag == "equal" else j1
        return len(target)

    return convert


def _moved_entities(entities: Sequence[Dict[Text, Any]], source: str, target: str) -> List[Dict[Text, Any]]:
    """The entities with their offsets moved from ``source`` onto ``target``; a value that was the annotated
    text itself becomes the text at the new offsets (a synonym's value stays what it was)."""
    convert = _offset_map(source, target)
    moved = []
    for entity in entities:
        start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
        if not isinstance(start, int) or not isinstance(end, int):
            moved.append(entity)
            continue
        new_start, new_end = convert(start, False), convert(end, True)
        updated = {**entity, ENTITY_ATTRIBUTE_START: new_start, ENTITY_ATTRIBUTE_END: new_end}
        if entity.get(ENTITY_ATTRIBUTE_VALUE) == source[start:end]:
            updated[ENTITY_ATTRIBUTE_VALUE] = target[new_start:new_end]
        moved.append(updated)
    return moved


def _pymorphy_known() -> Callable[[str], bool]:
    import pymorphy3  # imported here: the dictionary loads with the analyser, on the first Latin message

    return pymorphy3.MorphAnalyzer(lang="ru").word_is_known


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class TransliterationReader(GraphComponent):
    """Replaces the TEXT of a Latin-letter Russian message with its Cyrillic reading (training and inference)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Latin words of the message that are English words, at least this share: the message is English
            "english_share": 0.2,
            # fewer Latin words read as Russian than this: the message stays as written
            "min_words_read": 2,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["pymorphy3"]

    def __init__(self, config: Dict[Text, Any], known: Optional[Callable[[str], bool]] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._known = known
        self._gate: Optional[TranslitGate] = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TransliterationReader":
        return cls(config)

    def _reading(self, text: str) -> Optional[str]:
        if not any(ch.isascii() and ch.isalpha() for ch in text):
            return None  # no Latin letter: nothing to read, and no dictionary to load
        if self._gate is None:
            known = self._known or _pymorphy_known()
            self._gate = TranslitGate(
                RussianTransliteration(known),
                english_share=float(self._config["english_share"]),
                min_words_read=int(self._config["min_words_read"]),
            )
            logger.debug("transliteration_reader.loaded")
        return self._gate.read(text)

    def _read(self, message: Message) -> Optional[Tuple[str, str]]:
        text = message.get(TEXT)
        if not isinstance(text, str) or message.get(ORIGINAL_TEXT_KEY) is not None:
            return None  # no text, or read already
        reading = self._reading(text)
        if reading is None or reading == text:
            return None
        return text, reading

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            read = self._read(message)
            if read is None:
                continue
            original, reading = read
            message.set(ORIGINAL_TEXT_KEY, original, add_to_output=True)
            message.set(TEXT, reading)
            logger.debug("transliteration_reader.read %d chars", len(original))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        count = 0
        for example in training_data.training_examples:
            read = self._read(example)
            if read is None:
                continue
            original, reading = read
            entities = example.get(ENTITIES)
            if entities:
                example.set(ENTITIES, _moved_entities(entities, original, reading))
            example.set(ORIGINAL_TEXT_KEY, original)
            example.set(TEXT, reading)
            count += 1
        logger.info("transliteration_reader.training_examples_read %d", count)
        return training_data


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class TransliterationRestorer(GraphComponent):
    """Puts the text as written back into TEXT after the pipeline (inference only; last in the pipeline)."""

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
    ) -> "TransliterationRestorer":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            original = message.get(ORIGINAL_TEXT_KEY)
            reading = message.get(TEXT)
            if not isinstance(original, str) or not isinstance(reading, str):
                continue
            entities = message.get(ENTITIES)
            if entities:
                message.set(ENTITIES, _moved_entities(entities, reading, original), add_to_output=True)
            message.set(READING_KEY, reading, add_to_output=True)
            message.set(TEXT, original)
        return messages
