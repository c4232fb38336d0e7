"""What each tone (zabota/tone/rules.yml) looks like on the page, as checks a text can fail: the bot's responses
(bot/domain.yml), the gateway's own texts (gateway/texts.py) and the outreach messages a lead writes
(zabota/outreach/rules.yml, refused at start when a text breaks its tone).

- formal: «Вы» and its forms capitalised, no emoji, no English contractions;
- friendly: «вы» in lower case (except where a sentence starts), at most one emoji;
- neutral: «вы» in lower case, no emoji;
- a sensitive text or one read out on a call has no emoji in any tone;
- a Russian text is written in Cyrillic, an English one is not (a quoted «name» aside).

Plain standard library only: the bot's environment imports it too.
"""

from __future__ import annotations

import re

EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]")
# «вы» and its forms as words; the formal Russian texts write them capitalised
YOU_RU = re.compile(r"\b(?:вы|вас|вам|вами|ваш\w*)\b", re.IGNORECASE)
# what a sentence may start after: nothing, end punctuation, a new line, an opening quote
SENTENCE_START = re.compile(r"(?:^|[.!?…:]\s+|\n\s*|«)$")
CONTRACTION = re.compile(r"n't\b|'(?:re|ll|ve|m|d)\b|\b(?:it|that|here|there|what|let|who)'s\b", re.IGNORECASE)
QUOTED = re.compile(r"«[^»]*»")  # product names and SMS words stay Russian in English texts
CYRILLIC = re.compile("[\u0400-\u04ff]")


def style_problems(text: str, *, tone: str, lang: str, sensitive: bool = False, spoken: bool = False) -> list[str]:
    """Why ``text`` does not read as ``tone`` in ``lang``; [] when it does."""
    problems = []
    emoji = len(EMOJI.findall(text))
    if emoji and (tone != "friendly" or sensitive or spoken):
        problems.append("an emoji in a " + ("spoken" if spoken else "sensitive" if sensitive else tone) + " text")
    elif emoji > 1:
        problems.append(f"{emoji} emoji (at most one)")
    if lang == "ru":
        for match in YOU_RU.finditer(text):
            capital = match.group()[0] == "В"
            if tone == "formal" and not capital:
                problems.append(f"«{match.group()}» in a formal text (write «В…»)")
            elif tone != "formal" and capital and not SENTENCE_START.search(text[: match.start()]):
                problems.append(f"«{match.group()}» capitalised in a {tone} text")
    if lang == "en" and tone == "formal" and (contraction := CONTRACTION.search(text)):
        problems.append(f"the contraction {contraction.group()!r} in a formal text")
    if bool(CYRILLIC.search(QUOTED.sub("", text))) != (lang == "ru"):
        problems.append(f"not written in {lang}")
    return problems
