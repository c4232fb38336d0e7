from __future__ import annotations

from zabota.triage.clauses import MAX_UNITS, clause_units


def test_a_sensitive_half_after_a_routine_question_is_its_own_unit() -> None:
    text = "какой тариф самый дешевый на месяц? дальше мне уже не понадобится, я всё для себя решила"
    assert clause_units(text) == [
        "какой тариф самый дешевый на месяц?",
        "дальше мне уже не понадобится, я всё для себя решила",
    ]


def test_clauses_and_their_neighbour_pairs() -> None:
    text = "how do I set up call forwarding? also my bill is wrong. by the way thanks"
    units = clause_units(text)
    assert units[:2] == ["how do I set up call forwarding?", "also my bill is wrong"]
    assert "by the way thanks" in units
    assert "how do I set up call forwarding? also my bill is wrong" in units


def test_one_clause_has_no_units() -> None:
    assert clause_units("интернет не работает, я больше не хочу жить") == []
    assert clause_units("ок. да") == []  # pieces too short to mean anything alone


def test_the_units_are_capped() -> None:
    text = ". ".join(f"вопрос номер {i} про интернет" for i in range(10))
    assert len(clause_units(text)) == MAX_UNITS
