"""How the bot answers from the knowledge base: which article to show, what of it, and when to stop trying.

Plain logic for ``actions/kb.py``; no Rasa here.

- The article: the classifier's topic for the intent when the search also ranks it among the top results
  (two independent signals agree); otherwise the search's best article when its confidence clears the
  threshold; otherwise none ("no good answer").
- "Did you mean": when the search cannot tell two articles apart (the second within ``DidYouMean.margin`` of
  the best), or when the best is not quite good enough but close (within ``DidYouMean.floor`` under the
  threshold), the bot offers the two as buttons instead of guessing or giving up, as Rasa's reference
  assistant does. Each button sends the article's title, which the search finds first (bench.kb_did_you_mean
  checks every title).
- Two unhelpful answers in a row, or two questions in a row without a good answer, hand the customer to a
  person (reason ``kb_unhelpful``): a customer the knowledge base cannot help must not be kept in a loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from kb_index.search import Hit, SearchResponse

ESCALATION_REASON = "kb_unhelpful"
MAX_UNHELPFUL_IN_A_ROW = 2
MAX_MISSES_IN_A_ROW = 2
# The answer shows this much of the article's best section; the link has the rest.
MAX_STEPS_CHARS = 700

Source = Literal["intent_topic", "search", "did_you_mean", "none"]


@dataclass(frozen=True)
class DidYouMean:
    """When to offer articles as buttons rather than pick one. The figures are chosen on the development set
    (bench/data/wild_dev/kb.csv) by ``python -m bench.kb_did_you_mean``; docs/benchmarks.md has the sweep."""

    # the second article is offered with the best when its confidence is within this of the best's. 0.02 on
    # the development set: a wrong article shown 4.6% -> 1.2% of questions, buttons for 13%, the right article
    # among them 88%; 0.03 and up put buttons on a fifth of all questions for little more
    margin: float = 0.02
    # below the threshold, the two best are offered when the best is within this under the threshold. Off (0):
    # 0.03 already gives buttons to 55% of the out-of-scope questions (14% at 0) for 1.5 points more reached
    floor: float = 0.0
    options: int = 2
    enabled: bool = True


@dataclass(frozen=True)
class KbChoice:
    hit: Hit | None
    source: Source
    # the articles offered as "did you mean" buttons (source "did_you_mean"); hit is None then
    options: tuple[Hit, ...] = ()


def choose_article(
    response: SearchResponse,
    intent_topic: str | None,
    agree_within: int = 3,
    did_you_mean: DidYouMean | None = None,
) -> KbChoice:
    """The article to show, the articles to offer, or none. The intent's own topic among the first results wins
    outright (the classifier and the search agree): no question then."""
    if intent_topic is not None:
        for hit in response.hits[:agree_within]:
            if hit.id == intent_topic:
                return KbChoice(hit, "intent_topic")
    ask = did_you_mean or DidYouMean()
    hits = _distinct_articles(response.hits)
    if not hits:
        return KbChoice(None, "none")
    best = hits[0]
    if ask.enabled and len(hits) > 1:
        if response.answered:
            close = tuple(h for h in hits[1 : ask.options] if best.score - h.score < ask.margin)
            if close:
                return KbChoice(None, "did_you_mean", (best, *close))
        elif best.score >= response.threshold - ask.floor:
            return KbChoice(None, "did_you_mean", tuple(hits[: ask.options]))
    if response.answered:
        return KbChoice(best, "search")
    return KbChoice(None, "none")


def _distinct_articles(hits: list[Hit]) -> list[Hit]:
    """One hit per article (the search may return an article in two languages): the first of each."""
    seen: set[str] = set()
    out = []
    for hit in hits:
        if hit.id not in seen:
            seen.add(hit.id)
            out.append(hit)
    return out


# A code span keeps its content as written (`*100#` is a USSD code to dial); emphasis needs the same mark on both
# sides, and underscores count only at word edges (@zabota_care_bot is a name, not emphasis).
_MARKUP = re.compile(
    r"`([^`\n]+)`"
    r"|(\*\*|\*)(?=\S)([^*`\n]+?)(?<=\S)\2"
    r"|(?<!\w)(__|_)(?=\S)([^_`\n]+?)(?<=\S)\4(?!\w)"
)


def _unmark(match: re.Match[str]) -> str:
    return match.group(1) or match.group(3) or match.group(5)


def steps_text(snippet: str, limit: int = MAX_STEPS_CHARS) -> str:
    """The section as a chat message: Markdown emphasis and code marks dropped, cut at a line end."""
    text = _MARKUP.sub(_unmark, snippet).strip()
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + " …"


@dataclass(frozen=True)
class KbCounters:
    """Kept in the conversation (Rasa slots) between turns."""

    unhelpful_in_a_row: int = 0
    misses_in_a_row: int = 0

    def after_answer(self, answered: bool) -> KbCounters:
        if answered:
            return KbCounters(self.unhelpful_in_a_row, 0)
        return KbCounters(self.unhelpful_in_a_row, self.misses_in_a_row + 1)

    def after_feedback(self, helpful: bool) -> KbCounters:
        return KbCounters(0 if helpful else self.unhelpful_in_a_row + 1, self.misses_in_a_row)

    @property
    def escalate(self) -> bool:
        return self.unhelpful_in_a_row >= MAX_UNHELPFUL_IN_A_ROW or self.misses_in_a_row >= MAX_MISSES_IN_A_ROW
