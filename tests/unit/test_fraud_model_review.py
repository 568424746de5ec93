"""The fraud model review's figures (``bench/model_review_fraud.py``) on a hand-made scored set whose
answers are known (the review itself scores ~1,200 generated transactions: minutes, so not here)."""

from __future__ import annotations

from bench.model_review_fraud import CAVEAT, SIGNATURE_RULE, Scored, figures
from reference_agents.fraud_detection.generator import PATTERNS
from reference_agents.fraud_detection.policy import load_policy

TRIAGE = load_policy()["triage"]  # alert at 30, block at 70


def row(score: float, pattern: str | None = None, amount: float = 10.0, behaviour: str = "everyday",
        reasons: tuple[str, ...] = ()) -> Scored:
    return Scored(score, reasons, pattern is not None, pattern, pattern or behaviour, amount)


def test_figures_count_alerts_precision_recall_and_value_per_pattern():
    testing_rule = SIGNATURE_RULE["card_testing"]
    rows = [
        # card testing: 4 transactions, 2 alerted (one blocked); value 1 + 1 of 1 + 1 + 1 + 97
        row(80, "card_testing", 1.0, reasons=(testing_rule,)),
        row(40, "card_testing", 1.0, reasons=(testing_rule,)),
        row(10, "card_testing", 1.0),
        row(5, "card_testing", 97.0),
        # legitimate: 6, one micro-payment falsely alerted by the card-testing rule
        row(50, behaviour="micro_payment", reasons=(testing_rule,)),
        *[row(0) for _ in range(5)],
    ] + [row(90, p, reasons=(SIGNATURE_RULE[p],)) for p in PATTERNS[1:]]
    lines = figures(rows, TRIAGE)

    def line(start: str) -> str:
        (found,) = [x for x in lines if x.strip().startswith(start)]
        return found

    # Overall at 30: 6 alerts of 13, 5 of them fraud; 5 of 7 frauds caught, value 2 + 30 of 130.
    alerts = line("alert (risk score >= 30)")
    assert "alert rate  46.2 %" in alerts and "precision  83.3 %" in alerts and "recall  71.4 %" in alerts
    assert alerts.endswith("value detection  24.6 %")
    # Blocks at 70: the first probe and the three other patterns, all fraud.
    blocks = line("block (risk score >= 70)")
    assert "alert rate  30.8 %" in blocks and "precision 100.0 %" in blocks and "recall  57.1 %" in blocks
    testing = line("card_testing")
    # Own-rule alerts 3 of 13 (2 fraud), recall 2 of 4, value 2 of 100.
    assert "23.1 %" in testing and "66.7 %" in testing and "50.0 %" in testing and testing.endswith("2.0 %")
    assert "alert rate 100.0 %" in line("micro_payment")
    assert "SYNTHETIC" in CAVEAT
