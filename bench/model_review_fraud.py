"""Fraud detection: the figures a model validator asks for, on SYNTHETIC labelled transactions.

The set: ``generate_transactions(n_customers=60, days=14, seed=11)`` (``reference_agents/
fraud_detection/generator.py``; fraud patterns and legitimate behaviour drawn from documented
assumptions, independently of the policy's thresholds); every transaction from day 7 on (when
fraud starts) with at least 20 earlier ones of its customer is scored by the agent's own
assessment (``tools.score_case``: enrichment, rules, IsolationForest, noisy-OR; the functions the
graph's nodes call) and triaged with the default policy.

Printed, overall and per fraud pattern: count, alert rate, precision, recall and value detection
rate (share of fraudulent value, in US dollars at the shipped rates, that is alerted), with 95 %
Wilson intervals; the false-alert rate per legitimate behaviour; ROC AUC; and what precision would
be at a realistic fraud share. An alert is a risk score at or above ``step_up_min_score`` (a
step-up or a block); the block threshold is shown too.

Deterministic (fixed seeds). About two minutes on a 2-core machine (one IsolationForest fit per
transaction). Run alone: ``python -m bench.model_review_fraud``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

from reference_agents.fraud_detection.fx import RATE_DATE, RATE_SOURCE, to_usd
from reference_agents.fraud_detection.generator import BEHAVIOURS, PATTERNS, START, generate_cases
from reference_agents.fraud_detection.policy import load_policy
from reference_agents.fraud_detection.tools import score_case

N_CUSTOMERS, DAYS, SEED = 60, 14, 11
FRAUD_START_DAY = DAYS // 2  # the generator's default: the first half builds history
# The rule written for each pattern: its alerts are the pattern's "own" alerts.
SIGNATURE_RULE = {
    "card_testing": "CARD_TESTING_BURST",
    "account_takeover": "ACCOUNT_TAKEOVER",
    "lost_stolen_card": "AMOUNT_SPIKE",
    "counterfeit_card": "IMPOSSIBLE_TRAVEL",
}
# ECB, "Seventh report on card fraud" (October 2021): fraud was 0.036 % of the value of card
# transactions with SEPA-issued cards in 2019. Used here, for illustration only, as a share of count.
REAL_FRAUD_SHARE = 0.00036
CAVEAT = ("CAVEAT: SYNTHETIC data. The frauds and the legitimate behaviour come from the generator's stated "
          "assumptions, not from observed fraud; these figures show how the rules and the model behave on those "
          "assumptions and are no estimate of performance on a real portfolio.")


@dataclass(frozen=True)
class Scored:
    """One scored transaction: the risk score, its reason codes, labels, and the amount in USD."""

    risk_score: float
    reasons: tuple[str, ...]
    is_fraud: bool
    pattern: str | None
    behaviour: str
    amount_usd: float


def score_set() -> list[Scored]:
    """Every transaction of the review set from ``FRAUD_START_DAY`` on, scored by the agent."""
    policy = load_policy()
    first = (START + timedelta(days=FRAUD_START_DAY)).isoformat()
    out = []
    for case in generate_cases(N_CUSTOMERS, DAYS, SEED):
        txn, inp = case["input"]["transaction"], case["input"]
        if txn["timestamp"] < first:
            continue
        result = score_case(txn, inp["history"], inp["account_events"], policy)
        out.append(Scored(result["risk_score"], tuple(result["reasons"]), case["is_fraud"], case["pattern"],
                          case["behaviour"], to_usd(txn["amount"], txn["currency"])))
    return out


def _pct(k: int, n: int) -> str:
    """``k/n`` as a percentage with its 95 % Wilson interval, or "n/a" when ``n`` is 0."""
    if n == 0:
        return "n/a"
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{100 * k / n:5.1f} % [{100 * ci.low:.0f}-{100 * ci.high:.0f}]"


def _value_rate(rows: list[Scored], alerted) -> str:
    total = sum(r.amount_usd for r in rows)
    return f"{100 * sum(r.amount_usd for r in rows if alerted(r)) / total:5.1f} %" if total else "n/a"


def _overall(rows: list[Scored], threshold: float, name: str) -> str:
    alerted = [r for r in rows if r.risk_score >= threshold]
    fraud = [r for r in rows if r.is_fraud]
    caught = sum(r.is_fraud for r in alerted)
    return (f"  {name} (risk score >= {threshold:g}): alert rate {_pct(len(alerted), len(rows))}, "
            f"precision {_pct(caught, len(alerted))}, recall {_pct(caught, len(fraud))}, "
            f"value detection {_value_rate(fraud, lambda r: r.risk_score >= threshold)}")


def _pattern_line(rows: list[Scored], pattern: str, threshold: float) -> str:
    own = [r for r in rows if r.pattern == pattern]
    rule = SIGNATURE_RULE[pattern]
    flagged = [r for r in rows if r.risk_score >= threshold and rule in r.reasons]
    caught = sum(r.risk_score >= threshold for r in own)
    return (f"  {pattern:<17} {len(own):5d}  {rule:<19} {_pct(len(flagged), len(rows)):>20}  "
            f"{_pct(sum(r.is_fraud for r in flagged), len(flagged)):>20}  {_pct(caught, len(own)):>20}  "
            f"{_value_rate(own, lambda r: r.risk_score >= threshold):>8}")


def figures(rows: list[Scored], triage: dict) -> list[str]:
    """The figures of scored transactions ``rows`` under the policy's ``triage`` section: overall
    (alert and block thresholds), per fraud pattern, per legitimate behaviour (see the module docstring).

    Raises:
        ZeroDivisionError: ``rows`` has no fraud or no legitimate transaction.
    """
    alert, block = triage["step_up_min_score"], triage["block_min_score"]
    fraud = [r for r in rows if r.is_fraud]
    legit = [r for r in rows if not r.is_fraud]
    alerted_legit = sum(r.risk_score >= alert for r in legit)
    recall = sum(r.risk_score >= alert for r in fraud) / len(fraud)
    false_alert_rate = alerted_legit / len(legit)
    # Precision at another prevalence p: recall * p / (recall * p + false-alert rate * (1 - p)).
    real_precision = recall * REAL_FRAUD_SHARE / (recall * REAL_FRAUD_SHARE + false_alert_rate * (1 - REAL_FRAUD_SHARE))
    lines = [
        "Overall:",
        _overall(rows, alert, "alert"),
        _overall(rows, block, "block"),
        f"  ROC AUC of the risk score {roc_auc_score([r.is_fraud for r in rows], [r.risk_score for r in rows]):.3f}; "
        f"false-alert rate on legitimate transactions {_pct(alerted_legit, len(legit))}",
        f"  at a fraud share of {100 * REAL_FRAUD_SHARE:.3f} % (ECB 2021: fraud share of card value, 2019; used as a "
        f"share of count for illustration) the same recall and false-alert rate would give precision "
        f"{100 * real_precision:.2f} %",
        "Per fraud pattern (alert rate and precision: alerts carrying the pattern's own rule, over all scored "
        "transactions, and the share of them that are fraud; recall and value detection: the pattern's "
        "transactions and value alerted by any evidence):",
        f"  {'pattern':<17} {'count':>5}  {'own rule':<19} {'alert rate':>20}  {'precision':>20}  {'recall':>20}  "
        f"{'value':>8}",
    ]
    lines += [_pattern_line(rows, p, alert) for p in PATTERNS]
    lines.append("Legitimate behaviour (false alerts):")
    for behaviour in BEHAVIOURS:
        own = [r for r in legit if r.behaviour == behaviour]
        lines.append(f"  {behaviour:<17} {len(own):5d}  alert rate {_pct(sum(r.risk_score >= alert for r in own), len(own))}")
    return lines


def review() -> list[str]:
    """The lines of the fraud section of the model review (see the module docstring)."""
    triage = load_policy()["triage"]
    rows = score_set()
    fraud = sum(r.is_fraud for r in rows)
    return [
        "SYNTHETIC data (reference_agents/fraud_detection/generator.py): every distribution is a stated assumption.",
        f"Set: generate_transactions(n_customers={N_CUSTOMERS}, days={DAYS}, seed={SEED}); scored: the {len(rows)} "
        f"transactions from day {FRAUD_START_DAY} on with >= 20 prior ones, {fraud} of them fraud "
        f"({100 * fraud / len(rows):.1f} %, far above real portfolios).",
        f"Alert = risk score >= {triage['step_up_min_score']:g} (step_up or block). Value in USD at the "
        f"{RATE_SOURCE} of {RATE_DATE}. Brackets: 95 % Wilson intervals.",
        *figures(rows, triage),
        CAVEAT,
    ]


if __name__ == "__main__":
    print("\n".join(review()))
