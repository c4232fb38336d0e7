"""A message's clauses, each classified on its own by the NLU as well as the whole message: a customer folds the
sensitive part into a routine one («какой тариф самый дешёвый на месяц? дальше мне уже не понадобится, я всё для
себя решила» is change_tariff as a whole, crisis in its second half).

Split at sentence ends, line breaks and the joints where a second topic usually starts (but, by the way, «а»,
«кстати»); the clauses and each pair of neighbours are the units (a hint may span two short sentences). A
one-clause message has no units: the whole message's parse already covers it.
"""

from __future__ import annotations

import itertools
import re

_JOINT = re.compile(
    r"(?<=[.!?;…])\s+|\n+|\s+(?:но|а|и ещё|кстати|и вообще|but|and also|by the way|anyway)\s+", re.IGNORECASE
)
# shorter pieces say nothing on their own («ок», «да»)
MIN_CLAUSE_CHARS = 4
# at most this many units are classified per message: each is one more NLU parse (about 20-30 ms)
MAX_UNITS = 8


def clause_units(text: str) -> list[str]:
    """The clauses of ``text`` and each pair of neighbouring clauses, without repeats; none for one clause."""
    parts = [p.strip(" ,.-") for p in _JOINT.split(text) if p and len(p.strip()) >= MIN_CLAUSE_CHARS]
    if len(parts) < 2:
        return []
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(parts)]
    units = [u for u in dict.fromkeys([*parts, *pairs]) if u and u != text.strip()]
    return units[:MAX_UNITS]
