"""Loading knowledge-base documents: Markdown articles with front matter, or CSV / JSONL tables.

A table has the columns ``id``, ``question`` or ``title``, ``answer`` or ``body``, and optionally ``lang`` and
``url``. A row that cannot be used (no id, no text, an unsupported language, broken JSON) is reported with its
line number and skipped; the rest is imported. Several rows with one id (one answer, several phrasings of the
question, as real FAQ exports have) become one document with all the questions.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zabota.language import SUPPORTED, Language, detect_language

# A document larger than this is refused: the knowledge base is help articles, not books.
MAX_DOCUMENT_CHARS = 200_000
# Table cells can be long answers; the csv module's default limit (128 KiB) is kept explicit.
csv.field_size_limit(min(sys.maxsize, MAX_DOCUMENT_CHARS * 2))

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_ID = re.compile(r"^[\w][\w.\-:/]{0,199}$")


@dataclass(frozen=True)
class Document:
    """One article (or one FAQ answer) in one language."""

    id: str
    lang: Language
    title: str
    body: str
    url: str = ""
    tags: tuple[str, ...] = ()
    # Other phrasings of the title (FAQ rows sharing an answer): searched like the title.
    questions: tuple[str, ...] = ()
    updated: str = ""

    @property
    def key(self) -> str:
        """Unique within a corpus: the same id exists once per language."""
        return f"{self.id}@{self.lang}"

    def content_hash(self) -> str:
        payload = json.dumps(
            [self.id, self.lang, self.title, self.body, self.url, self.tags, self.questions], ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LoadError:
    source: str
    line: int  # 1-based; 0 when the problem is the whole file
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}"


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


class SourceError(ValueError):
    """The source as a whole cannot be read (missing, unknown format, no documents at all)."""


def _language(value: Any, fallback_text: str) -> Language:
    if value is None or str(value).strip() == "":
        return detect_language(fallback_text)
    lang = str(value).strip().lower()
    if lang not in SUPPORTED:
        raise ValueError(f"unsupported language {lang!r} (supported: {', '.join(SUPPORTED)})")
    return lang  # type: ignore[return-value]  # checked against SUPPORTED just above


def _check_id(value: Any) -> str:
    doc_id = str(value or "").strip()
    if not doc_id:
        raise ValueError("no id")
    if not _ID.match(doc_id):
        raise ValueError(f"id {doc_id[:40]!r} has characters other than letters, digits and . - : / _")
    return doc_id


def _check_size(text: str) -> None:
    if len(text) > MAX_DOCUMENT_CHARS:
        raise ValueError(f"document of {len(text)} characters is over the limit of {MAX_DOCUMENT_CHARS}")


# -- Markdown ----------------------------------------------------------------------------------------------------
def parse_markdown(text: str, source: str = "<text>") -> Document:
    """An article: YAML front matter (id, lang, title, url, tags, updated), then the Markdown body."""
    _check_size(text)
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        raise ValueError("no front matter (a block between '---' lines at the top)")
    meta = yaml.safe_load(match.group(1))
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a mapping")
    body = text.lstrip("\ufeff")[match.end() :].strip()
    title = str(meta.get("title") or "").strip()
    if not title:
        raise ValueError("front matter has no title")
    if not body:
        raise ValueError("article has no body")
    tags = meta.get("tags") or []
    if not isinstance(tags, list):
        raise ValueError("tags must be a list")
    return Document(
        id=_check_id(meta.get("id") or Path(source).stem),
        lang=_language(meta.get("lang"), title + " " + body),
        title=title,
        body=body,
        url=str(meta.get("url") or ""),
        tags=tuple(str(t).strip() for t in tags if str(t).strip()),
        updated=str(meta.get("updated") or ""),
    )


# An article's ways of asking live beside the articles: <articles>/../questions/<lang>/<id>.txt, one question a
# line, "#" lines are comments. Customers rarely use an article's words; its questions are searched like its title.
QUESTIONS_DIR = "questions"
# More questions than this per article are refused: they are ways of asking, not a second corpus.
MAX_QUESTIONS = 500


def read_questions(path: Path) -> tuple[str, ...]:
    """The questions of one ``<id>.txt``: one a line, blank and ``#`` lines skipped, duplicates dropped."""
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            seen.setdefault(line, None)
    if len(seen) > MAX_QUESTIONS:
        raise ValueError(f"{len(seen)} questions, over the limit of {MAX_QUESTIONS}")
    return tuple(seen)


def load_markdown_dir(directory: Path, questions_dir: Path | None = None) -> LoadResult:
    """Every ``.md`` article under ``directory``, each with its ways of asking from ``questions_dir``
    (default: the ``questions`` folder beside ``directory``, when there is one)."""
    result = LoadResult()
    questions_dir = questions_dir or directory.parent / QUESTIONS_DIR
    for path in sorted(directory.rglob("*.md")):
        try:
            document = parse_markdown(path.read_text(encoding="utf-8"), str(path))
        except (ValueError, UnicodeDecodeError, yaml.YAMLError) as error:
            result.errors.append(LoadError(str(path), 0, str(error).splitlines()[0]))
            continue
        extra = questions_dir / document.lang / f"{document.id}.txt"
        if extra.is_file():
            try:
                questions = read_questions(extra)
            except (ValueError, UnicodeDecodeError) as error:
                result.errors.append(LoadError(str(extra), 0, str(error).splitlines()[0]))
            else:
                known = set(document.questions) | {document.title}
                added = tuple(q for q in questions if q not in known)
                document = dataclasses.replace(document, questions=(*document.questions, *added))
        result.documents.append(document)
    return result


