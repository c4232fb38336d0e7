"""Russian typed in Latin letters («internet ne rabotaet», «ya bolshe ne mogu») read back as Cyrillic, so that
the triage's Russian patterns and the classifier see Russian words.

People write translit in many schemes (zh/j for «ж», sh/w for «ш», ch/4 for «ч», y/i/j for «й», ya/ja for «я»),
so one Latin word has several Cyrillic readings: this module spells them out in order of likelihood and keeps
the first one the Russian dictionary knows (``known``: pymorphy3's ``word_is_known``, injected, so nothing
is loaded at import). A message counts as translit only when its Latin words read as Russian words more than
they read as English: "my router is not working" stays English although «роутер» is a Russian word.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

# letter groups, longest first; each maps to its Cyrillic readings, likeliest first
_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shch", ("щ",)),
    ("sch", ("щ", "сч")),
    ("zh", ("ж",)),
    ("kh", ("х",)),
    ("ch", ("ч",)),
    ("sh", ("ш",)),
    ("ts", ("ц", "тс")),
    ("tz", ("ц",)),
    ("yu", ("ю",)),
    ("ju", ("ю",)),
    ("iu", ("ю", "иу")),
    ("ya", ("я",)),
    ("ja", ("я",)),
    ("ia", ("я", "иа")),
    ("yo", ("ё", "йо")),
    ("jo", ("ё", "йо")),
    ("ye", ("е", "ые")),
    ("je", ("е",)),
    ("a", ("а",)),
    ("b", ("б",)),
    ("c", ("ц", "к")),
    ("d", ("д",)),
    ("e", ("е", "э")),
    ("f", ("ф",)),
    ("g", ("г",)),
    ("h", ("х",)),
    ("i", ("и", "й", "ы")),
    ("j", ("й", "ж")),
    ("k", ("к",)),
    ("l", ("л",)),
    ("m", ("м",)),
    ("n", ("н",)),
    ("o", ("о",)),
    ("p", ("п",)),
    ("q", ("к",)),
    ("r", ("р",)),
    ("s", ("с",)),
    ("t", ("т",)),
    ("u", ("у",)),
    ("v", ("в",)),
    ("w", ("ш", "в")),
    ("x", ("х", "кс")),
    ("y", ("ы", "й", "и")),
    ("z", ("з",)),
    ("'", ("ь",)),
    ("`", ("ь",)),
    ("4", ("ч",)),
    ("6", ("ш",)),
)
_VOWELS = frozenset("аеёиоуыэюя")
# how many readings of one word are tried at most (the likeliest first)
MAX_READINGS = 512
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'`46]*")
# English words that are never Russian in translit; words that are both («no» = «но», «to» = «то», «my» = «мы»,
# «on» = «он», «i» = «и», «a» = «а», «do» = «до») are left out
ENGLISH_MARKERS = frozenset(
    [
        "the",
        "is",
        "are",
        "am",
        "was",
        "were",
        "be",
        "been",
        "being",
        "you",
        "your",
        "yours",
        "it",
        "its",
        "and",
        "for",
        "with",
        "have",
        "has",
        "had",
        "does",
        "did",
        "not",
        "can",
        "cant",
        "can't",
        "what",
        "how",
        "why",
        "where",
        "when",
        "who",
        "which",
        "this",
        "that",
        "these",
        "those",
        "please",
        "pls",
        "plz",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "thx",
        "of",
        "in",
        "at",
        "from",
        "will",
        "would",
        "should",
        "could",
        "get",
        "got",
        "there",
        "here",
        "about",
        "just",
        "want",
        "need",
        "help",
        "me",
        "our",
        "us",
        "they",
        "them",
        "their",
        "he",
        "she",
        "his",
        "her",
        "if",
        "or",
        "but",
        "so",
        "than",
        "then",
        "any",
        "some",
        "all",
        "my's",
        "i'm",
        "don't",
        "doesn't",
        "didn't",
        "isn't",
        "won't",
        "wont",
        "im",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "an",
        "by",
        "up",
        "out",
        "over",
        "again",
        "still",
        "also",
        "very",
        "really",
        "sorry",
        "ok",
        "okay",
        "yes",
        "yeah",
        "working",
        "work",
        "works",
    ]
)
# Latin words that read as Russian but are as likely English: converted in a translit message, never its evidence
NEUTRAL = frozenset(
    ["my", "no", "to", "on", "i", "a", "do", "u", "me", "internet", "router", "modem", "operator", "sms", "wifi", "ok"]
)
# short Russian words people write in translit: a reading under three letters counts only if it is one of these
_SHORT_RUSSIAN = frozenset(
    [
        "я",
        "ты",
        "он",
        "мы",
        "вы",
        "не",
        "на",
        "да",
        "нет",
        "мне",
        "по",
        "за",
        "от",
        "из",
        "до",
        "уже",
        "всё",
        "все",
        "как",
        "что",
        "где",
        "кто",
        "чем",
        "там",
        "тут",
        "так",
        "вот",
        "ну",
        "же",
        "бы",
        "ли",
        "со",
        "во",
        "ко",
        "об",
        "при",
        "про",
        "без",
        "для",
        "мой",
        "моя",
        "мою",
        "моё",
        "мои",
        "она",
        "они",
        "оно",
        "его",
        "её",
        "ее",
        "их",
        "ему",
        "ей",
        "им",
        "нам",
        "вам",
        "у",
        "в",
        "с",
        "к",
        "о",
        "и",
        "а",
    ]
)


@dataclass(frozen=True)
class Reading:
    """A message with its Latin-letter Russian words in Cyrillic, and how many words were read."""

    text: str
    words_read: int


def _pieces(word: str) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    i = 0
    while i < len(word):
        for latin, readings in _GROUPS:
            if word.startswith(latin, i):
                out.append(readings)
                i += len(latin)
                break
        else:
            return []
    return out


def readings(word: str) -> list[str]:
    """The Cyrillic readings of one Latin word, likeliest first (at most ``MAX_READINGS``)."""
    pieces = _pieces(word.lower())
    if not pieces:
        return []
    out: list[str] = []
    for combo in itertools.product(*pieces):
        out.append("".join(combo))
        if len(out) >= MAX_READINGS:
            break
    # «й» after a consonant and «ы» after a vowel are rare: such readings go last
    return sorted(out, key=_oddness)


def _with_soft_sign(word: str) -> list[str]:
    """``word`` with one «ь» after a consonant, at the end first, then before another consonant."""
    out = []
    if word[-1] not in _VOWELS and word[-1] not in "йь":
        out.append(word + "ь")
    for i in range(len(word) - 1, 0, -1):
        if word[i - 1] not in _VOWELS and word[i - 1] not in "йь" and word[i] not in _VOWELS and word[i] != "ь":
            out.append(word[:i] + "ь" + word[i:])
    return out


def _oddness(word: str) -> int:
    odd = 0
    for prev, cur in itertools.pairwise(word):
        if cur == "й" and prev not in _VOWELS:
            odd += 1
        if cur == "ы" and prev in _VOWELS:
            odd += 1
    if word.startswith(("ы", "й")):
        odd += 1
    return odd


class RussianTransliteration:
    """``read(text)`` -> the text with its translit Russian words in Cyrillic, or None when the text is not
    translit Russian. ``known(word)`` says whether a Cyrillic word is a Russian word (pymorphy3)."""

    def __init__(self, known: Callable[[str], bool]) -> None:
        self._known = known
        self._memo: dict[str, str | None] = {}

    def word(self, latin: str) -> str | None:
        """The likeliest Russian reading of one Latin word, or None."""
        key = latin.lower()
        if key in self._memo:
            return self._memo[key]
        found: str | None = None
        candidates = readings(key)
        # the soft sign is mostly left out in translit («zhit», «den», «dengi»): each reading as written
        # first, then with one «ь» after a consonant
        # a final «-ит», «-ат», «-ыт», «-ут» is mostly an infinitive: «zhit» is «жить», not «жит»
        if key.endswith(("it", "at", "yt", "ut")) and len(key) > 3:
            candidates = [r + "ь" for r in candidates if r.endswith("т")] + candidates
        for reading in itertools.chain(candidates, (s for r in candidates for s in _with_soft_sign(r))):
            if len(reading) < 3 and reading not in _SHORT_RUSSIAN:
                continue
            if self._known(reading):
                found = reading
                break
        if len(self._memo) < 50_000:
            self._memo[key] = found
        return found

    def read(self, text: str) -> Reading | None:
        words = _LATIN_WORD.findall(text)
        if not words:
            return None
        english = sum(w.lower() in ENGLISH_MARKERS for w in words)
        russian = {w: r for w in words if w.lower() not in ENGLISH_MARKERS and (r := self.word(w))}
        evidence = sum(1 for w in words if w in russian and w.lower() not in NEUTRAL)
        if evidence < min(2, len(words)) or evidence < 2 * english or len(russian) * 2 < len(set(words)):
            return None
        russian_count = sum(1 for w in words if w in russian)

        def swap(match: re.Match[str]) -> str:
            reading = russian.get(match.group(0))
            if reading is None:
                return match.group(0)
            return reading.upper() if match.group(0).isupper() and len(reading) > 1 else reading

        return Reading(_LATIN_WORD.sub(swap, text), russian_count)
