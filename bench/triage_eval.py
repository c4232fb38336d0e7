"""`make bench-triage [DATA=<csv>]`: the triage on single held-out messages, against two baselines.

    python -m bench.triage_eval [--data bench/data/triage_heldout.csv]
        [--rasa-url URL --rasa-token T | --start-rasa] [--nlu-cache results/bench/triage_nlu.json] [--check]

Each message goes through the Rasa server's NLU (POST /model/parse; `--start-rasa` starts one on a free port
with the trained model in models/current, and a private Redis for its tracker store, and stops both after),
then through three systems, in the same run:

  intent   the NLU intent alone: escalate when the catalog says the intent is sensitive or escalate, with its
           priority (what the bot would do without text signals);
  keyword  the intent, plus a short list of raw substrings ("суицид", "суд", "kill", ...), the usual first
           attempt at sensitive-word detection;
  triage   the product: zabota.triage.TriagePolicy with the SignalDetector's lemma patterns.

The context is empty (each message stands alone), so the complexity rules that need a history (two
low-confidence turns, the knowledge base unhelpful twice, recurring) never fire here; anger and a request for
a person do.

Reported per language and overall: escalation recall, the false escalation rate on routine messages, the p1
and p2 cases missed (listed), priority accuracy on the messages that should escalate (right priority, counted
over all of them, a miss counts as wrong), under-prioritised p1/p2 cases, and the latency of signal detection
(p50/p95, after warm-up). The last line is one JSON object with the figures. Targets: recall >= 0.98 with no p1
or p2 missed, false escalations <= 3 %; `--check` exits 1 when the triage misses one.

The CSV: text,lang,expected_escalate (1/0),expected_priority (p1..p4, empty when 0),category.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zabota.catalog import Catalog, Priority, load_catalog
from zabota.triage.clauses import clause_units
from zabota.triage.model import PRIORITY_ORDER, NluResult, Signal, TriageContext
from zabota.triage.policy import TriageConfig, TriagePolicy
from zabota.triage.signals import SignalDetector

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "bench" / "data" / "triage_heldout.csv"
DEV = ROOT / "bench" / "data" / "triage_dev.csv"
COLUMNS = ["text", "lang", "expected_escalate", "expected_priority", "category"]
LANGS = ("ru", "en")
# "triage" is the service as configured (TriageConfig.from_env()); the variants are the same with another
# confidence gate on doubtful sensitive intents, for comparison in the same run: no gate (every sensitive
# intent counts, as the catalog alone says) and the strictest gate the development set supports.
SYSTEMS = ("intent", "keyword", "triage")
GATE_VARIANTS = {"gate0": 0.0, "gate0.6": 0.6}
TARGET_RECALL = 0.98
TARGET_FALSE_ESCALATION = 0.03

# The keyword baseline: raw lower-case substrings, by priority. Deliberately the obvious list.
KEYWORDS: dict[Priority, tuple[str, ...]] = {
    "p1": (
        "суицид", "самоубий", "покончить с собой", "убить себя", "не хочу жить", "умереть", "пожар", "газ",
        "suicide", "kill myself", "end my life", "want to die", "fire", "gas",
    ),
    "p2": (
        "угрож", "убью", "убьют", "избил", "бьет", "бьёт", "шантаж", "преследу", "утечк", "слили", "взлом",
        "мошен", "украл", "threat", "kill", "stalk", "blackmail", "harass", "leak", "hack", "stolen", "scam",
    ),
    "p3": (
        "суд", "юрист", "адвокат", "прокурат", "роспотребнадзор", "роскомнадзор", "оператор", "человек", "умер",
        "sue", "court", "lawyer", "regulator", "agent", "human", "person", "died", "passed away",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Case:
    text: str
    lang: str
    escalate: bool
    priority: Priority | None
    category: str


@dataclass(frozen=True)
class Outcome:
    escalate: bool
    priority: Priority | None
    why: str = ""


def read_cases(path: Path) -> list[Case]:
    """The CSV's rows as cases; ValueError on a malformed row (the data tests rely on it)."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"{path}: columns must be {COLUMNS}, got {reader.fieldnames}")
        cases = []
        for n, row in enumerate(reader, start=2):
            text, lang, esc, prio, category = (row[c].strip() if row[c] else "" for c in COLUMNS)
            if not text or lang not in LANGS or esc not in ("0", "1") or not category:
                raise ValueError(f"{path}:{n}: bad row {row}")
            if (esc == "1") != (prio != "") or (prio and prio not in PRIORITY_ORDER):
                raise ValueError(f"{path}:{n}: expected_priority {prio!r} does not fit expected_escalate {esc}")
            cases.append(Case(text, lang, esc == "1", prio or None, category))  # type: ignore[arg-type]
    return cases


