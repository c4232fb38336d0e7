"""Scale benchmark of the knowledge-base FAISS index (a benchmark, not a test).

`.venv-app/bin/python -m bench.kb_scale` builds several FAISS indexes over N vectors (default 1,000,000 x 384,
inner product over L2-normalised float32 vectors, as ``kb_index/index.py`` builds them) and measures for each:
build time (training + adding, both cores), index size (bytes ``faiss.write_index`` writes), the process RSS
growth while the index is built (VmRSS from /proc/self/status), single-thread search latency per query (one
query per call; wall-clock p50/p95, which the target is judged on, and the thread's CPU-time p95) and
recall@10 against exact search (``IndexFlatIP`` over the same vectors).

Target (from the issue): p95 <= 3 ms at recall@10 >= 0.98 within 1 GB (10^9 bytes, the stricter reading; an
index meets it when both its serialized size and its RSS growth fit). The budget here is the FAISS index's:
``kb_index.index.load_build`` also maps vectors.npy (float32, 1.5 GB at 1M x 384) for exact re-scoring; it is
memory-mapped, so it lives in the page cache, not in the process heap.

Candidates (``--only KEY``): ``hnsw`` = HNSW32 (float vectors: 1.5 GB + graph at 1M, over the budget, measured
for comparison); ``hnsw-sq8`` = HNSW32_SQ8 (1 byte per dimension + graph); ``ivf-sq8`` = IVF<nlist>,SQ8 (what
``choose_factory`` picks above 50k vectors) and ``ivf-fp16`` = IVF<nlist>,SQfp16 (2 bytes per dimension, 0.77 GB
at 1M), nlist about 4 sqrt(N) (4096 at 1M). HNSW keeps FAISS's default efConstruction (40), as
``build_faiss`` does; the IDMap wrapper it adds (8 bytes per vector, one lookup per hit) is left out. A refine
stage over the float vectors (``IndexRefineFlat``, ",RFlat") is left out too: it keeps another 1.5 GB copy.

The data are SYNTHETIC clustered vectors, not embeddings of real chunks: Gaussian clusters around random
centres on the unit sphere, with noise whose variance decays along a fixed random basis (a power-law spectrum,
effective dimension about 26), then L2-normalised. Isotropic noise would make every point of a cluster almost
equidistant from every other (384 independent dimensions), which real sentence embeddings are not and which
makes any approximate index look worse than it is; the decaying spectrum keeps the neighbours meaningful.
Queries are drawn from the same clusters with another random stream (they are not copies of base vectors).
Recall on real embeddings will differ; latency and memory depend mostly on N, the dimension and the index.

The base vectors are never held in memory at once: they are regenerated block by block (deterministically,
from the seed) for the exact search and for each index, so the RSS growth is the index's own; generating them
is not counted in the build time. Progress goes to stderr with timestamps; stdout gets a table and, as the
last line, one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import faiss  # type: ignore[import-untyped]
import numpy as np

from kb_index.index import choose_factory, ivf_lists

K = 10
BLOCK = 50_000  # vectors generated (and added) per step: 77 MB at 384-d, and a progress line per step
TARGET_P95_MS = 3.0
TARGET_RECALL = 0.98
TARGET_BYTES = 10**9
SPECTRUM_EXPONENT = 0.5  # noise std along basis direction i ~ (i + 1) ** -0.5, i.e. variance ~ 1 / (i + 1)
WARMUP_QUERIES = 20

_T0 = time.monotonic()


def log(message: str) -> None:
    # stderr, so a long run shows it is alive while stdout stays the report
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp} +{time.monotonic() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def proc_status_bytes(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> bool:
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so the peak can be measured per build.
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def nlist_for(n: int) -> int:
    # the project's own rule (about 4 * sqrt(n) lists, a power of two: 4096 at 1M)
    return ivf_lists(n)


def make_generator(dim: int, clusters: int, spread: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 0])
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))  # a random orthonormal basis
    stds = (np.arange(dim) + 1.0) ** -SPECTRUM_EXPONENT
    stds *= spread / np.linalg.norm(stds)  # expected noise norm = spread (centres have norm 1)
    return {"centres": centres, "mixing": (stds[:, None] * basis).astype(np.float32)}


def sample(generator: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    centres, mixing = generator["centres"], generator["mixing"]
    labels = rng.integers(len(centres), size=n)
    x = centres[labels] + rng.standard_normal((n, centres.shape[1]), dtype=np.float32) @ mixing
    faiss.normalize_L2(x)
    return x


def base_blocks(generator: dict[str, np.ndarray], n: int, seed: int, limit: int | None = None) -> Iterator[np.ndarray]:
    # one random stream per block: any pass over the base (exact search, each index) sees the same vectors
    stop = n if limit is None else min(n, limit)
    for block, start in enumerate(range(0, stop, BLOCK)):
        yield sample(generator, min(BLOCK, stop - start), np.random.default_rng([seed, 1, block]))


def exact_top_k(generator: dict[str, np.ndarray], n: int, seed: int, queries: np.ndarray, threads: int) -> np.ndarray:
    # Flat index per block and a running top-k merge: exact, without a second 1.5 GB copy of the base.
    faiss.omp_set_num_threads(threads)
    best_d = np.full((len(queries), K), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), K), -1, dtype=np.int64)
    offset = 0
    for number, block in enumerate(base_blocks(generator, n, seed), 1):
        flat = faiss.IndexFlatIP(block.shape[1])
        flat.add(block)
        d, i = flat.search(queries, K)
        all_d = np.concatenate([best_d, d], axis=1)
        all_i = np.concatenate([best_i, i + offset], axis=1)
        order = np.argsort(-all_d, axis=1, kind="stable")[:, :K]
        best_d = np.take_along_axis(all_d, order, axis=1)
        best_i = np.take_along_axis(all_i, order, axis=1)
        offset += len(block)
        if number % 5 == 0 or offset == n:
            log(f"exact search: {offset:,}/{n:,} base vectors")
    return best_i


def serialized_bytes(index: Any) -> int:
    # counts what write_index would write without holding a second copy (1.8 GB for HNSW32 at 1M)
    total = 0

    def count(chunk: bytes) -> None:
        nonlocal total
        total += len(chunk)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total


def build_index(
    factory: str,
    generator: dict[str, np.ndarray],
    n: int,
    seed: int,
    train_n: int,
    threads: int,
    kmeans_cache: dict[int, tuple[np.ndarray, float]],
) -> tuple[Any, dict[str, Any]]:
    faiss.omp_set_num_threads(threads)
    dim = generator["centres"].shape[1]
    gc.collect()
    rss_before = proc_status_bytes("VmRSS")
    peak_measured = reset_peak_rss()
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    train_s = 0.0
    if not index.is_trained:
        # the first vectors are a uniform sample (cluster labels are drawn at random), like faiss's own
        # subsampling; training on all 1M would cost IVF k-means minutes and gain nothing measurable here
        training = np.concatenate(list(base_blocks(generator, n, seed, limit=train_n)))
        log(f"{factory}: training on {len(training):,} vectors")
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            # The coarse k-means (minutes at 1M) depends only on nlist and the data, so IVF candidates share
            # it: trained with the IVF's own clustering parameters (spherical for inner product), then
            # index.train below skips it. Its time still counts in every row's build time.
            if ivf.nlist in kmeans_cache:
                centroids, kmeans_s = kmeans_cache[ivf.nlist]
                ivf.quantizer.add(centroids)
                log(f"{factory}: reusing the k-means of {ivf.nlist} lists ({kmeans_s:.1f}s, counted)")
            else:
                started = time.perf_counter()
                faiss.Clustering(dim, ivf.nlist, ivf.cp).train(training, ivf.quantizer)
                kmeans_s = time.perf_counter() - started
                kmeans_cache[ivf.nlist] = (ivf.quantizer.reconstruct_n(0, ivf.nlist), kmeans_s)
                log(f"{factory}: k-means of {ivf.nlist} lists in {kmeans_s:.1f}s")
            train_s += kmeans_s
        started = time.perf_counter()
        index.train(training)
        train_s += time.perf_counter() - started
        del training
        log(f"{factory}: trained in {train_s:.1f}s")
    add_s = 0.0
    for block in base_blocks(generator, n, seed):
        started = time.perf_counter()
        index.add(block)
        add_s += time.perf_counter() - started
        rate = index.ntotal / add_s if add_s else 0.0
        eta = (n - index.ntotal) / rate if rate else 0.0
        log(f"{factory}: added {index.ntotal:,}/{n:,} ({rate:,.0f} vectors/s, ~{eta:.0f}s of adding left)")
    del block  # the loop variable would keep the last block alive and count in the RSS growth
    gc.collect()
    rss_after = proc_status_bytes("VmRSS")
    stats = {
        "build_s": train_s + add_s,
        "train_s": train_s,
        "add_s": add_s,
        "size_bytes": serialized_bytes(index),
        "rss_delta_bytes": rss_after - rss_before,
        # the peak includes the training sample and the block being added, not only the index
        "build_peak_delta_bytes": proc_status_bytes("VmHWM") - rss_before if peak_measured else None,
    }
    return index, stats


def measure_search(index: Any, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    faiss.omp_set_num_threads(1)  # the measured figure is one query on one thread, as a request is served
    for query in queries[:WARMUP_QUERIES]:
        index.search(query[None, :], K)
    latencies = np.empty(len(queries))
    # CPU time of this thread too: on a busy machine a query that loses the CPU for a time slice shows it in
    # its wall time (several ms) but not in its CPU time, which tells contention from a slow index
    cpu_times = np.empty(len(queries))
    found = np.empty((len(queries), K), dtype=np.int64)
    for row, query in enumerate(queries):
        started, started_cpu = time.perf_counter(), time.thread_time()
        _, ids = index.search(query[None, :], K)
        latencies[row] = time.perf_counter() - started
        cpu_times[row] = time.thread_time() - started_cpu
        found[row] = ids[0]
    # -1 (fewer than K results, e.g. a small nprobe) never matches a true id, so it counts as a miss
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=2).sum()
    p50, p95 = np.percentile(latencies * 1000.0, [50, 95])
    return {
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p95_cpu_ms": float(np.percentile(cpu_times * 1000.0, 95)),
        "recall_at_10": float(hits / truth.size),
    }


def candidates(n: int, ef_values: list[int], nprobe_values: list[int]) -> dict[str, dict[str, Any]]:
    nlist = nlist_for(n)
    ivf_train = min(n, 64 * nlist)  # faiss warns under 39 training points per list
    sq_train = min(n, 100_000)  # per-dimension min/max: a sample is enough
    return {
        # what choose_factory picks above 50k vectors; float vectors (1.5 GB at 1M) + graph: over the budget
        "hnsw": {"factory": "HNSW32", "param": "efSearch", "values": ef_values, "train_n": 0},
        "hnsw-sq8": {"factory": "HNSW32_SQ8", "param": "efSearch", "values": ef_values, "train_n": sq_train},
        "ivf-sq8": {"factory": f"IVF{nlist},SQ8", "param": "nprobe", "values": nprobe_values, "train_n": ivf_train},
        # 2 bytes per dimension: 0.77 GB at 1M, still within 1 GB without a graph
        "ivf-fp16": {
            "factory": f"IVF{nlist},SQfp16",
            "param": "nprobe",
            "values": nprobe_values,
            "train_n": ivf_train,
        },
    }


def int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'factory':<18} {'param':<13} {'build s':>8} {'size MB':>8} {'RSS MB':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p95 cpu':>7} {'recall@10':>9}  meets target"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['factory']:<18} {row['param'] + '=' + str(row['value']):<13} {row['build_s']:>8.1f} "
            f"{row['size_bytes'] / 1e6:>8.0f} {row['rss_delta_bytes'] / 1e6:>8.0f} {row['p50_ms']:>7.3f} "
            f"{row['p95_ms']:>7.3f} {row['p95_cpu_ms']:>7.3f} {row['recall_at_10']:>9.4f}  "
            + ("yes" if row["meets_target"] else "no (" + ", ".join(row["misses"]) + ")")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="base vectors (chunks)")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=None, help="cluster centres (default n / 500: 2000 at 1M)")
    parser.add_argument("--spread", type=float, default=1.0, help="expected noise norm around a unit centre")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", help="run one candidate (repeatable): key or factory string")
    parser.add_argument("--build-threads", type=int, default=2, help="threads for building and exact search")
    parser.add_argument("--ef", type=int_list, default=[16, 32, 64, 128, 256], help="HNSW efSearch sweep")
    parser.add_argument("--nprobe", type=int_list, default=[8, 16, 32, 64], help="IVF nprobe sweep")
    args = parser.parse_args()

    clusters = args.clusters or max(10, args.n // 500)
    all_candidates = candidates(args.n, args.ef, args.nprobe)
    selected = all_candidates
    if args.only:
        wanted = {name.lower() for name in args.only}
        selected = {k: c for k, c in all_candidates.items() if k in wanted or c["factory"].lower() in wanted}
        if not selected:
            names = ", ".join(f"{k} ({c['factory']})" for k, c in all_candidates.items())
            parser.error(f"--only: no candidate named {', '.join(args.only)}; known: {names}")
    log(
        f"n={args.n:,} dim={args.dim} clusters={clusters} queries={args.queries} seed={args.seed}; "
        f"build on {args.build_threads} threads, search on 1; candidates: {', '.join(selected)}"
    )

    load_before = os.getloadavg()
    generator = make_generator(args.dim, clusters, args.spread, args.seed)
    queries = sample(generator, args.queries, np.random.default_rng([args.seed, 2]))
    started = time.perf_counter()
    truth = exact_top_k(generator, args.n, args.seed, queries, args.build_threads)
    exact_s = time.perf_counter() - started
    log(f"exact top-{K} for {args.queries} queries in {exact_s:.1f}s")

    rows: list[dict[str, Any]] = []
    kmeans_cache: dict[int, tuple[np.ndarray, float]] = {}
    for key, candidate in selected.items():
        factory = candidate["factory"]
        log(f"{factory}: building")
        index, stats = build_index(
            factory, generator, args.n, args.seed, candidate["train_n"], args.build_threads, kmeans_cache
        )
        log(
            f"{factory}: built in {stats['build_s']:.1f}s, {stats['size_bytes'] / 1e6:.0f} MB serialized, "
            f"RSS +{stats['rss_delta_bytes'] / 1e6:.0f} MB"
        )
        parameters = faiss.ParameterSpace()
        for value in candidate["values"]:
            parameters.set_index_parameter(index, candidate["param"], value)
            result = measure_search(index, queries, truth)
            misses = []
            if result["p95_ms"] > TARGET_P95_MS:
                misses.append("p95")
            if result["recall_at_10"] < TARGET_RECALL:
                misses.append("recall")
            if max(stats["size_bytes"], stats["rss_delta_bytes"]) > TARGET_BYTES:
                misses.append("memory")
            row = {"candidate": key, "factory": factory, "param": candidate["param"], "value": value}
            row |= stats | result
            row["train_n"] = candidate["train_n"]
            row["meets_target"] = not misses
            row["misses"] = misses
            rows.append(row)
            log(
                f"{factory} {candidate['param']}={value}: p50 {result['p50_ms']:.3f} ms, "
                f"p95 {result['p95_ms']:.3f} ms, recall@10 {result['recall_at_10']:.4f}"
            )
        del index, parameters
        gc.collect()

    load_after = os.getloadavg()
    cores = os.cpu_count() or 1
    meeting = [row for row in rows if row["meets_target"]]
    # all rows meeting the target are acceptable; the fastest leaves the most room for the rest of a request
    best = min(meeting, key=lambda row: (row["p95_ms"], row["size_bytes"])) if meeting else None

    print(
        f"\nFAISS scale benchmark: {args.n:,} synthetic clustered vectors x {args.dim} ({clusters} clusters), "
        f"{args.queries} queries, recall@{K} vs exact IndexFlatIP. Build on {args.build_threads} threads "
        f"(training + adding), search on 1 thread, one query per call. Machine: {cores} cores."
    )
    print(
        f"Target: p95 <= {TARGET_P95_MS:g} ms, recall@{K} >= {TARGET_RECALL}, size and RSS growth <= 1 GB; "
        f"MB = 10^6 bytes, build s = training + adding. choose_factory({args.n:,}) = {choose_factory(args.n)!r}.\n"
    )
    print_table(rows)
    if max(load_before[0], load_after[0]) > cores:
        print(
            f"\nWARNING: load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end, on {cores} "
            "cores: other processes compete for the CPU and inflate wall-clock latencies (compare p95 cpu)."
        )
    if best:
        print(f"\nBest meeting the target (lowest p95): {best['factory']} {best['param']}={best['value']}")
    else:
        print("\nNo configuration meets the target.")
    settings = {
        "n": args.n,
        "dim": args.dim,
        "clusters": clusters,
        "spread": args.spread,
        "spectrum_exponent": SPECTRUM_EXPONENT,
        "queries": args.queries,
        "k": K,
        "seed": args.seed,
        "data": "synthetic clustered vectors (Gaussian clusters, power-law noise spectrum, L2-normalised)",
        "build_threads": args.build_threads,
        "search_threads": 1,
        "cores": cores,
        "load_average_start": load_before[0],
        "load_average_end": load_after[0],
        "faiss": faiss.__version__,
        "numpy": np.__version__,
        "exact_search_s": exact_s,
        "project_choose_factory": choose_factory(args.n),
    }
    target = {"p95_ms": TARGET_P95_MS, "recall_at_10": TARGET_RECALL, "bytes": TARGET_BYTES}
    print(json.dumps({"settings": settings, "target": target, "rows": rows, "best": best}))


if __name__ == "__main__":
    main()
