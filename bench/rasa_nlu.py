"""Training and running the project's Rasa NLU pipeline on arbitrary labelled text (Rasa environment)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence, Tuple

# Before Rasa is imported: quiet TensorFlow, no telemetry, CPU only.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("LOG_LEVEL", "WARNING")

FALLBACK = "nlu_fallback"


class Prediction(NamedTuple):
    """The pipeline's final intent and confidence, plus the classifier's own top two before any fallback."""

    intent: str
    confidence: float
    top: str
    top_confidence: float
    second_confidence: float
    # the classifier's ranking (name, confidence), nlu_fallback left out
    ranking: Tuple[Tuple[str, float], ...] = ()


def write_training_json(texts: Sequence[str], intents: Sequence[str], path: Path) -> None:
    """Rasa's JSON NLU format: unlike YAML, it never reads `[text](entity)` markup out of raw customer text."""
    examples = [{"text": t, "intent": i, "entities": []} for t, i in zip(texts, intents, strict=True)]
    path.write_text(json.dumps({"rasa_nlu_data": {"common_examples": examples}}, ensure_ascii=False), encoding="utf-8")


def train_nlu_model(config: Path, texts: Sequence[str], intents: Sequence[str], workdir: Path) -> Tuple[Path, float]:
    """Trains from scratch (Rasa's training cache disabled) and returns (model path, wall seconds)."""
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    os.environ["RASA_CACHE_DIRECTORY"] = str(workdir / "cache")
    from rasa.model_training import train_nlu

    data = workdir / "train.json"
    write_training_json(texts, intents, data)
    start = time.perf_counter()
    model = train_nlu(str(config), str(data), str(workdir / "models"), fixed_model_name="bench")
    seconds = time.perf_counter() - start
    if not model:
        raise SystemExit("rasa train_nlu produced no model")
    return Path(model), seconds


def parse_all(model: Path, texts: Sequence[str]) -> Tuple[List[Prediction], List[float]]:
    """(intent, confidence) for each text through the full NLU graph, and per-message latency in seconds."""
    logging.getLogger("rasa").setLevel(logging.ERROR)
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parse at debug level otherwise

    agent = Agent.load(str(model))

    async def run() -> Tuple[List[Prediction], List[float]]:
        out: List[Prediction] = []
        latencies: List[float] = []
        for text in texts:
            start = time.perf_counter()
            parsed: Dict = await agent.parse_message(text)
            latencies.append(time.perf_counter() - start)
            intent = parsed.get("intent") or {}
            ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK] or [intent]
            out.append(
                Prediction(
                    intent=intent.get("name") or "",
                    confidence=float(intent.get("confidence") or 0.0),
                    top=ranking[0].get("name") or "",
                    top_confidence=float(ranking[0].get("confidence") or 0.0),
                    second_confidence=float(ranking[1].get("confidence") or 0.0) if len(ranking) > 1 else 0.0,
                    ranking=tuple((str(r.get("name") or ""), float(r.get("confidence") or 0.0)) for r in ranking),
                )
            )
        return out, latencies

    return asyncio.run(run())
