from __future__ import annotations

import numpy as np
import pytest

from kb_index.lexical import Bm25, CharTfidf, create_lexical, stems

TEXTS = [
    "Restart the router: unplug it for thirty seconds",
    "Roaming prices abroad: a day in Turkey",
    "Payment not credited: send the receipt",
]


def _fitted(scorer: CharTfidf | Bm25, texts: list[str] = TEXTS) -> CharTfidf | Bm25:
    scorer.fit(texts)
    return scorer


def test_char_tfidf_tolerates_a_typo() -> None:
    scores = _fitted(CharTfidf()).scores("restrat the ruoter")
    assert int(np.argmax(scores)) == 0
    assert scores[0] > 0


def test_char_tfidf_ignores_case_and_yo() -> None:
    scorer = _fitted(CharTfidf(), ["Платёж не зачислен", "Роуминг за границей"])
    assert int(np.argmax(scorer.scores("ПЛАТЕЖ"))) == 0


def test_char_tfidf_scores_are_cosines() -> None:
    scores = _fitted(CharTfidf()).scores(TEXTS[1])
    assert scores.shape == (3,)
    assert scores[1] == pytest.approx(1.0, abs=1e-5)
    assert ((scores >= 0) & (scores <= 1 + 1e-6)).all()


def test_bm25_scores_are_between_0_and_1() -> None:
    scorer = _fitted(Bm25())
    for query in ["router", "restart the router router", "roaming prices abroad turkey day", TEXTS[2]]:
        scores = scorer.scores(query)
        assert ((scores >= 0) & (scores <= 1)).all(), query


def test_bm25_is_zero_without_a_shared_word() -> None:
    np.testing.assert_array_equal(_fitted(Bm25()).scores("completely unrelated words"), np.zeros(3))


def test_bm25_ranks_the_text_sharing_the_rare_word_first() -> None:
    scores = _fitted(Bm25()).scores("my receipt")
    assert int(np.argmax(scores)) == 2
    assert scores[0] == scores[1] == 0


def test_bm25_matches_russian_word_forms_by_stem() -> None:
    scorer = _fitted(Bm25(), ["Не работает интернет", "Роуминг за границей"])
    scores = scorer.scores("нет интернета")
    assert scores[0] > 0
    assert scores[1] == 0


def test_stems_are_word_prefixes_in_lower_case() -> None:
    assert stems("Интернета НЕТ, ёлки: a 5") == ["интер", "нет", "елки", "5"]


@pytest.mark.parametrize("scorer", [CharTfidf(), Bm25()])
def test_scores_before_fit_are_an_error(scorer: CharTfidf | Bm25) -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        scorer.scores("router")


def test_create_lexical_by_name() -> None:
    assert isinstance(create_lexical("char-tfidf"), CharTfidf)
    assert isinstance(create_lexical("bm25"), Bm25)
    with pytest.raises(ValueError, match="unknown lexical scorer"):
        create_lexical("tf")
