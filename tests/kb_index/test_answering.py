"""kb_index/answering.py: which article the bot shows, what of it, and when it stops trying."""

from __future__ import annotations

import pytest

from kb_index.answering import (
    ESCALATION_REASON,
    MAX_STEPS_CHARS,
    DidYouMean,
    KbChoice,
    KbCounters,
    choose_article,
    steps_text,
)
from kb_index.search import Hit, SearchResponse


def hit(doc_id: str, score: float) -> Hit:
    return Hit(
        id=doc_id,
        lang="ru",
        title=doc_id.title(),
        url=f"https://zabota.example/help/ru/{doc_id}",
        score=score,
        snippet="1. step",
        heading="",
        dense=score,
        lexical=score,
    )


def response(*hits: Hit, threshold: float = 0.5) -> SearchResponse:
    return SearchResponse(query="q", lang="ru", hits=list(hits), threshold=threshold)


# -- choose_article -----------------------------------------------------------------------------------------------
def test_the_intent_topic_among_the_top_three_wins_over_a_better_hit() -> None:
    found = response(hit("roaming", 0.9), hit("router-reboot", 0.8), hit("call-forwarding", 0.7))
    choice = choose_article(found, "call-forwarding")
    assert choice == KbChoice(found.hits[2], "intent_topic")


def test_the_intent_topic_wins_even_below_the_threshold() -> None:
    found = response(hit("roaming", 0.3), hit("router-reboot", 0.2))
    assert choose_article(found, "router-reboot") == KbChoice(found.hits[1], "intent_topic")


def test_the_intent_topic_below_the_top_three_does_not_count() -> None:
    found = response(hit("a", 0.9), hit("b", 0.8), hit("c", 0.7), hit("roaming", 0.6))
    assert choose_article(found, "roaming") == KbChoice(found.hits[0], "search")


def test_agree_within_is_the_number_of_top_hits_looked_at() -> None:
    found = response(hit("a", 0.9), hit("roaming", 0.8))
    assert choose_article(found, "roaming", agree_within=1).source == "search"
    assert choose_article(found, "roaming", agree_within=2).source == "intent_topic"


def test_without_an_intent_topic_the_answered_top_hit() -> None:
    found = response(hit("roaming", 0.6), hit("router-reboot", 0.55))
    assert choose_article(found, None) == KbChoice(found.hits[0], "search")


def test_an_intent_topic_not_found_falls_back_to_the_answered_top_hit() -> None:
    found = response(hit("roaming", 0.6))
    assert choose_article(found, "sim-replacement") == KbChoice(found.hits[0], "search")


def test_the_threshold_itself_is_an_answer() -> None:
    found = response(hit("roaming", 0.5), threshold=0.5)
    assert choose_article(found, None).source == "search"


@pytest.mark.parametrize("topic", [None, "sim-replacement"])
def test_no_answer_below_the_threshold(topic: str | None) -> None:
    assert choose_article(response(hit("roaming", 0.49), hit("b", 0.3)), topic) == KbChoice(None, "none")


def test_no_hits_is_no_answer() -> None:
    assert choose_article(response(), "roaming") == KbChoice(None, "none")


# -- steps_text ---------------------------------------------------------------------------------------------------
def test_markdown_emphasis_and_code_marks_are_dropped() -> None:
    snippet = "1. Open **My Zabota**.\n2. Go to *Services* or __Settings__ and _Calls_.\n3. Enter `internet.zabota`."
    assert steps_text(snippet) == (
        "1. Open My Zabota.\n2. Go to Services or Settings and Calls.\n3. Enter internet.zabota."
    )


def test_russian_emphasis() -> None:
    assert steps_text("Откройте **Мой Забота**, раздел *Услуги*") == "Откройте Мой Забота, раздел Услуги"


def test_codes_keep_their_stars_and_names_their_underscores() -> None:
    snippet = "Dial `*100#`, or `**21*+7XXXXXXXXXX#` to forward calls. Telegram: @zabota_care_bot."
    assert steps_text(snippet) == "Dial *100#, or **21*+7XXXXXXXXXX# to forward calls. Telegram: @zabota_care_bot."


def test_list_bullets_and_lone_stars_stay() -> None:
    assert steps_text("* one\n* two\n2 * 3 * 4") == "* one\n* two\n2 * 3 * 4"


def test_surrounding_whitespace_is_stripped() -> None:
    assert steps_text("\n  1. step  \n") == "1. step"


def test_short_text_is_not_cut() -> None:
    text = "x" * MAX_STEPS_CHARS
    assert steps_text(text) == text