# -- the three systems --------------------------------------------------------------------------------------


def intent_only(catalog: Catalog, nlu: NluResult) -> Outcome:
    intent = catalog.intent(nlu.intent)
    if intent is not None and (intent.sensitive or intent.handling == "escalate"):
        return Outcome(True, intent.priority, f"intent {intent.name}")
    return Outcome(False, None, f"intent {nlu.intent}")


def keyword_baseline(catalog: Catalog, text: str, nlu: NluResult) -> Outcome:
    base = intent_only(catalog, nlu)
    lowered = text.lower()
    hits = [(p, k) for p, words in KEYWORDS.items() for k in words if k in lowered]
    if not hits:
        return base
    priorities = [p for p, _ in hits] + ([base.priority] if base.priority else [])
    priority = min(priorities, key=lambda p: PRIORITY_ORDER[p])
    return Outcome(True, priority, f"{base.why}; substrings {[k for _, k in hits]}")


# -- scoring ------------------------------------------------------------------------------------------------


def more_urgent(a: Priority | None, b: Priority | None) -> bool:
    """a is more urgent than b (None: not escalated, the least urgent)."""
    return PRIORITY_ORDER[a] < PRIORITY_ORDER[b] if a and b else bool(a and not b)


@dataclass
class Scores:
    escalations: int = 0
    routine: int = 0
    caught: int = 0
    false_escalations: int = 0
    right_priority: int = 0
    missed_p1_p2: list[str] = field(default_factory=list)
    missed_other: list[str] = field(default_factory=list)
    under_prioritised: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    def add(self, case: Case, outcome: Outcome) -> None:
        line = f"[{case.lang} {case.category} {case.priority or '-'}] {case.text}  <- {outcome.why}"
        if case.escalate:
            self.escalations += 1
            if outcome.escalate:
                self.caught += 1
                self.right_priority += outcome.priority == case.priority
                if case.priority in ("p1", "p2") and more_urgent(case.priority, outcome.priority):
                    self.under_prioritised.append(f"{line} (got {outcome.priority})")
            elif case.priority in ("p1", "p2"):
                self.missed_p1_p2.append(line)
            else:
                self.missed_other.append(line)
        else:
            self.routine += 1
            if outcome.escalate:
                self.false_escalations += 1
                self.false.append(f"{line} (got {outcome.priority})")

    def figures(self) -> dict[str, Any]:
        return {
            "escalations": self.escalations,
            "routine": self.routine,
            "recall": round(self.caught / self.escalations, 4) if self.escalations else None,
            "false_escalation_rate": round(self.false_escalations / self.routine, 4) if self.routine else None,
            "false_escalations": self.false_escalations,
            "missed_p1_p2": len(self.missed_p1_p2),
            "missed": len(self.missed_p1_p2) + len(self.missed_other),
            "priority_accuracy": round(self.right_priority / self.escalations, 4) if self.escalations else None,
            "under_prioritised_p1_p2": len(self.under_prioritised),
        }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] if ordered else 0.0


@dataclass
class Evaluation:
    scores: dict[str, dict[str, Scores]]  # system -> lang|"all" -> scores
    detect_ms: list[float]
    parse_ms: list[float]

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            system: {lang: s.figures() for lang, s in by_lang.items()} for system, by_lang in self.scores.items()
        }
        out["latency_ms"] = {
            "signal_detection_p50": round(percentile(self.detect_ms, 0.5), 2),
            "signal_detection_p95": round(percentile(self.detect_ms, 0.95), 2),
            "nlu_parse_p50": round(percentile(self.parse_ms, 0.5), 1) if self.parse_ms else None,
            "nlu_parse_p95": round(percentile(self.parse_ms, 0.95), 1) if self.parse_ms else None,
        }
        triage = self.scores["triage"]["all"].figures()
        out["targets_met"] = bool(
            triage["recall"] is not None
            and triage["recall"] >= TARGET_RECALL
            and triage["missed_p1_p2"] == 0
            and (triage["false_escalation_rate"] or 0.0) <= TARGET_FALSE_ESCALATION
        )
        return out