# -- tables ------------------------------------------------------------------------------------------------------
def _pick(row: dict[str, Any], *names: str) -> str:
    for name in names:
        value = row.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


class _Grouper:
    """Rows with the same (id, lang) become one document: the first row's answer, every row's question."""

    def __init__(self) -> None:
        self.order: list[tuple[str, Language]] = []
        self.rows: dict[tuple[str, Language], dict[str, Any]] = {}

    def add(self, row: dict[str, Any]) -> None:
        doc_id = _check_id(row.get("id"))
        question = _pick(row, "question", "title")
        answer = _pick(row, "answer", "body", "text")
        if not question and not answer:
            raise ValueError("neither question/title nor answer/body")
        _check_size(question + answer)
        lang = _language(row.get("lang"), question + " " + answer)
        key = (doc_id, lang)
        if key not in self.rows:
            self.order.append(key)
            self.rows[key] = {"questions": [], "answer": answer, "url": _pick(row, "url")}
        entry = self.rows[key]
        if question and question not in entry["questions"]:
            entry["questions"].append(question)
        if not entry["answer"] and answer:
            entry["answer"] = answer

    def documents(self) -> Iterator[Document]:
        for doc_id, lang in self.order:
            entry = self.rows[(doc_id, lang)]
            questions: list[str] = entry["questions"]
            title = questions[0] if questions else entry["answer"][:80]
            yield Document(
                id=doc_id,
                lang=lang,
                title=title,
                body=entry["answer"] or title,
                url=entry["url"],
                questions=tuple(questions[1:]),
            )


def _table_result(rows: Iterable[tuple[int, dict[str, Any] | Exception]], source: str) -> LoadResult:
    result = LoadResult()
    grouper = _Grouper()
    for line, row in rows:
        if isinstance(row, Exception):
            result.errors.append(LoadError(source, line, str(row)))
            continue
        try:
            grouper.add(row)
        except ValueError as error:
            result.errors.append(LoadError(source, line, str(error)))
    result.documents.extend(grouper.documents())
    return result


def load_csv(path: Path) -> LoadResult:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        if "id" not in columns or not columns & {"question", "title", "answer", "body", "text"}:
            raise SourceError(f"{path}: needs columns id and question/title and/or answer/body (has {sorted(columns)})")

        def rows() -> Iterator[tuple[int, dict[str, Any] | Exception]]:
            while True:
                try:
                    raw = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    # DictReader.line_num is updated only after a row was read; its csv reader's is current
                    yield reader.reader.line_num, ValueError(f"malformed CSV: {error}")
                    continue
                if None in raw:  # more cells than the header has columns
                    yield (
                        reader.line_num,
                        ValueError(f"{len(raw) - 1 + len(raw[None])} cells, header has {len(raw) - 1}"),
                    )
                    continue
                if not any((v or "").strip() for v in raw.values()):
                    continue  # a blank line
                yield reader.line_num, {k.strip().lower(): v for k, v in raw.items() if k is not None}

        return _table_result(rows(), str(path))


def load_jsonl(path: Path) -> LoadResult:
    def rows() -> Iterator[tuple[int, dict[str, Any] | Exception]]:
        with path.open(encoding="utf-8-sig") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as error:
                    yield number, ValueError(f"malformed JSON: {error.msg}")
                    continue
                if not isinstance(value, dict):
                    yield number, ValueError("not a JSON object")
                    continue
                yield number, {str(k).strip().lower(): v for k, v in value.items()}

    return _table_result(rows(), str(path))


def load_source(source: Path) -> LoadResult:
    """Documents from a directory of Markdown articles, a ``.csv`` or a ``.jsonl`` file."""
    if not source.exists():
        raise SourceError(f"{source}: no such file or directory")
    if source.is_dir():
        result = load_markdown_dir(source)
    elif source.suffix.lower() == ".csv":
        result = load_csv(source)
    elif source.suffix.lower() in (".jsonl", ".ndjson"):
        result = load_jsonl(source)
    elif source.suffix.lower() == ".md":
        try:
            result = LoadResult(documents=[parse_markdown(source.read_text(encoding="utf-8"), str(source))])
        except (ValueError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise SourceError(f"{source}: {str(error).splitlines()[0]}") from error
    else:
        raise SourceError(f"{source}: unknown format (a directory of .md articles, .csv or .jsonl)")
    seen: set[str] = set()
    unique: list[Document] = []
    for document in result.documents:
        if document.key in seen:
            result.errors.append(LoadError(str(source), 0, f"duplicate document {document.key}; the first one is kept"))
            continue
        seen.add(document.key)
        unique.append(document)
    result.documents = unique
    if not result.documents:
        raise SourceError(
            f"{source}: no documents" + (f" ({len(result.errors)} rows rejected)" if result.errors else "")
        )
    return result
