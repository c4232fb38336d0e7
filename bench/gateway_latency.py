"""How long a customer waits: the whole path through the gateway, against a bare Rasa bot in the same run.

    python -m bench.gateway_latency [--messages 120] [--concurrency 4]

Starts the stack (a private Redis, the trained model, the action server with the KB index, the gateway) on free
ports and sends held-out customer messages (bench/data/heldout_{ru,en}.csv), one new conversation per message:

- ``rasa``: straight to Rasa's REST webhook (the baseline: the bot alone, no gateway);
- ``webchat``: ``POST /api/v1/webchat/messages`` (store, identity, NLU parse, triage, the bot, handoff when
  due, history);
- ``triage``: ``POST /api/v1/triage`` (NLU parse, signals, policy, KB search, channel choice; no side effects);
- ``voice``: ``POST /api/v1/voice/events`` (the webchat path plus the channel policy and the spoken text).

Sequential requests give the latency (p50, p95, mean); ``--concurrency`` clients at once give the throughput of
the webchat path. Prints a table and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DATA = [ROOT / "bench" / "data" / "heldout_ru.csv", ROOT / "bench" / "data" / "heldout_en.csv"]


def messages(count: int, seed: int = 7) -> list[str]:
    texts: list[str] = []
    for path in DATA:
        with path.open(encoding="utf-8", newline="") as handle:
            texts += [row["text"] for row in csv.DictReader(handle)]
    random.Random(seed).shuffle(texts)
    return texts[:count]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "mean_ms": round(statistics.fmean(values), 1),
        "n": len(values),
    }


def timed(call: Callable[[str], httpx.Response], texts: Sequence[str]) -> list[float]:
    latencies: list[float] = []
    for text in texts:
        start = time.perf_counter()
        response = call(text)
        latencies.append((time.perf_counter() - start) * 1000)
        if response.status_code >= 300:
            raise RuntimeError(f"{response.request.url.path} answered {response.status_code}: {response.text[:200]}")
    return latencies


@contextmanager
def started_stack() -> Iterator[tuple[str, str, str, str]]:
    """The whole service on free ports with a private Redis: (gateway url, rasa url, rasa token, voice token)."""
    from zabota.stack import Stack, StackSettings, free_port

    settings = StackSettings(
        # a Redis URL nothing answers: the stack starts a private Redis rather than touching a running one
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        rasa_port=free_port(),
        action_port=free_port(),
        gateway_port=free_port(),
        log_dir=ROOT / ".run" / "logs" / "gateway_latency",
        # one sender sends every message here; the limit is not what is measured
        extra_env={"RATE_LIMIT_PER_MINUTE": "100000"},
    )
    stack = Stack(settings)
    try:
        stack.start()
        yield stack.gateway_url, f"http://127.0.0.1:{settings.rasa_port}", settings.rasa_token, settings.voice_token
    finally:
        stack.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    texts = messages(args.messages)
    results: dict[str, dict[str, float]] = {}
    with started_stack() as (gateway_url, rasa_url, _, voice_token), httpx.Client(timeout=60) as rasa:  # noqa: SIM117
        with httpx.Client(base_url=gateway_url, timeout=60) as gateway:
            # Warm-up: the first calls load the KB index and the spaCy pipelines.
            gateway.post("/api/v1/triage", json={"text": "warm up"})
            gateway.post("/api/v1/webchat/messages", json={"sender_id": "warm-up", "text": "привет"})

            def bare_rasa(text: str) -> httpx.Response:
                return rasa.post(
                    f"{rasa_url}/webhooks/rest/webhook", json={"sender": uuid.uuid4().hex, "message": text}
                )

            def webchat(text: str) -> httpx.Response:
                body = {"sender_id": f"bench-{uuid.uuid4().hex[:12]}", "text": text}
                return gateway.post("/api/v1/webchat/messages", json=body)

            def triage(text: str) -> httpx.Response:
                return gateway.post("/api/v1/triage", json={"text": text, "channel": "webchat"})

            def voice(text: str) -> httpx.Response:
                caller = "+7916" + "".join(random.choices("0123456789", k=7))
                event = {"call_id": uuid.uuid4().hex[:12], "caller": caller, "text": text}
                return gateway.post(
                    "/api/v1/voice/events", json=event, headers={"Authorization": f"Bearer {voice_token}"}
                )

            for name, call in (("rasa", bare_rasa), ("webchat", webchat), ("triage", triage), ("voice", voice)):
                results[name] = summary(timed(call, texts))

            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                chunks = [texts[i :: args.concurrency] for i in range(args.concurrency)]
                list(pool.map(lambda chunk: timed(webchat, chunk), chunks))
            elapsed = time.perf_counter() - start
            results["webchat_throughput"] = {
                "messages_per_second": round(len(texts) / elapsed, 2),
                "concurrency": args.concurrency,
                "n": len(texts),
            }

    print(f"Gateway latency, {len(texts)} held-out messages, one new conversation each (sequential)")
    print(f"{'path':10} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name in ("rasa", "webchat", "triage", "voice"):
        row = results[name]
        print(f"{name:10} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['mean_ms']:>8}")
    overhead = results["webchat"]["p50_ms"] - results["rasa"]["p50_ms"]
    print(f"gateway overhead over the bare bot (p50): {overhead:.1f} ms")
    throughput = results["webchat_throughput"]
    print(f"webchat throughput with {throughput['concurrency']} clients: {throughput['messages_per_second']} msg/s")
    results["overhead_p50_ms"] = {"webchat_minus_rasa": round(overhead, 1)}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
