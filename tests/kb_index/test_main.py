from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kb_index.__main__ import main

KB_VARIABLES = (
    "KB_MODE", "KB_FUSION", "KB_RRF_DENSE_WEIGHT", "KB_DENSE_WEIGHT", "KB_RRF_K", "KB_TOP_M", "KB_CANDIDATES",
    "KB_ALL_LANGUAGES", "KB_CONFIDENCE_DENSE_WEIGHT", "KB_THRESHOLD", "KB_SOURCE", "KB_INDEX_DIR", "KB_EMBEDDER",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, restore_structlog: None) -> None:
    """The command line reads KB_* settings from the environment: none of the caller's apply here."""
    for name in KB_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """Exit code and the JSON object on the last line of stdout."""
    code = main(list(argv))
    lines = capsys.readouterr().out.strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1])
    return code, result


def _build(capsys: pytest.CaptureFixture[str], index: Path, source: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    return _run(capsys, "--index", str(index), "--embedder", "fake:64", "build", "--source", str(source), *extra)


def _search(capsys: pytest.CaptureFixture[str], index: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    return _run(capsys, "--index", str(index), "--embedder", "fake:64", "search", *argv)


def test_build_prints_a_report_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path) -> None:
    code, result = _build(capsys, tmp_path / "index", articles_dir)
    assert code == 0
    assert result["n_documents"] == 6
    assert result["n_chunks"] > 6
    assert result["embedded"] == result["n_chunks"]
    assert result["up_to_date"] is False
    assert result["embedder"] == "fake-hashing/64"
    assert result["errors"] == []
    assert (tmp_path / "index" / "CURRENT").is_file()


def test_second_build_is_up_to_date(capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path) -> None:
    _build(capsys, tmp_path / "index", articles_dir)
    code, result = _build(capsys, tmp_path / "index", articles_dir)
    assert code == 0
    assert result["up_to_date"] is True
    assert result["embedded"] == 0


def test_build_lists_skipped_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path) -> None:
    (articles_dir / "broken.md").write_text("no front matter\n", encoding="utf-8")
    code = main(["--index", str(tmp_path / "index"), "--embedder", "fake:64", "build", "--source", str(articles_dir)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert any(line.startswith("skipped: ") and "broken.md" in line for line in out)
    assert len(json.loads(out[-1])["errors"]) == 1


def test_search_prints_hits_as_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path) -> None:
    _build(capsys, tmp_path / "index", articles_dir)
    code, result = _search(capsys, tmp_path / "index", "roaming prices in Turkey", "-k", "2")
    assert code == 0
    assert result["query"] == "roaming prices in Turkey"
    assert result["lang"] == "en"
    assert isinstance(result["answered"], bool)
    assert len(result["hits"]) == 2
    assert result["hits"][0]["id"] == "roaming"
    assert result["hits"][0]["url"] == "https://zabota.example/help/en/roaming"


def test_search_with_a_language(capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path) -> None:
    _build(capsys, tmp_path / "index", articles_dir)
    code, result = _search(capsys, tmp_path / "index", "WAN", "--lang", "ru")
    assert code == 0
    assert {hit["lang"] for hit in result["hits"]} == {"ru"}


def test_bad_source_exits_2_with_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, result = _build(capsys, tmp_path / "index", tmp_path / "no-such-dir")
    assert code == 2
    assert "no such file or directory" in result["error"]
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_source_of_an_unknown_format_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "faq.xlsx"
    source.write_bytes(b"PK")
    code, result = _build(capsys, tmp_path / "index", source)
    assert code == 2
    assert "unknown format" in result["error"]


def test_markdown_file_with_broken_yaml_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "broken.md"
    source.write_text("---\ntitle: [unclosed\n---\nBody.\n", encoding="utf-8")
    code, result = _build(capsys, tmp_path / "index", source)
    assert code == 2
    assert "broken.md" in result["error"]


def test_search_without_an_index_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, result = _search(capsys, tmp_path / "none", "roaming")
    assert code == 2
    assert "no index" in result["error"]


def test_search_with_another_embedder_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path
) -> None:
    _build(capsys, tmp_path / "index", articles_dir)
    code, result = _run(capsys, "--index", str(tmp_path / "index"), "--embedder", "fake:32", "search", "roaming")
    assert code == 2
    assert "rebuild the index" in result["error"]


