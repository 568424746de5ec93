"""The guards of every run (the only writer of ``guard_results``): the input guard before the graph
(and on each human answer), and the output verification after it. Each fails closed.

Input (``guard_input``): every string of the value goes through the PII layer with the agent's
input policy (``allow`` / ``redact`` / ``block`` per entity), then, when it is free text, through the
jailbreak, prompt-injection and system-prompt rails, and, when it sits under one of the policy's
request fields (``messages``, ``question``, ...), the topic rail. The first blocking layer decides; the
graph receives the value with the policy's redactions.

Output (``verify_output``): every string of the output goes through the PII layer with the agent's
output policy; an allowed entity that was not in the run's input (and is not one of the agent's
public entities) withholds the output, as does a ``block`` entity; then the agent's own compliance
checks (declared by its package, loaded from its artifact) must pass.
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from collections import Counter

from cachetools import LRUCache
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from activities.artifact_loader import ArtifactCache
from activities.guards.pii import PiiGuard, PiiResult
from activities.guards.rails import RailsGuard
from activities.guards.values import dotted, replaced, strings, word_count
from shipway import queries
from shipway.db.engine import Database
from shipway.db.models import GuardResult, utcnow
from shipway.guard_policy import GuardPolicy, PiiAction, effective_policy
from shipway.metrics import observe_guard_block
from workflows.types import GUARD_INPUT, VERIFY_OUTPUT, GuardInput, GuardVerdict, OutputCheck, OutputVerdict

# A string of fewer words cannot carry an instruction (codes, amounts, names, enumerated values).
RAIL_MIN_WORDS = 3
# Only a text this long is judged against the agent's topics (a name or a short note is not "off topic").
TOPIC_MIN_WORDS = 8


def is_request(path: tuple, policy: GuardPolicy) -> bool:
    """Whether the string at ``path`` is a request to the agent (under one of the policy's request
    fields, e.g. ``messages[2].content``, or the whole input when it is a bare string)."""
    return not path or any(part in policy.request_fields for part in path if isinstance(part, str))


def rail_topics(path: tuple, text: str, policy: GuardPolicy) -> list[str] | None:
    """How the rails judge the string at ``path``: ``None`` when it is too short to carry an
    instruction (no rail), else the topics for the off-topic rail (``[]``: attack rails only)."""
    words = word_count(text)
    if words < RAIL_MIN_WORDS:
        return None
    return policy.topics if is_request(path, policy) and words >= TOPIC_MIN_WORDS else []


def _normal(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


class GuardActivities:
    """The run guards with what they own: the PII layer, the rails, the versions' policies (LRU)
    and the worker's artifact cache (for each agent's output checks).

    Args:
        db: the worker's database (catalog reads, ``guard_results`` writes).
        pii: the PII layer (Presidio).
        rails: the jailbreak / injection / topic rails (NeMo Guardrails).
        artifacts: the worker's artifact cache.
    """

    def __init__(self, db: Database, pii: PiiGuard, rails: RailsGuard, artifacts: ArtifactCache) -> None:
        self.db, self.pii, self.rails, self.artifacts = db, pii, rails, artifacts
        self._policies: LRUCache = LRUCache(maxsize=256)

    def _pii_all(self, value, actions: dict[str, PiiAction]) -> list[tuple[tuple, str, PiiResult]]:
        """``actions`` applied to every string of ``value`` (one thread hop for all; a repeated
        string is analysed once): ``(path, string, result)`` in document order."""
        done: dict[str, PiiResult] = {}
        out = []
        for path, text in strings(value):
            if text not in done:
                done[text] = self.pii.apply(text, actions)
            out.append((path, text, done[text]))
        return out

    async def _version(self, agent: str, version: int) -> tuple[GuardPolicy, str | None]:
        key = (agent, version)
        if (hit := self._policies.get(key)) is None:
            row = await self.db.read(queries.agent_version, agent, version)
            if row is None:
                raise LookupError(f"agent {agent} v{version} is not in the catalog")
            hit = self._policies[key] = (effective_policy(row.spec), row.artifact_sha256)
        return hit

    async def _record(self, inp: GuardInput | OutputCheck, stage: str, verdict: str, started: float, *, rail: str | None = None,
                      reason_code: str | None = None, detail: str = "", findings: dict | None = None) -> None:
        async with self.db.session() as s:
            await s.exec(insert(GuardResult).values(
                run_id=inp.run_id, agent_name=inp.agent_name, version=inp.version, stage=stage, verdict=verdict, rail=rail,
                reason_code=reason_code, detail=detail, findings=findings or {},
                latency_ms=round((time.perf_counter() - started) * 1000, 3), created_at=utcnow()).on_conflict_do_nothing())
            await s.commit()
        if verdict in ("blocked", "withheld"):
            # an output has no rail: its reason code (a fixed set) names what withheld it
            observe_guard_block(inp.agent_name, stage, rail or reason_code.lower())

    @activity.defn(name=GUARD_INPUT)
    async def guard_input(self, inp: GuardInput) -> GuardVerdict:
        """Guard one value a run receives (its input, or a human's answer).

        Returns:
            ``blocked`` with the rail (``pii``, ``jailbreak``, ``off_topic``, ...), reason code and
            where (never the text); else the value with the input policy's redactions.
        """
        started = time.perf_counter()
        policy, _ = await self._version(inp.agent_name, inp.version)
        entities: Counter = Counter()
        changes = {}
        for path, _, result in await asyncio.to_thread(self._pii_all, inp.value, policy.input):
            entities.update(f.entity for f in result.findings)
            if result.blocked:
                detail = f"{', '.join(sorted(set(result.blocked)))} in {dotted(path)} is not allowed by the agent's input policy"
                await self._record(inp, inp.stage, "blocked", started, rail="pii", reason_code="PII_BLOCKED", detail=detail,
                                   findings={"entities": dict(entities)})
                return GuardVerdict(blocked=True, value={}, rail="pii", reason_code="PII_BLOCKED", detail=detail)
            if result.redacted:
                changes[path] = result.text
        value = replaced(inp.value, changes)
        scores = {}
        judged: dict[tuple, object] = {}  # a repeated string (a counterparty on every transaction) is judged once
        for path, text in strings(value):
            if (topics := rail_topics(path, text, policy)) is None:
                continue
            if (key := (text, bool(topics))) not in judged:
                judged[key] = await self.rails.check(text, topics, policy.description)
            rail = judged[key]
            scores[dotted(path)] = {"intent": rail.intent, "score": rail.score, "ms": rail.latency_ms}
            if rail.blocked:
                detail = f"{rail.rail} rail in {dotted(path)}"
                await self._record(inp, inp.stage, "blocked", started, rail=rail.rail, reason_code=rail.reason_code, detail=detail,
                                   findings={"entities": dict(entities), "rails": scores})
                return GuardVerdict(blocked=True, value={}, rail=rail.rail, reason_code=rail.reason_code, detail=detail)
        await self._record(inp, inp.stage, "redacted" if changes else "pass", started,
                           findings={"entities": dict(entities), "redacted": [dotted(p) for p in changes], "rails": scores})
        return GuardVerdict(blocked=False, value=value)

    def _output_checks(self, artifact_sha256: str | None) -> list:
        if not artifact_sha256:
            return []
        loaded = self.artifacts.load(artifact_sha256)
        return list(loaded.attr(loaded.manifest.output_checks)) if loaded.manifest.output_checks else []

    @activity.defn(name=VERIFY_OUTPUT)
    async def verify_output(self, inp: OutputCheck) -> OutputVerdict:
        """Verify a finished run's output before it leaves the run.

        Returns:
            ``withheld`` with the reason code (``OUTPUT_PII_BLOCKED``, ``OUTPUT_PII_NOT_IN_INPUT``,
            ``OUTPUT_CHECK_FAILED``) and what failed (never the text); else the output with the
            output policy's redactions.
        """
        started = time.perf_counter()
        policy, artifact = await self._version(inp.agent_name, inp.version)
        seen = _normal(" ".join(text for _, text in strings(inp.run_input)))
        entities: Counter = Counter()
        changes = {}
        problem = None
        for path, text, result in await asyncio.to_thread(self._pii_all, inp.output, policy.output):
            entities.update(f.entity for f in result.findings)
            if result.blocked:
                problem = ("OUTPUT_PII_BLOCKED", f"{', '.join(sorted(set(result.blocked)))} in {dotted(path)}")
                break
            leaked = sorted({f.entity for f in result.findings if f.action == PiiAction.ALLOW
                             and f.entity not in policy.public_entities and _normal(text[f.start:f.end]) not in seen})
            if leaked:
                problem = ("OUTPUT_PII_NOT_IN_INPUT", f"{', '.join(leaked)} in {dotted(path)} was not in the run's input")
                break
            if result.redacted:
                changes[path] = result.text
        if problem is None:
            checks = await asyncio.to_thread(self._output_checks, artifact)
            failures = [msg for check in checks for msg in check(inp.output)]
            if failures:
                problem = ("OUTPUT_CHECK_FAILED", "; ".join(failures))
        if problem is not None:
            await self._record(inp, "output", "withheld", started, reason_code=problem[0], detail=problem[1],
                               findings={"entities": dict(entities)})
            return OutputVerdict(withheld=True, output=None, reason_code=problem[0], detail=problem[1])
        await self._record(inp, "output", "redacted" if changes else "pass", started,
                           findings={"entities": dict(entities), "redacted": [dotted(p) for p in changes]})
        return OutputVerdict(withheld=False, output=replaced(inp.output, changes))