def evaluate(
    cases: Sequence[Case],
    nlu_results: Sequence[NluResult],
    detector: Callable[[str, str], list[Signal]],
    policy: TriagePolicy,
    parse_ms: Sequence[float] = (),
    variants: Mapping[str, TriagePolicy] | None = None,
) -> Evaluation:
    """Scores the systems (and the policy ``variants``) on ``cases``, given each case's NLU result (same order)."""
    if len(cases) != len(nlu_results):
        raise ValueError("one NLU result per case")
    variants = dict(variants or {})
    systems = [*SYSTEMS, *variants]
    scores = {system: {lang: Scores() for lang in (*LANGS, "all")} for system in systems}
    detect_ms: list[float] = []
    for case, nlu in zip(cases, nlu_results, strict=True):
        start = time.perf_counter()
        signals = detector(case.text, case.lang)
        detect_ms.append((time.perf_counter() - start) * 1000)
        decision = policy.decide(case.text, case.lang, nlu, signals, TriageContext())
        why = f"intent {nlu.intent} {nlu.confidence:.2f}" + "".join(
            f"; {r.code}: {r.detail}" for r in decision.reasons if r.code != "routine"
        )
        outcomes = {
            "intent": intent_only(policy.catalog, nlu),
            "keyword": keyword_baseline(policy.catalog, case.text, nlu),
            "triage": Outcome(decision.escalate, decision.priority, why),
        }
        for name, variant in variants.items():
            other = variant.decide(case.text, case.lang, nlu, signals, TriageContext())
            outcomes[name] = Outcome(
                other.escalate, other.priority, f"{name}: intent {nlu.intent} {nlu.confidence:.2f}"
            )
        for system, outcome in outcomes.items():
            scores[system][case.lang].add(case, outcome)
            scores[system]["all"].add(case, outcome)
    return Evaluation(scores=scores, detect_ms=detect_ms, parse_ms=list(parse_ms))


def report(evaluation: Evaluation, title: str) -> str:
    lines = [f"Triage on {title}", ""]
    header = f"{'system':9} {'lang':4} {'esc':>4} {'recall':>7} {'routine':>7} {'false%':>7} {'miss p1/p2':>10} "
    header += f"{'prio acc':>8} {'under p1/p2':>11}"
    lines.append(header)
    for system, by_lang in evaluation.scores.items():
        for lang, scores in by_lang.items():
            f = scores.figures()
            recall = f"{f['recall']:.3f}" if f["recall"] is not None else "-"
            false = f"{100 * f['false_escalation_rate']:.1f}" if f["false_escalation_rate"] is not None else "-"
            accuracy = f"{f['priority_accuracy']:.3f}" if f["priority_accuracy"] is not None else "-"
            lines.append(
                f"{system:9} {lang:4} {f['escalations']:>4} {recall:>7} {f['routine']:>7} {false:>7} "
                f"{f['missed_p1_p2']:>10} {accuracy:>8} {f['under_prioritised_p1_p2']:>11}"
            )
    figures = evaluation.figures()
    latency = figures["latency_ms"]
    lines.append("")
    lines.append(
        f"signal detection: p50 {latency['signal_detection_p50']} ms, p95 {latency['signal_detection_p95']} ms"
        + (
            f"; NLU parse (HTTP): p50 {latency['nlu_parse_p50']} ms, p95 {latency['nlu_parse_p95']} ms"
            if latency["nlu_parse_p50"] is not None
            else ""
        )
    )
    for system, by_lang in evaluation.scores.items():
        s = by_lang["all"]
        for name, items in (
            ("p1/p2 missed", s.missed_p1_p2),
            ("other escalations missed", s.missed_other),
            ("p1/p2 under-prioritised", s.under_prioritised),
            ("false escalations", s.false),
        ):
            if items and (system not in ("intent", "keyword") or name == "p1/p2 missed"):
                lines.append("")
                lines.append(f"{system}: {name} ({len(items)})")
                lines.extend(f"  {item}" for item in items)
    triage = figures["triage"]["all"]
    lines.append("")
    lines.append(
        f"targets (recall >= {TARGET_RECALL}, no p1/p2 missed, false escalations <= {TARGET_FALSE_ESCALATION:.0%}): "
        + ("met" if figures["targets_met"] else "NOT met")
        + f" (recall {triage['recall']}, p1/p2 missed {triage['missed_p1_p2']}, "
        f"false {triage['false_escalation_rate']})"
    )
    return "\n".join(lines)


# -- the NLU ------------------------------------------------------------------------------------------------


def nlu_from_parse(data: Mapping[str, Any]) -> NluResult:
    """Rasa's /model/parse response -> NluResult."""
    intent = data.get("intent") or {}
    ranking = tuple((str(r.get("name")), float(r.get("confidence") or 0.0)) for r in data.get("intent_ranking") or ())
    return NluResult(
        intent=str(intent.get("name") or "nlu_fallback"),
        confidence=float(intent.get("confidence") or 0.0),
        ranking=ranking,
        entities=tuple(dict(e) for e in data.get("entities") or ()),
    )


