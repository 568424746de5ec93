"""Judging texts with the input guard outside a run: one text, layer by layer
(``shipway guard check``), and a labelled set with detection, false positives and latency per layer
(``shipway guard eval``, ``bench/guard_eval.py``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from activities.guards.pii import PiiGuard
from activities.guards.rails import RailsGuard
from activities.guards.run_guards import rail_topics
from shipway.guard_policy import GuardPolicy


@dataclass
class TextVerdict:
    """Each layer's verdict on one text, and the input guard's as a whole: ``blocked`` by which layer
    (``pii`` or the rail's name) and reason code; the PII entities found and what the policy did;
    the rail's intent and score; each layer's time (ms)."""

    blocked: bool
    layer: str | None
    reason_code: str | None
    pii_entities: dict[str, str] = field(default_factory=dict)  # entity -> action
    rail_intent: str | None = None
    rail_score: float | None = None
    pii_ms: float = 0.0
    rails_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        """Both layers' time, ms."""
        return self.pii_ms + self.rails_ms


async def check_text(text: str, policy: GuardPolicy, pii: PiiGuard, rails: RailsGuard) -> TextVerdict:
    """Judge ``text`` as the input guard judges one string of a run's input (same word thresholds)."""
    t0 = time.perf_counter()
    result = pii.apply(text, policy.input)
    pii_ms = (time.perf_counter() - t0) * 1000
    entities = {f.entity: str(f.action) for f in result.findings}
    if result.blocked:
        return TextVerdict(True, "pii", "PII_BLOCKED", entities, pii_ms=pii_ms)
    if (topics := rail_topics((), result.text, policy)) is None:
        return TextVerdict(False, None, None, entities, pii_ms=pii_ms)
    t1 = time.perf_counter()
    rail = await rails.check(result.text, topics, policy.description)
    rails_ms = (time.perf_counter() - t1) * 1000
    return TextVerdict(rail.blocked, rail.rail if rail.blocked else None, rail.reason_code if rail.blocked else None, entities,
                       rail.intent, rail.score, pii_ms, rails_ms)


@dataclass
class EvalReport:
    """A labelled set through the input guard: counts, detection rate (attacks blocked), false-positive
    rate (benign texts blocked), which layer blocked what, and latency percentiles (ms)."""

    attacks: int
    benign: int
    detected: int
    false_positives: int
    by_layer: dict[str, int]
    latency_ms: dict[str, dict[str, float]]

    @property
    def detection_rate(self) -> float:
        """Share of attacks blocked (0-1)."""
        return self.detected / self.attacks if self.attacks else float("nan")

    @property
    def false_positive_rate(self) -> float:
        """Share of benign texts blocked (0-1)."""
        return self.false_positives / self.benign if self.benign else float("nan")

    def lines(self) -> list[str]:
        """The report as printable lines."""
        out = [f"texts: {self.attacks} attacks, {self.benign} benign",
               f"detection: {self.detected}/{self.attacks} = {100 * self.detection_rate:.1f}%",
               f"false positives: {self.false_positives}/{self.benign} = {100 * self.false_positive_rate:.1f}%",
               "blocked by layer: " + (", ".join(f"{k} {v}" for k, v in sorted(self.by_layer.items())) or "none")]
        for layer, p in self.latency_ms.items():
            out.append(f"latency {layer:6} p50 {p['p50']:.2f} ms  p95 {p['p95']:.2f} ms  max {p['max']:.2f} ms")
        return out


def read_jsonl(path: Path) -> list[dict]:
    """Lines ``{"text": str, "attack": bool, ...}`` of a JSONL file.

    Raises:
        ValueError: a line is not such an object (naming the line number).
    """
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(row.get("attack"), bool):
            raise ValueError(f"{path}:{n}: expected {{\"text\": str, \"attack\": true|false}}")
        rows.append(row)
    return rows


def _percentiles(values: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)), "max": float(max(values))} \
        if values else {"p50": float("nan"), "p95": float("nan"), "max": float("nan")}


async def evaluate(rows: list[dict], policy: GuardPolicy, pii: PiiGuard, rails: RailsGuard) -> EvalReport:
    """Run every labelled text through the input guard (a row's own ``topics`` override the policy's)."""
    verdicts = []
    for row in rows:
        p = policy.model_copy(update={"topics": row["topics"]}) if "topics" in row else policy
        verdicts.append((row["attack"], await check_text(row["text"], p, pii, rails)))
    by_layer: dict[str, int] = {}
    for _, v in verdicts:
        if v.blocked:
            by_layer[v.layer] = by_layer.get(v.layer, 0) + 1
    return EvalReport(
        attacks=sum(a for a, _ in verdicts), benign=sum(not a for a, _ in verdicts),
        detected=sum(a and v.blocked for a, v in verdicts), false_positives=sum((not a) and v.blocked for a, v in verdicts),
        by_layer=by_layer,
        latency_ms={"pii": _percentiles([v.pii_ms for _, v in verdicts]),
                    "rails": _percentiles([v.rails_ms for _, v in verdicts if v.rails_ms]),
                    "total": _percentiles([v.total_ms for _, v in verdicts])})
