"""Splitting documents into searchable chunks: one per Markdown section, the document title carried into each.

A customer's question usually matches one section ("how do I reset the router") and the article's title
("Internet is down"): embedding each section with its title keeps both signals and gives the bot a snippet
that is the steps themselves, not the whole article. Sections longer than ``max_chars`` are split further at
paragraph boundaries.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kb_index.documents import Document
from zabota.language import Language

MAX_CHUNK_CHARS = 1500
_HEADING = re.compile(r"^(#{1,3})[ \t]+(\S.*?)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    lang: Language
    title: str
    url: str
    heading: str
    # The section's own text: what the bot shows as the answer.
    text: str
    # What is embedded and matched: title, other phrasings, tags, heading and text.
    search_text: str

    @property
    def doc_key(self) -> str:
        return f"{self.doc_id}@{self.lang}"

    def content_hash(self) -> str:
        return hashlib.sha256(self.search_text.encode("utf-8")).hexdigest()


def _sections(body: str) -> list[tuple[str, str]]:
    """(heading, text) pairs; the text before the first heading has the heading ''."""
    sections: list[tuple[str, str]] = []
    last_heading, last_end = "", 0
    for match in _HEADING.finditer(body):
        sections.append((last_heading, body[last_end : match.start()].strip()))
        last_heading, last_end = match.group(2).strip(), match.end()
    sections.append((last_heading, body[last_end:].strip()))
    return [(h, t) for h, t in sections if t]


def _split_long(text: str, max_chars: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        while len(paragraph) > max_chars:  # one huge paragraph: cut at a sentence end, else hard
            cut = paragraph.rfind(". ", 0, max_chars)
            cut = cut + 1 if cut > max_chars // 2 else max_chars
            if current:
                parts.append(current)
                current = ""
            parts.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        if current and len(current) + len(paragraph) + 2 > max_chars:
            parts.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        parts.append(current)
    return [p for p in parts if p]


def chunk_document(document: Document, max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """Title chunks first (the title and each other phrasing of the question alone, with the tags: a short
    customer question is closest to a short question), then one chunk per section with the title carried."""
    tags = ", ".join(document.tags)
    header = "\n".join(part for part in (document.title, tags) if part)
    chunks: list[Chunk] = []
    sections = _sections(document.body)
    # A short intro says what the article is about: it joins the first section rather than standing alone.
    if len(sections) > 1 and sections[0][0] == "" and len(sections[0][1]) < 300:
        intro = sections.pop(0)[1]
        heading, text = sections[0]
        sections[0] = (heading, f"{intro}\n\n{text}")

    def chunk(heading: str, text: str, search_text: str) -> Chunk:
        return Chunk(document.id, document.lang, document.title, document.url, heading, text, search_text)

    first_text = _split_long(sections[0][1], max_chars)[0] if sections else document.title
    for question in (document.title, *document.questions):
        chunks.append(chunk("", first_text, "\n".join(part for part in (question, tags) if part)))
    for heading, section_text in sections:
        for text in _split_long(section_text, max_chars):
            chunks.append(chunk(heading, text, "\n".join(part for part in (header, heading, text) if part)))
    return chunks


def chunk_documents(documents: list[Document], max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    return [chunk for document in documents for chunk in chunk_document(document, max_chars)]
