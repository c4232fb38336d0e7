"""How the bot answers from the knowledge base: which article to show, what of it, and when to stop trying.

Plain logic for ``actions/kb.py``; no Rasa here.

- The article: the classifier's topic for the intent when the search also ranks it among the top results
  (two independent signals agree); otherwise the search's best article when its confidence clears the
  threshold; otherwise none ("no good answer").
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

Source = Literal["intent_topic", "search", "none"]


@dataclass(frozen=True)
class KbChoice:
    hit: Hit | None
    source: Source


def choose_article(response: SearchResponse, intent_topic: str | None, agree_within: int = 3) -> KbChoice:
    if intent_topic is not None:
        for hit in response.hits[:agree_within]:
            if hit.id == intent_topic:
                return KbChoice(hit, "intent_topic")
    if response.answered:
        return KbChoice(response.hits[0], "search")
    return KbChoice(None, "none")


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