def rasa_parser(url: str, token: str) -> Callable[[str], Mapping[str, Any]]:
    import httpx

    client = httpx.Client(base_url=url.rstrip("/"), timeout=60)

    def parse(text: str) -> Mapping[str, Any]:
        response = client.post("/model/parse", params={"token": token}, json={"text": text})
        response.raise_for_status()
        result: Mapping[str, Any] = response.json()
        return result

    return parse


def parse_cases(
    cases: Sequence[Case], parse: Callable[[str], Mapping[str, Any]], cache: Path | None = None
) -> tuple[list[NluResult], list[float]]:
    """Each case's NLU result, its clauses' included (as the gateway's TriageEngine.classify does), from
    ``cache`` (text -> parse response JSON) where it has one. The latencies are of the whole messages."""
    stored: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8")) if cache and cache.exists() else {}
    results: list[NluResult] = []
    latencies: list[float] = []

    def parsed(text: str, timed: bool) -> Mapping[str, Any]:
        data = stored.get(text)
        if data is None:
            start = time.perf_counter()
            data = parse(text)
            if timed:
                latencies.append((time.perf_counter() - start) * 1000)
            stored[text] = data
        return data

    for case in cases:
        nlu = nlu_from_parse(parsed(case.text, timed=True))
        clauses = [nlu_from_parse(parsed(unit, timed=False)) for unit in clause_units(case.text)]
        results.append(dataclasses.replace(nlu, clauses=tuple((c.intent, c.confidence) for c in clauses)))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    return results, latencies


@contextmanager
def started_rasa() -> Iterator[tuple[str, str]]:
    """A Rasa server with the trained model on a free port, with its own Redis; (url, token)."""
    from zabota.stack import Stack, StackSettings, free_port

    settings = StackSettings(
        # a Redis URL nothing answers: the stack starts a private Redis rather than touching a running one
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        rasa_port=free_port(),
        log_dir=ROOT / ".run" / "logs" / "triage_eval",
    )
    stack = Stack(settings)
    try:
        stack.start_redis()
        stack.start_rasa()
        yield f"http://127.0.0.1:{settings.rasa_port}", settings.rasa_token
    finally:
        stack.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HELDOUT)
    parser.add_argument("--rasa-url", help="a running Rasa server with --enable-api")
    parser.add_argument("--rasa-token", default="", help="its --auth-token")
    parser.add_argument("--start-rasa", action="store_true", help="start a Rasa server with models/current")
    parser.add_argument("--nlu-cache", type=Path, help="JSON file of parse results to reuse and extend")
    parser.add_argument("--check", action="store_true", help="exit 1 when the triage misses a target")
    args = parser.parse_args(argv)
    if bool(args.rasa_url) == bool(args.start_rasa):
        parser.error("give either --rasa-url (and --rasa-token) or --start-rasa")

    cases = read_cases(args.data)
    detector = SignalDetector()
    detector.warm_up()  # pipeline loading is not detection latency
    config = TriageConfig.from_env()
    policy = TriagePolicy(load_catalog(), config, cues=detector.intent_cues, vetoes=detector.intent_vetoes)
    variants = {
        name: TriagePolicy(
            load_catalog(),
            dataclasses.replace(config, sensitive_min_confidence=gate),
            cues=detector.intent_cues,
            vetoes=detector.intent_vetoes,
        )
        for name, gate in GATE_VARIANTS.items()
        if gate != config.sensitive_min_confidence
    }
    if config.read_clauses:
        # the same policy reading the whole message only: what the clauses add
        variants["noclause"] = TriagePolicy(
            load_catalog(),
            dataclasses.replace(config, read_clauses=False),
            cues=detector.intent_cues,
            vetoes=detector.intent_vetoes,
        )
    if args.start_rasa:
        with started_rasa() as (url, token):
            nlu, parse_ms = parse_cases(cases, rasa_parser(url, token), args.nlu_cache)
    else:
        nlu, parse_ms = parse_cases(cases, rasa_parser(args.rasa_url, args.rasa_token), args.nlu_cache)
    evaluation = evaluate(cases, nlu, detector.detect, policy, parse_ms, variants=variants)
    title = f"{args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data} ({len(cases)} messages)"
    print(report(evaluation, title))
    figures = evaluation.figures()
    figures["data"] = str(args.data.name)
    print(json.dumps(figures, ensure_ascii=False))
    return 1 if args.check and not figures["targets_met"] else 0


if __name__ == "__main__":
    sys.exit(main())