def test_long_text_is_cut_at_a_line_end() -> None:
    lines = [f"{i}. " + "word " * 10 for i in range(1, 40)]
    text = "\n".join(line.strip() for line in lines)
    result = steps_text(text, limit=200)
    assert result.endswith(" …")
    kept = result.removesuffix(" …")
    assert len(kept) <= 200
    assert text.startswith(kept)
    assert text[len(kept)] == "\n"  # whole lines only
    assert kept.splitlines()[-1] in text.splitlines()


def test_long_text_without_a_late_line_end_is_cut_at_the_limit() -> None:
    text = "short\n" + "a" * 500
    assert steps_text(text, limit=100) == ("short\n" + "a" * 94) + " …"


def test_the_default_limit() -> None:
    text = "\n".join(["step " * 20] * 30)
    assert len(steps_text(text)) <= MAX_STEPS_CHARS + len(" …")


# -- KbCounters ---------------------------------------------------------------------------------------------------
def test_a_fresh_conversation_does_not_escalate() -> None:
    assert KbCounters() == KbCounters(0, 0)
    assert not KbCounters().escalate


def test_an_answer_resets_the_misses_and_keeps_the_unhelpful_count() -> None:
    assert KbCounters(1, 1).after_answer(True) == KbCounters(1, 0)


def test_a_miss_counts() -> None:
    assert KbCounters(1, 0).after_answer(False) == KbCounters(1, 1)


def test_two_misses_in_a_row_escalate() -> None:
    once = KbCounters().after_answer(False)
    assert not once.escalate
    assert once.after_answer(False).escalate


def test_misses_with_an_answer_between_do_not_escalate() -> None:
    state = KbCounters().after_answer(False).after_answer(True).after_answer(False)
    assert state == KbCounters(0, 1)
    assert not state.escalate


def test_two_unhelpful_answers_in_a_row_escalate() -> None:
    once = KbCounters().after_answer(True).after_feedback(False)
    assert once == KbCounters(1, 0)
    assert not once.escalate
    twice = once.after_answer(True).after_feedback(False)
    assert twice == KbCounters(2, 0)
    assert twice.escalate


def test_helpful_resets_the_unhelpful_count() -> None:
    state = KbCounters(1, 1).after_feedback(True)
    assert state == KbCounters(0, 1)
    assert not state.after_feedback(False).escalate


def test_the_escalation_reason() -> None:
    assert ESCALATION_REASON == "kb_unhelpful"


# -- did you mean -------------------------------------------------------------------------------------------------


def test_two_articles_the_search_cannot_tell_apart_are_both_offered() -> None:
    found = response(hit("router-reboot", 0.71), hit("slow-internet", 0.70), hit("roaming", 0.4))
    choice = choose_article(found, None, did_you_mean=DidYouMean(margin=0.02))
    assert choice.hit is None and choice.source == "did_you_mean"
    assert [h.id for h in choice.options] == ["router-reboot", "slow-internet"]


def test_a_clear_best_article_is_shown_alone() -> None:
    found = response(hit("router-reboot", 0.75), hit("slow-internet", 0.70))
    assert choose_article(found, None, did_you_mean=DidYouMean(margin=0.02)) == KbChoice(found.hits[0], "search")


def test_the_intent_topic_among_the_first_results_is_never_a_question() -> None:
    found = response(hit("router-reboot", 0.71), hit("slow-internet", 0.70))
    choice = choose_article(found, "slow-internet", did_you_mean=DidYouMean(margin=0.05))
    assert choice == KbChoice(found.hits[1], "intent_topic")


def test_the_same_article_in_two_languages_is_offered_once() -> None:
    found = response(hit("roaming", 0.71), hit("roaming", 0.70), hit("sim-replacement", 0.5))
    assert choose_article(found, None, did_you_mean=DidYouMean(margin=0.02)) == KbChoice(found.hits[0], "search")


def test_under_the_threshold_the_floor_offers_the_two_best() -> None:
    found = response(hit("roaming", 0.47), hit("sim-replacement", 0.45), threshold=0.5)
    assert choose_article(found, None, did_you_mean=DidYouMean(floor=0.0)).source == "none"
    choice = choose_article(found, None, did_you_mean=DidYouMean(floor=0.05))
    assert [h.id for h in choice.options] == ["roaming", "sim-replacement"]


def test_did_you_mean_can_be_turned_off() -> None:
    found = response(hit("router-reboot", 0.71), hit("slow-internet", 0.70))
    assert choose_article(found, None, did_you_mean=DidYouMean(enabled=False)).source == "search"
