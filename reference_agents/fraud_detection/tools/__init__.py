"""The fraud agent's computations: enrichment features, rules, the anomaly model, scoring, triage."""

from reference_agents.fraud_detection.tools.anomaly import anomaly_score
from reference_agents.fraud_detection.tools.features import enrich
from reference_agents.fraud_detection.tools.rules import evaluate_rules
from reference_agents.fraud_detection.tools.scoring import combine_risk, score_case
from reference_agents.fraud_detection.tools.triage import triage

__all__ = ["anomaly_score", "combine_risk", "enrich", "evaluate_rules", "score_case", "triage"]