def test_unsearchable_query_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path) -> None:
    _build(capsys, tmp_path / "index", articles_dir)
    code, result = _search(capsys, tmp_path / "index", "?!")
    assert code == 2
    assert "no letters or digits" in result["error"]


def test_eval_prints_recall_as_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path) -> None:
    _build(capsys, tmp_path / "index", articles_dir)
    queries = tmp_path / "queries.csv"
    queries.write_text(
        "query,expected_id,lang\nRoaming abroad,roaming,en\nПлатёж не зачислен,payment-not-credited,ru\n"
    )
    code, result = _run(
        capsys, "--index", str(tmp_path / "index"), "--embedder", "fake:64", "eval", "--queries", str(queries)
    )
    assert code == 0
    assert result["n"] == 2
    assert result["recall@1"] == 1.0
    assert {"dense-only", "char-tfidf", "bm25", "hybrid-weighted"} <= set(result)


def test_eval_with_a_csv_without_the_columns_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path
) -> None:
    _build(capsys, tmp_path / "index", articles_dir)
    queries = tmp_path / "queries.csv"
    queries.write_text("a,b\nx,y\n", encoding="utf-8")
    code, result = _run(
        capsys, "--index", str(tmp_path / "index"), "--embedder", "fake:64", "eval", "--queries", str(queries)
    )
    assert code == 2
    assert "needs columns" in result["error"]


def test_eval_json_keeps_its_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path) -> None:
    """Outside users read kb-eval's last line: its keys stay as they were."""
    _build(capsys, tmp_path / "index", articles_dir)
    queries = tmp_path / "queries.csv"
    queries.write_text("query,expected_id\nRoaming abroad,roaming\n", encoding="utf-8")
    _, result = _run(
        capsys, "--index", str(tmp_path / "index"), "--embedder", "fake:64", "eval", "--queries", str(queries)
    )
    assert set(result) == {
        "queries", "n", "recall@1", "recall@5", "mrr", "p50_ms", "p95_ms", "dense-only", "char-tfidf", "bm25",
        "hybrid-weighted", "rrf_dense_weight", "threshold",
    }  # fmt: skip
    assert result["rrf_dense_weight"] == 0.6


def test_tune_prints_the_sweeps_and_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, articles_dir: Path
) -> None:
    (tmp_path / "questions" / "ru").mkdir(parents=True)
    (tmp_path / "questions" / "ru" / "roaming.txt").write_text("сколько стоит роуминг\nrouming v turcii\n")
    (tmp_path / "questions" / "en").mkdir(parents=True)
    (tmp_path / "questions" / "en" / "router-reboot.txt").write_text("my wifi is dead\nno internet at home\n")
    _build(capsys, tmp_path / "index", articles_dir)
    queries = tmp_path / "queries.csv"
    queries.write_text(
        "query,expected_id,lang\nRoaming abroad,roaming,en\nПлатёж не зачислен,payment-not-credited,ru\n"
    )
    negatives = tmp_path / "negatives.csv"
    negatives.write_text("text,intent\nhow to cook pasta,out_of_scope\nкак сварить борщ,out_of_scope\n")
    code = main(
        [
            "--index", str(tmp_path / "index"), "--embedder", "fake:64", "tune", "--queries", str(queries),
            "--negatives", str(negatives), "--prefix-check", "--loo", "3", "--source", str(articles_dir),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert code == 0
    assert result["n"] == 2
    assert set(result["in_use"]) == {"recall@1", "recall@5", "mrr", "recall@1_by_lang"}
    assert result["best"]["recall@1"] >= result["in_use"]["recall@1"]
    assert "per-article aggregation: mean of the best m chunks per signal" in result["sweeps"]
    assert "<- in use" in out
    assert "query: (symmetric), hybrid" in out
    assert "leave one out: 3 ways of asking" in out
    assert "no-answer threshold, 2 out-of-scope questions" in out
