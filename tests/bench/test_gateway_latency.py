"""The latency benchmark's own arithmetic and inputs (the run itself needs the whole stack: `make bench-gateway`)."""

from __future__ import annotations

from bench.gateway_latency import messages, percentile, summary


def test_percentiles_and_summary() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.95) == 95.0
    assert summary([10.0, 20.0, 30.0]) == {"p50_ms": 20.0, "p95_ms": 30.0, "mean_ms": 20.0, "n": 3}


def test_messages_are_held_out_texts_in_a_fixed_order() -> None:
    first = messages(50)
    assert len(first) == 50 and len(set(first)) == 50
    assert messages(50) == first  # the same seed: runs compare the same messages
    assert any(any("а" <= ch <= "я" for ch in text.lower()) for text in first)  # Russian among them
    assert any(text.isascii() for text in first)  # and English
