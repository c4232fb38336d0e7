from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kb_index.build import build_index
from kb_index.embedders import HashingFakeEmbedder
from kb_index.index import BUILDS_DIR, CorruptIndex, IndexNotFound, activate, current_build
from kb_index.live import LiveRetriever

ROAMING_EN = "en/roaming.md"


def _rebuild(articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder, price: int) -> str:
    """Rebuilds with another roaming price; returns the new build's name."""
    path = articles_dir / ROAMING_EN
    text = path.read_text(encoding="utf-8")
    start = text.index("costs ") + len("costs ")
    path.write_text(text[:start] + f"{price}" + text[text.index(" roubles") :], encoding="utf-8")
    return build_index(articles_dir, index_dir, embedder, progress=False).build


def test_serves_the_active_build(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    assert live.get().search("roaming prices").hits[0].id == "roaming"
    assert live.build_name == current_build(index_dir).name


def test_swaps_to_a_new_build_once_it_is_activated(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    first = live.get()
    new_build = _rebuild(articles_dir, index_dir, embedder, 350)

    second = live.get()

    assert second is not first
    assert live.build_name == new_build
    assert "350 roubles" in second.search("roaming prices in Turkey").hits[0].snippet


def test_keeps_the_same_retriever_while_current_does_not_change(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    assert live.get() is live.get()
    assert live.refresh() is False


def test_does_not_look_at_current_before_the_check_interval(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    live = LiveRetriever(index_dir, embedder, check_interval=3600)
    first = live.get()
    new_build = _rebuild(articles_dir, index_dir, embedder, 350)
    assert live.get() is first
    assert live.refresh() is True
    assert live.build_name == new_build


def test_corrupt_new_build_is_not_served(articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    serving = live.get()
    old_build = live.build_name
    new_build = _rebuild(articles_dir, index_dir, embedder, 350)
    (index_dir / BUILDS_DIR / new_build / "en.faiss").write_bytes(b"truncated")

    assert live.get() is serving
    assert live.build_name == old_build
    assert live.get().search("roaming prices").hits


def test_after_a_corrupt_build_the_next_good_build_is_served(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    live.get()
    broken = _rebuild(articles_dir, index_dir, embedder, 350)
    (index_dir / BUILDS_DIR / broken / "vectors.npy").write_bytes(b"truncated")
    live.get()
    good = _rebuild(articles_dir, index_dir, embedder, 400)

    assert "400 roubles" in live.get().search("roaming prices in Turkey").hits[0].snippet
    assert live.build_name == good


def test_current_naming_a_missing_build_keeps_the_old_one(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    serving = live.get()
    activate(index_dir, index_dir / BUILDS_DIR / "20000101T000000Z-gone")
    assert live.get() is serving


def test_removed_current_keeps_the_old_one(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    serving = live.get()
    (index_dir / "CURRENT").unlink()
    assert live.get() is serving


def test_without_any_index_get_raises(tmp_path: Path, embedder: HashingFakeEmbedder) -> None:
    with pytest.raises(IndexNotFound):
        LiveRetriever(tmp_path, embedder, check_interval=0).get()


def test_when_the_only_build_is_corrupt_get_raises(index_dir: Path, embedder: HashingFakeEmbedder) -> None:
    (current_build(index_dir) / "en.faiss").write_bytes(b"truncated")
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    with pytest.raises(CorruptIndex):
        live.get()
    with pytest.raises(IndexNotFound):  # the broken build is not retried on every call, and still nothing serves
        live.get()


def test_concurrent_searches_during_rebuilds_never_fail(
    articles_dir: Path, index_dir: Path, embedder: HashingFakeEmbedder
) -> None:
    """4 threads search while 5 builds are swapped in; each stops at its first search begun after the last swap
    (at most 200 each)."""
    live = LiveRetriever(index_dir, embedder, check_interval=0)
    first_build = live.get().index.path.name
    started, finished = threading.Barrier(5), threading.Event()
    failures: list[BaseException] = []
    empty: list[str] = []
    served: set[str] = set()

    def search() -> None:
        try:
            started.wait(timeout=30)
            for _ in range(200):
                last_round = finished.is_set()
                retriever = live.get()
                served.add(retriever.index.path.name)
                if not retriever.search("roaming prices in Turkey").hits:
                    empty.append(retriever.index.path.name)
                if last_round:
                    return
        except BaseException as error:  # reported by the assertions below
            failures.append(error)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    started.wait(timeout=30)
    builds = [_rebuild(articles_dir, index_dir, embedder, 300 + 10 * i) for i in range(1, 6)]
    finished.set()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert empty == []
    assert {first_build, builds[-1]} <= served
    assert live.build_name == builds[-1]
