"""Demo traffic (SYNTHETIC generator cases) and the demo analyst's documented rule."""

from __future__ import annotations

import copy
from functools import lru_cache

from reference_agents.fraud_detection.generator import generate_cases
from reference_agents.fraud_detection.review import AnalystAnswer

# Pattern codes that, confirmed by the anomaly model, the demo analyst treats as fraud.
PATTERN_CODES = frozenset({"CARD_TESTING_BURST", "ACCOUNT_TAKEOVER", "IMPOSSIBLE_TRAVEL", "AMOUNT_SPIKE"})
CERTAIN_FRAUD_SCORE = 85.0
DEMO_ANALYST = "demo-analyst"
# The demo's stream (10 customers, 18 days): seed 4 is one whose first fraud case reaches the analyst,
# so even a short demo shows the human step. On most seeds the first frauds score lower: the
# detector misses many frauds (bench/model_review_fraud.py measures how many).
DEMO_SEED = 4


@lru_cache(maxsize=1)
def _demo_cases() -> tuple[dict, ...]:
    cases = generate_cases(seed=DEMO_SEED)
    fraud = [c for c in cases if c["is_fraud"]]
    normal = [c for c in cases if not c["is_fraud"]]
    # Interleave one fraud with three normal cases, so any prefix of the demo shows both.
    mixed = []
    while fraud or normal:
        if fraud:
            mixed.append(fraud.pop(0))
        mixed.extend(normal[:3])
        del normal[:3]
    return tuple(mixed)


def sample_inputs(n: int) -> list[dict]:
    """Up to ``n`` run inputs from the SYNTHETIC generator's stream of seed :data:`DEMO_SEED`
    (one fraud per three normal cases, each in time order);
    every third is sent as an upstream alert wrapping the transaction."""
    out = []
    for i, case in enumerate(_demo_cases()[: max(n, 0)]):
        run_input = copy.deepcopy(case["input"])
        if i % 3 == 2:
            txn = run_input.pop("transaction")
            run_input["alert"] = {
                "alert_id": f"ALERT-{txn['transaction_id']}",
                "source_system": "card-auth-rules-engine",
                "rule_code": "REALTIME_SCREEN",
                "transaction": txn,
            }
        out.append(run_input)
    return out


def resume_value(interrupt_request: dict, run_input: dict) -> dict:
    """The demo analyst's answer: ``fraud`` when the risk score is at least 85, or when a
    fraud-pattern rule (card testing, account takeover, impossible travel, amount spike) and the
    anomaly model (``MODEL_ANOMALY``) agree; otherwise ``legitimate``.

    Args:
        interrupt_request: the ``fraud_analyst_review`` request (JSON); reads ``context.risk_score``
            and the codes of ``reasons``.
        run_input: unused; the analyst decides on what the request shows.

    Returns:
        a valid :class:`~reference_agents.fraud_detection.review.AnalystAnswer` as JSON.
    """
    codes = {reason["code"] for reason in interrupt_request["reasons"]}
    risk_score = interrupt_request["context"]["risk_score"]
    agree = bool(codes & PATTERN_CODES) and "MODEL_ANOMALY" in codes
    fraud = risk_score >= CERTAIN_FRAUD_SCORE or agree
    matched = sorted(codes & PATTERN_CODES) or ["none"]
    return AnalystAnswer(
        decision="fraud" if fraud else "legitimate",
        reviewer=DEMO_ANALYST,
        note=f"rule: score {risk_score:.0f}, patterns {', '.join(matched)}",
    ).model_dump()
