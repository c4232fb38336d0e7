from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kb_index.build import BuildReport, build_index
from kb_index.embedders import Embedder, HashingFakeEmbedder, create_embedder
from kb_index.index import BUILDS_DIR, CURRENT_FILE, activate, current_build, load_current, prune_builds, read_meta
from kb_index.search import Retriever

ROAMING_EN = "en/roaming.md"


def _build(source: Path, index_dir: Path, embedder: Embedder, **options: Any) -> BuildReport:
    return build_index(source, index_dir, embedder, progress=False, **options)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _builds(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / BUILDS_DIR).iterdir() if not p.name.startswith("."))


def test_first_build_embeds_every_chunk_and_activates(
    articles_dir: Path, tmp_path: Path, embedder: HashingFakeEmbedder
) -> None:
    report = _build(articles_dir, tmp_path / "index", embedder)
    assert not report.up_to_date
    assert report.n_documents == 6
    assert report.embedded == report.n_chunks > 6
    assert report.reused == 0
    assert report.faiss_factory == "Flat"
    assert report.languages == ["en", "ru"]
    assert current_build(tmp_path / "index").name == report.build


def test_second_build_of_the_same_corpus_is_up_to_date(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    before = current_build(index_dir).name
    report = _build(articles_dir, index_dir, embedder)
    assert report.up_to_date
    assert report.embedded == 0
    assert report.reused == report.n_chunks
    assert report.build == before
    assert _builds(index_dir) == [before]


def test_editing_one_section_re_embeds_only_that_chunk(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    _edit(articles_dir / ROAMING_EN, "costs 300 roubles", "costs 350 roubles")
    report = _build(articles_dir, index_dir, embedder)
    assert not report.up_to_date
    assert report.embedded == 1
    assert report.reused == report.n_chunks - 1
    assert current_build(index_dir).name == report.build


def test_editing_a_title_re_embeds_the_chunks_of_that_article_only(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    _edit(articles_dir / ROAMING_EN, "title: Roaming abroad", "title: Roaming in other countries")
    report = _build(articles_dir, index_dir, embedder)
    roaming_chunks = [
        c for c in load_current(index_dir, embedder.name, embedder.dim).chunks if c.doc_key == "roaming@en"
    ]
    assert report.embedded == len(roaming_chunks) == 3


def test_rebuilt_index_serves_the_edit(articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    _edit(articles_dir / ROAMING_EN, "costs 300 roubles", "costs 350 roubles")
    _build(articles_dir, index_dir, embedder)
    chunks = load_current(index_dir, embedder.name, embedder.dim).chunks
    assert any("350 roubles" in c.text for c in chunks)
    assert not any("300 roubles" in c.text for c in chunks)


def test_forced_build_makes_a_new_build_and_embeds_nothing(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    before = current_build(index_dir).name
    report = _build(articles_dir, index_dir, embedder, force=True)
    assert not report.up_to_date
    assert report.build != before
    assert report.embedded == 0
    assert current_build(index_dir).name == report.build


def test_another_embedder_embeds_everything_again(articles_dir: Path, index_dir: Path) -> None:
    report = _build(articles_dir, index_dir, create_embedder("fake:32"))
    assert not report.up_to_date
    assert report.embedded == report.n_chunks
    assert read_meta(current_build(index_dir)).dim == 32


def test_corrupt_active_build_is_rebuilt(articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    broken = current_build(index_dir)
    (broken / "en.faiss").write_bytes(b"garbage")
    report = _build(articles_dir, index_dir, embedder)
    assert not report.up_to_date
    assert report.build != broken.name
    assert report.embedded == report.n_chunks  # nothing is reused from a build that does not load
    assert load_current(index_dir, embedder.name, embedder.dim).path.name == report.build


def test_failing_smoke_test_leaves_current_at_the_old_build(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    before = current_build(index_dir).name
    _edit(articles_dir / ROAMING_EN, "costs 300 roubles", "costs 350 roubles")

    def refuse(build: Path) -> None:
        raise RuntimeError(f"refused {build.name}")

    with pytest.raises(RuntimeError, match="refused"):
        _build(articles_dir, index_dir, embedder, smoke_test=refuse)
    assert current_build(index_dir).name == before
    assert load_current(index_dir, embedder.name, embedder.dim).path.name == before


def test_smoke_test_sees_the_new_build_before_it_is_activated(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    before = current_build(index_dir).name
    _edit(articles_dir / ROAMING_EN, "costs 300 roubles", "costs 350 roubles")
    seen: list[tuple[str, str]] = []

    def record(build: Path) -> None:
        seen.append((build.name, current_build(index_dir).name))

    report = _build(articles_dir, index_dir, embedder, smoke_test=record)
    assert seen == [(report.build, before)]


def test_prune_keeps_the_active_build(articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    _edit(articles_dir / ROAMING_EN, "costs 300 roubles", "costs 350 roubles")
    _build(articles_dir, index_dir, embedder)
    first, second = _builds(index_dir)
    activate(index_dir, index_dir / BUILDS_DIR / first)  # an older build is active again (a rollback)

    assert prune_builds(index_dir, keep=1) == []  # the newest one and the active one
    removed = prune_builds(index_dir, keep=0)

    assert [p.name for p in removed] == [second]
    assert _builds(index_dir) == [first]
    assert load_current(index_dir, embedder.name, embedder.dim).path.name == first


def test_build_prunes_old_builds(articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    for price in ("310", "320", "330", "340"):
        _edit(articles_dir / ROAMING_EN, "costs 300 roubles", f"costs {price} roubles")
        _build(articles_dir, index_dir, embedder)
        _edit(articles_dir / ROAMING_EN, f"costs {price} roubles", "costs 300 roubles")
    assert len(_builds(index_dir)) <= 3
    assert current_build(index_dir).name in _builds(index_dir)


def test_load_errors_are_in_the_report(articles_dir: Path, tmp_path: Path, embedder: HashingFakeEmbedder) -> None:
    (articles_dir / "broken.md").write_text("no front matter\n", encoding="utf-8")
    report = _build(articles_dir, tmp_path / "index", embedder)
    assert report.n_documents == 6
    assert [Path(e.source).name for e in report.errors] == ["broken.md"]


def test_csv_source_builds(faq_csv: Path, tmp_path: Path, embedder: HashingFakeEmbedder) -> None:
    report = _build(faq_csv, tmp_path / "index", embedder)
    assert report.n_documents == 2
    assert report.languages == ["en", "ru"]
    assert (tmp_path / "index" / CURRENT_FILE).is_file()


def test_hnsw_factory_builds_a_searchable_index(
    articles_dir: Path, tmp_path: Path, embedder: HashingFakeEmbedder
) -> None:
    report = _build(articles_dir, tmp_path / "index", embedder, factory="HNSW32")
    assert report.faiss_factory == "HNSW32"
    loaded = load_current(tmp_path / "index", embedder.name, embedder.dim)
    assert loaded.meta.faiss_factory == "HNSW32"
    hits = Retriever(loaded, embedder).search("roaming prices in Turkey").hits
    assert hits[0].id == "roaming"
