"""Questions in similar words, grouped (plain, no dependencies): the knowledge base's gaps are the questions no
article answered, and «не работает вайфай» and «вайфай совсем не работает!» are one gap, not two.

A text's *key words*: lower case, ё → е, every character that is not a letter a space (punctuation and digits
go), stop words dropped (a short Russian and English list), each remaining word cut crudely to its stem (a
common Russian or English ending removed, then at most ``STEM_LETTERS`` letters). Texts with the same key words
are one wording; wordings are then grouped greedily, most frequent first: a wording joins the earliest group
whose first (most frequent) wording shares at least ``MIN_JACCARD`` of their key words (|A ∩ B| / |A ∪ B|),
else it starts a group. The same texts in any order give the same groups.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STEM_LETTERS = 5
MIN_JACCARD = 0.5
# a stem shorter than this is left with its ending («дом» stays, «домами» → «дом»)
_MIN_STEM = 3


def _words(text: str) -> list[str]:
    return text.split()


STOP_WORDS = frozenset(
    _words(
        """
    а б без бы был была были было быть в вам вас ведь вот во все всё всего вы где да даже для до его ее её ей
    если есть еще ещё же за здесь и из или им их к как какой когда кто ли либо мне меня мной мы на над надо не
    нет ни но ну о об он она они оно от очень по под пожалуйста помогите почему при про с сам со совсем так
    такой там тебя то тоже только ты у уже хочу что чтобы чем эта эти это этот я подскажите скажите спасибо
    здравствуйте привет добрый день вечер утро можно нужно мой моя мое моё мои меня
    a an and are am at be but by can could do does did for from have has how i i'm im in is it its me my no
    not of on or please so that the this to was we what when where which who why will with would you your hi
    hello thanks thank there
    """
    )
)

# endings cut from a word's end, longest first (a crude stemmer: good enough to put «работает», «работают» and
# «работал» together, not a morphology)
_ENDINGS = tuple(
    sorted(
        _words(
            """
        ивший ывший ующий ающий яющий ившись ывшись ость ости остью ение ения ению ением ении ание ания анию
        анием ании ться тся ешь ет ют ут ит ат ят ем им ишь ете ите ает ают яет яют ует уют ал ала али ало ил
        ила или ило ел ела ели ыл ыла ыли ать ять ить еть уть ого его ому ему ыми ими ами ями ой ей ий ый ая
        яя ое ее ую юю ых их ом ем ах ях ов ев ам ям ы и а я у ю е о ь й
        ingly edly ing ed es s ly ment ments
        """
        ),
        key=len,
        reverse=True,
    )
)
_NOT_LETTER = re.compile(r"[^\w]|[\d_]")
_SPACES = re.compile(r"\s+")


def stem(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            word = word[: -len(ending)]
            break
    return word[:STEM_LETTERS]


def key_words(text: str) -> frozenset[str]:
    """The text's key words (see the module's docstring); empty for a text of stop words, digits or signs."""
    clean = _NOT_LETTER.sub(" ", text.lower().replace("ё", "е"))
    return frozenset(stem(word) for word in clean.split() if len(word) > 1 and word not in STOP_WORDS)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def shown(text: str) -> str:
    """A text as a group shows it: trimmed, its runs of white space one space."""
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class WordingGroup:
    """Texts of one wording group: ``members`` are the indexes of the texts given, in their order."""

    text: str  # the most frequent text of the group (ties: the shortest, then the first alphabetically)
    keys: frozenset[str]  # the key words of the group's first wording
    members: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.members)


def group_texts(texts: Sequence[str]) -> list[WordingGroup]:
    """``texts`` grouped by similar wording, the largest group first (ties: by text). Every text is in exactly
    one group; texts without key words are a group of their own."""
    keys_of: dict[str, frozenset[str]] = {}
    by_wording: dict[frozenset[str], list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        keys = keys_of.get(text)
        if keys is None:
            keys = keys_of[text] = key_words(text)
        by_wording[keys].append(index)
    # most frequent wording first; ties in the order of their sorted key words, never of the input
    wordings = sorted(by_wording, key=lambda keys: (-len(by_wording[keys]), sorted(keys)))
    seeds: list[frozenset[str]] = []
    grouped: list[list[int]] = []
    groups_with_word: dict[str, list[int]] = defaultdict(list)
    for keys in wordings:
        best: int | None = None
        if keys:
            candidates = sorted({g for word in keys for g in groups_with_word[word]})
            scored = [(jaccard(keys, seeds[g]), -g) for g in candidates]
            top = max(scored, default=None)
            if top is not None and top[0] >= MIN_JACCARD:
                best = -top[1]
        if best is None:
            best = len(seeds)
            seeds.append(keys)
            grouped.append([])
            for word in keys:
                groups_with_word[word].append(best)
        grouped[best].extend(by_wording[keys])
    result = [
        WordingGroup(text=_representative(texts[i] for i in members), keys=seed, members=tuple(sorted(members)))
        for seed, members in zip(seeds, grouped, strict=True)
    ]
    result.sort(key=lambda group: (-group.count, group.text))
    return result


def _representative(texts: Iterable[str]) -> str:
    counts = Counter(shown(text) for text in texts)
    return min(counts, key=lambda text: (-counts[text], len(text), text))
