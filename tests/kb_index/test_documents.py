from __future__ import annotations

from pathlib import Path

import pytest

from kb_index.documents import MAX_DOCUMENT_CHARS, Document, LoadError, SourceError, load_source, parse_markdown

ARTICLE = """---
id: router-reboot
lang: en
title: Internet is down
url: https://zabota.example/help/en/router-reboot
tags: [router, internet]
updated: 2026-11-30
---
Start with the router.

## Restart the router
Unplug it for 30 seconds.
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(errors: list[LoadError]) -> list[int]:
    return [error.line for error in errors]


# -- Markdown ----------------------------------------------------------------------------------------------------
def test_markdown_article_with_front_matter() -> None:
    document = parse_markdown(ARTICLE, "kb/en/router-reboot.md")
    assert document == Document(
        id="router-reboot",
        lang="en",
        title="Internet is down",
        body="Start with the router.\n\n## Restart the router\nUnplug it for 30 seconds.",
        url="https://zabota.example/help/en/router-reboot",
        tags=("router", "internet"),
        updated="2026-11-30",
    )
    assert document.key == "router-reboot@en"


def test_markdown_id_defaults_to_the_file_name() -> None:
    text = "---\ntitle: Internet is down\nlang: en\n---\nStart with the router.\n"
    assert parse_markdown(text, "kb/en/router-reboot.md").id == "router-reboot"


def test_markdown_without_front_matter_is_rejected() -> None:
    with pytest.raises(ValueError, match="no front matter"):
        parse_markdown("# Internet is down\n\nStart with the router.\n")


def test_markdown_without_title_is_rejected() -> None:
    with pytest.raises(ValueError, match="no title"):
        parse_markdown("---\nid: router-reboot\nlang: en\n---\nStart with the router.\n")


def test_markdown_without_body_is_rejected() -> None:
    with pytest.raises(ValueError, match="no body"):
        parse_markdown("---\ntitle: Internet is down\n---\n\n")


def test_language_from_front_matter_wins_over_detection() -> None:
    text = "---\nid: wifi\ntitle: Wi-Fi\nlang: ru\n---\nEnglish words in a Russian article.\n"
    assert parse_markdown(text).lang == "ru"


def test_language_is_detected_without_front_matter_lang() -> None:
    text = "---\nid: router-reboot\ntitle: Не работает интернет\n---\nПерезагрузите роутер.\n"
    assert parse_markdown(text).lang == "ru"


def test_unsupported_language_is_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported language 'de'"):
        parse_markdown("---\nid: internet\ntitle: Internet\nlang: de\n---\nDas Internet geht nicht.\n")


def test_yaml_error_is_reported_per_file_and_the_other_files_load(tmp_path: Path) -> None:
    _write(tmp_path / "good.md", ARTICLE)
    broken = _write(tmp_path / "broken.md", "---\ntitle: [unclosed\n---\nBody.\n")
    result = load_source(tmp_path)
    assert [d.id for d in result.documents] == ["router-reboot"]
    assert len(result.errors) == 1
    assert result.errors[0].source == str(broken)
    assert result.errors[0].line == 0


def test_every_bad_article_is_reported_with_its_reason(tmp_path: Path) -> None:
    _write(tmp_path / "good.md", ARTICLE)
    _write(tmp_path / "no-front-matter.md", "Just text.\n")
    _write(tmp_path / "no-title.md", "---\nlang: en\n---\nBody.\n")
    _write(tmp_path / "german.md", "---\ntitle: Internet\nlang: de\n---\nBody.\n")
    result = load_source(tmp_path)
    reasons = {Path(e.source).name: e.reason for e in result.errors}
    assert [d.id for d in result.documents] == ["router-reboot"]
    assert "no front matter" in reasons["no-front-matter.md"]
    assert "no title" in reasons["no-title.md"]
    assert "unsupported language" in reasons["german.md"]


def test_articles_in_subdirectories_are_loaded(articles_dir: Path) -> None:
    result = load_source(articles_dir)
    assert result.errors == []
    assert sorted(d.key for d in result.documents) == [
        "payment-not-credited@en",
        "payment-not-credited@ru",
        "roaming@en",
        "roaming@ru",
        "router-reboot@en",
        "router-reboot@ru",
    ]


def test_duplicate_article_keeps_the_first_and_reports_the_second(tmp_path: Path) -> None:
    _write(tmp_path / "a.md", ARTICLE)
    _write(tmp_path / "b.md", ARTICLE.replace("Internet is down", "Internet is down (copy)"))
    result = load_source(tmp_path)
    assert [d.title for d in result.documents] == ["Internet is down"]
    assert ["duplicate document router-reboot@en" in e.reason for e in result.errors] == [True]


def test_oversized_article_is_rejected_and_the_rest_loads(tmp_path: Path) -> None:
    _write(tmp_path / "good.md", ARTICLE)
    _write(tmp_path / "huge.md", ARTICLE.replace("router-reboot", "huge") + "x" * MAX_DOCUMENT_CHARS)
    result = load_source(tmp_path)
    assert [d.id for d in result.documents] == ["router-reboot"]
    assert "over the limit" in result.errors[0].reason


def test_single_markdown_file_is_a_source(tmp_path: Path) -> None:
    result = load_source(_write(tmp_path / "router-reboot.md", ARTICLE))
    assert [d.key for d in result.documents] == ["router-reboot@en"]


def test_single_markdown_file_with_broken_yaml_is_a_source_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "broken.md", "---\ntitle: [unclosed\n---\nBody.\n")
    with pytest.raises(SourceError, match=r"broken\.md"):
        load_source(path)


# -- CSV ---------------------------------------------------------------------------------------------------------
def test_csv_with_question_answer_lang_url_columns(faq_csv: Path) -> None:
    result = load_source(faq_csv)
    assert result.errors == []
    sim = next(d for d in result.documents if d.id == "sim-lost")
    assert sim == Document(
        id="sim-lost",
        lang="ru",
        title="Я потерял сим-карту",
        body="Заблокируйте сим-карту в приложении и получите новую в офисе.",
    )


def test_csv_rows_sharing_an_id_become_one_document_with_several_questions(faq_csv: Path) -> None:
    pay = [d for d in load_source(faq_csv).documents if d.id == "pay-methods"]
    assert len(pay) == 1
    assert pay[0].title == "How can I pay my bill?"
    assert pay[0].questions == ("What payment methods are there?",)
    assert pay[0].body == "Pay by card in the Zabota app or at any bank."
    assert pay[0].url == "https://zabota.example/faq/pay"


def test_csv_with_id_title_body_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "kb.csv",
        "id,title,body\nroaming,Roaming abroad,Roaming is switched on in the app.\n"
        "sim-lost,Потеря сим-карты,Заблокируйте сим-карту в приложении.\n",
    )
    result = load_source(path)
    assert [(d.id, d.lang, d.title, d.body) for d in result.documents] == [
        ("roaming", "en", "Roaming abroad", "Roaming is switched on in the app."),
        ("sim-lost", "ru", "Потеря сим-карты", "Заблокируйте сим-карту в приложении."),
    ]


def test_csv_malformed_rows_are_reported_by_line_and_the_rest_imported(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "faq.csv",
        "id,question,answer,lang,url\n"  # line 1
        "ok-1,How do I pay?,In the app.,en,\n"  # 2
        ",No id here?,Some answer.,en,\n"  # 3: no id
        "empty,,,en,\n"  # 4: no text
        "spanish,¿Cómo pago?,En la app.,es,\n"  # 5: unsupported language
        "wide,Question?,Answer.,en,,one too many\n"  # 6: too many cells
        "ok-2,Where is my order?,In the cabinet.,en,\n",  # 7
    )
    result = load_source(path)
    assert [d.id for d in result.documents] == ["ok-1", "ok-2"]
    assert _line_of(result.errors) == [3, 4, 5, 6]
    reasons = [e.reason for e in result.errors]
    assert "no id" in reasons[0]
    assert "neither question/title nor answer/body" in reasons[1]
    assert "unsupported language 'es'" in reasons[2]
    assert "6 cells, header has 5" in reasons[3]
    assert all(e.source == str(path) for e in result.errors)


def test_csv_row_over_the_size_limit_is_reported_by_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "faq.csv",
        "id,question,answer\nok,How do I pay?,In the app.\n" + "huge,Question?," + "x" * MAX_DOCUMENT_CHARS + "\n",
    )
    result = load_source(path)
    assert [d.id for d in result.documents] == ["ok"]
    assert _line_of(result.errors) == [3]
    assert "over the limit" in result.errors[0].reason


def test_csv_cell_over_the_csv_field_limit_is_reported_by_its_own_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "faq.csv",
        "id,question,answer\n"
        "ok-1,How do I pay?,In the app.\n"
        "huge,Question?," + "x" * (MAX_DOCUMENT_CHARS * 2 + 10) + "\n"
        "ok-2,Where is my order?,In the cabinet.\n",
    )
    result = load_source(path)
    assert [d.id for d in result.documents] == ["ok-1", "ok-2"]
    assert _line_of(result.errors) == [3]
    assert "malformed CSV" in result.errors[0].reason


def test_csv_without_an_id_column_is_a_source_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "faq.csv", "question,answer\nHow do I pay?,In the app.\n")
    with pytest.raises(SourceError, match="needs columns id"):
        load_source(path)


def test_csv_without_usable_rows_is_a_source_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "faq.csv", "id,question,answer\n,No id?,Answer.\n")
    with pytest.raises(SourceError, match=r"no documents \(1 rows rejected\)"):
        load_source(path)


def test_csv_with_a_header_only_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no documents"):
        load_source(_write(tmp_path / "faq.csv", "id,question,answer\n"))


# -- JSONL -------------------------------------------------------------------------------------------------------
def test_jsonl_broken_line_is_reported_by_line_number(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "faq.jsonl",
        '{"id": "roaming", "title": "Roaming abroad", "body": "Switch it on in the app."}\n'
        "{not json\n"
        "\n"
        "[1, 2]\n"
        '{"id": "sim-lost", "question": "Я потерял сим-карту", "answer": "Заблокируйте её."}\n',
    )
    result = load_source(path)
    assert [d.key for d in result.documents] == ["roaming@en", "sim-lost@ru"]
    assert _line_of(result.errors) == [2, 4]
    assert "malformed JSON" in result.errors[0].reason
    assert "not a JSON object" in result.errors[1].reason


# -- the source as a whole ---------------------------------------------------------------------------------------
def test_unknown_file_format_is_a_source_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "faq.txt", "How do I pay? In the app.\n")
    with pytest.raises(SourceError, match="unknown format"):
        load_source(path)


def test_missing_source_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_source(tmp_path / "nowhere")


def test_directory_without_articles_is_a_source_error(tmp_path: Path) -> None:
    _write(tmp_path / "notes.txt", "not an article")
    with pytest.raises(SourceError, match="no documents"):
        load_source(tmp_path)


def test_an_articles_ways_of_asking_come_from_the_questions_folder_beside_it(tmp_path: Path) -> None:
    _write(tmp_path / "articles" / "en" / "router-reboot.md", ARTICLE)
    _write(
        tmp_path / "questions" / "en" / "router-reboot.txt",
        "# router-reboot: ways of asking\nthe lights on the box went off\n\nno internet since morning\n"
        "no internet since morning\n",
    )
    result = load_source(tmp_path / "articles")
    assert result.documents[0].questions == ("the lights on the box went off", "no internet since morning")
    assert result.errors == []


def test_an_article_without_questions_loads_as_before(tmp_path: Path) -> None:
    _write(tmp_path / "articles" / "en" / "router-reboot.md", ARTICLE)
    _write(tmp_path / "questions" / "ru" / "router-reboot.txt", "другой язык\n")
    assert load_source(tmp_path / "articles").documents[0].questions == ()


def test_an_oversized_questions_file_is_reported_and_the_article_kept(tmp_path: Path) -> None:
    _write(tmp_path / "articles" / "en" / "router-reboot.md", ARTICLE)
    _write(tmp_path / "questions" / "en" / "router-reboot.txt", "".join(f"question {i}\n" for i in range(600)))
    result = load_source(tmp_path / "articles")
    assert [d.id for d in result.documents] == ["router-reboot"] and result.documents[0].questions == ()
    assert "over the limit" in result.errors[0].reason
