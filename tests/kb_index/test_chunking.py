from __future__ import annotations

from dataclasses import replace
from typing import Any

from kb_index.chunking import Chunk, chunk_document, chunk_documents
from kb_index.documents import Document

BODY = """Start with the router.

## Restart the router
Unplug the router for 30 seconds.

## Check the cable
Make sure the cable sits in the WAN port.
"""


ARTICLE = Document(id="router-reboot", lang="en", title="Internet is down", body=BODY)


def _document(body: str = BODY, **fields: Any) -> Document:
    return replace(ARTICLE, body=body, **fields)


def _sections(document: Document, max_chars: int = 1500) -> list[Chunk]:
    """The section chunks (the title chunks have no heading and come first)."""
    chunks = chunk_document(document, max_chars)
    return chunks[1 + len(document.questions) :]


def test_sections_are_split_at_headings() -> None:
    assert [c.heading for c in _sections(_document())] == ["Restart the router", "Check the cable"]
    assert _sections(_document())[1].text == "Make sure the cable sits in the WAN port."


def test_title_is_carried_into_every_chunks_search_text() -> None:
    chunks = chunk_document(_document())
    assert len(chunks) == 3
    assert all(c.search_text.startswith("Internet is down") for c in chunks)
    assert all(c.title == "Internet is down" for c in chunks)


def test_section_search_text_has_title_tags_heading_and_text() -> None:
    section = _sections(_document(tags=("router", "wifi")))[1]
    assert section.search_text == (
        "Internet is down\nrouter, wifi\nCheck the cable\nMake sure the cable sits in the WAN port."
    )


def test_one_title_chunk_per_question() -> None:
    document = _document(questions=("My wifi is gone", "No connection"))
    title_chunks = chunk_document(document)[:3]
    assert [c.search_text for c in title_chunks] == ["Internet is down", "My wifi is gone", "No connection"]
    assert all(c.heading == "" for c in title_chunks)
    # a title chunk shows the beginning of the article as its answer
    assert all(c.text.startswith("Start with the router.") for c in title_chunks)


def test_short_intro_joins_the_first_section() -> None:
    first = _sections(_document())[0]
    assert first.heading == "Restart the router"
    assert first.text == "Start with the router.\n\nUnplug the router for 30 seconds."


def test_long_intro_is_a_section_of_its_own() -> None:
    intro = "Before anything else, check the lights. " * 10  # over 300 characters
    sections = _sections(_document(intro + "\n\n## Restart the router\nUnplug it."))
    assert [c.heading for c in sections] == ["", "Restart the router"]
    assert sections[0].text == intro.strip()


def test_article_without_headings_is_one_section() -> None:
    sections = _sections(_document("Unplug the router for 30 seconds.\n\nThen plug it back in."))
    assert [(c.heading, c.text) for c in sections] == [
        ("", "Unplug the router for 30 seconds.\n\nThen plug it back in.")
    ]


def test_long_section_is_split_under_max_chars_at_paragraphs() -> None:
    paragraphs = [f"Step {i}: " + "wait for the lights to turn green. " * 3 for i in range(12)]
    body = "## Restart the router\n" + "\n\n".join(p.strip() for p in paragraphs)
    sections = _sections(_document(body), max_chars=300)
    assert len(sections) > 1
    assert all(len(c.text) <= 300 for c in sections)
    assert all(c.heading == "Restart the router" for c in sections)
    assert "\n\n".join(c.text for c in sections) == "\n\n".join(p.strip() for p in paragraphs)


def test_one_huge_paragraph_is_cut_at_sentence_ends() -> None:
    sentence = "Unplug the router and wait thirty seconds."
    body = " ".join([sentence] * 40)
    sections = _sections(_document(body), max_chars=200)
    assert len(sections) > 1
    assert all(len(c.text) <= 200 for c in sections)
    assert all(c.text.endswith(".") for c in sections)
    assert " ".join(c.text for c in sections) == body


def test_chunk_knows_its_document() -> None:
    chunk = chunk_document(_document(url="https://zabota.example/help/en/router-reboot"))[0]
    assert chunk.doc_key == "router-reboot@en"
    assert chunk.url == "https://zabota.example/help/en/router-reboot"


def test_content_hash_follows_the_search_text() -> None:
    first, second = chunk_document(_document()), chunk_document(_document())
    assert [c.content_hash() for c in first] == [c.content_hash() for c in second]
    edited = chunk_document(_document(BODY.replace("30 seconds", "60 seconds")))
    assert [a.content_hash() == b.content_hash() for a, b in zip(first, edited, strict=True)] == [True, False, True]


def test_chunk_documents_keeps_the_order_of_documents() -> None:
    chunks = chunk_documents([_document(), _document(id="roaming", title="Roaming abroad", body="Switch it on.")])
    assert [c.doc_id for c in chunks] == ["router-reboot"] * 3 + ["roaming"] * 2
