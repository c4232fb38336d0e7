"""Intent "did you mean": when the NLU cannot tell two intents apart, the bot offers both instead of guessing.

Only between intents the knowledge base answers (the catalog gives each its article): an escalation intent is
never put behind a question (the triage decides those, and a person is never a button away from someone at
risk), and greetings or yes/no have no article to offer. The offer is the two articles' titles as buttons
(``actions.kb``), the same buttons as the search's own "did you mean".

Plain and stdlib-only: the action server and the NLU benchmark (``make eval-nlu``, in the bot's environment)
decide with the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zabota.catalog import Catalog

FALLBACK_INTENT = "nlu_fallback"


@dataclass(frozen=True)
class IntentDidYouMean:
    # the second intent's confidence is within this of the first's. Chosen on the development set (`python -m
    # bench.kb_intent_dev --out results/bench/wild_dev_kb_intents.csv`, then `make eval-nlu TEST=that SWEEP=1`):
    # 0.10 gives buttons to 5.8% of the questions, the right intent among them 56% of the time against 17% for
    # the first intent alone, and resolves 86.5% instead of 84.2%; 0.2-0.3 add buttons and resolve no more
    margin: float = 0.10
    # and the second intent is at least this confident: below it the second guess is noise, not a near miss
    floor: float = 0.10
    enabled: bool = True

    def choose(self, ranking: Sequence[tuple[str, float]], catalog: Catalog) -> tuple[str, str] | None:
        """The two intents to offer, best first, from the NLU's ranking (name, confidence; nlu_fallback is
        skipped), or None when the first intent stands."""
        if not self.enabled:
            return None
        ranked = sorted(((n, c) for n, c in ranking if n != FALLBACK_INTENT), key=lambda r: -r[1])
        if len(ranked) < 2:
            return None
        (first, p1), (second, p2) = ranked[0], ranked[1]
        if p1 - p2 >= self.margin or p2 < self.floor:
            return None
        topics = [offerable_topic(catalog, name) for name in (first, second)]
        if topics[0] is None or topics[1] is None or topics[0] == topics[1]:
            return None
        return first, second


def offerable_topic(catalog: Catalog, intent: str) -> str | None:
    """The article an intent may be offered by: a knowledge-base intent's, never an escalation's."""
    entry = catalog.intent(intent)
    if entry is None or entry.kb is None or entry.handling == "escalate":
        return None
    return entry.kb
