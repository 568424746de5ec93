"""Credit underwriting: the figures a model validator asks for, on the 1,000 German Credit applications.

- the data's coding (Grömping 2019 corrections) and the defect of the CSV's sex column;
- discrimination: ROC AUC over repeated stratified 5-fold cross-validation (10 repeats, seed 0), the
  coarse classes (bins) chosen inside each training fold;
- calibration: a reliability table by PD decile (out-of-fold PDs, population prior);
- fair lending: approval rates and adverse impact ratios per age band, sex and foreign-worker
  status for the adopted policy (the agent's own decisions), and every alternative the
  less-discriminatory-alternative search measured (out-of-fold);
- adverse action: how many declines carry 1-4 principal reasons, and which.

Deterministic (fixed seeds; the agent's graph with the demo underwriter). About 1-2 minutes on a
2-core machine, most of it the search. Run alone: ``python -m bench.model_review_credit``.
"""

from __future__ import annotations

from collections import Counter

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from reference_agents.credit_underwriting import AGENT, fair_lending
from reference_agents.credit_underwriting.policy import load_policy
from reference_agents.credit_underwriting.tools import scorecard
from reference_agents.credit_underwriting.tools.calibration import overall, reliability_table
from reference_agents.credit_underwriting.tools.coding import RELABELLED, STATLOG_CODE
from reference_agents.credit_underwriting.tools.data import load_rows, load_statlog_codes


def _agent_outputs() -> tuple[list[dict], list[str]]:
    """Every application through the agent's graph (referrals answered by the demo underwriter):
    the outputs and the policy's first decision, in row order."""
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    outputs, first = [], []
    for run_input in AGENT.sample_inputs(len(load_rows())):
        config = {"configurable": {"thread_id": f"review-{run_input['application_id']}"}}
        state = graph.invoke(AGENT.input_model.model_validate(run_input).model_dump(mode="json"), config)
        first.append("refer" if "__interrupt__" in state else state["decision"])
        if "__interrupt__" in state:
            state = graph.invoke(Command(resume=AGENT.resume_value(state["__interrupt__"][0].value, run_input)), config)
        outputs.append(AGENT.output(state))
    return outputs, first


def _data_lines() -> list[str]:
    rows, codes = load_rows(), load_statlog_codes()
    sex_agree = sum(STATLOG_CODE["personal_status_and_sex"][r["personal_status_and_sex"]] == c["personal_status_and_sex"]
                    for r, c in zip(rows, codes))
    shares = Counter(c["personal_status_and_sex"] for c in codes)
    chance = sum((n / len(rows)) ** 2 for n in shares.values()) * len(rows)
    return [
        f"Data: {len(rows)} applications, {sum(r['creditability'] == 'bad' for r in rows)} bad (oversampled); "
        f"{len(RELABELLED)} attributes read with Grömping's (2019) corrected meanings "
        "(tools/coding.py, evidence in data/PROVENANCE.md)",
        f"  CSV personal_status_and_sex agrees with the Statlog original on {sex_agree}/{len(rows)} rows "
        f"(chance: {chance:.0f}); sex is taken from the original",
    ]


def _auc_lines() -> list[str]:
    lines = ["AUC, repeated stratified 5-fold CV (10 repeats, seed 0), bins chosen inside each fold:"]
    adopted = scorecard.cross_validated_auc()
    lines.append(f"  adopted scorecard ({len(scorecard.CHARACTERISTICS)} characteristics): {adopted[0]:.3f} ± {adopted[1]:.3f}")
    for name, chars in (("all 17 candidate characteristics", scorecard.CANDIDATE_CHARACTERISTICS),
                        ("validated (adopted + housing, job)", fair_lending.VALIDATED_CHARACTERISTICS)):
        mean, sd = scorecard.cross_validated_auc(tuple(chars))
        lines.append(f"  {name} ({len(chars)}): {mean:.3f} ± {sd:.3f}")
    edges = scorecard.fitted_scorecard().edges
    lines.append("  bins of the production fit (all 1,000): " + "; ".join(f"{c} <= {e}" for c, e in edges.items()))
    return lines


def _calibration_lines() -> list[str]:
    prior = load_policy().population_bad_rate_pct / 100
    _, y = scorecard.training_data()
    table = reliability_table(scorecard.out_of_fold_sample_pd(), y, prior)
    lines = [f"Calibration by PD decile (out-of-fold, 5-fold seed 0; PD at the {100 * prior:g} % population prior, "
             "observed bad rate reweighted to it; sample scale in brackets):",
             f"  {'decile':>6} {'n':>4} {'PD range %':>12} {'predicted %':>12} {'observed %':>11} {'[pred %':>8} {'obs %]':>7}"]
    for i, g in enumerate(table, 1):
        lines.append(f"  {i:>6} {g['n']:>4} {100 * g['pd_min']:>5.1f}-{100 * g['pd_max']:<6.1f} {100 * g['predicted']:>12.2f} "
                     f"{100 * g['observed']:>11.2f} {100 * g['predicted_sample']:>8.1f} {100 * g['observed_sample']:>7.1f}")
    predicted, observed = overall(table)
    lines.append(f"  overall (reweighted): predicted {100 * predicted:.2f} %, observed {100 * observed:.2f} % (the prior)")
    return lines


def _group_lines(title: str, approved: list[bool]) -> list[str]:
    lines = [title]
    groups = fair_lending.groups()
    for dim in ("age band", "age", "sex", "foreign worker"):
        rates = fair_lending.approval_rates(approved, groups[dim])
        best = max(rates, key=lambda g: rates[g][1])
        cells = [f"{g} {100 * r:.1f}% (n={n}, AIR {fair_lending.adverse_impact_ratio(rates, g, best):.2f})"
                 for g, (n, r) in rates.items()]
        lines.append(f"  {dim}: " + "; ".join(cells))
    ratios = fair_lending.headline_ratios(approved)
    lines.append("  headline AIR: " + ", ".join(
        f"{dim} {fair_lending.HEADLINE[dim][0]} vs {fair_lending.HEADLINE[dim][1]} {r:.2f}" for dim, r in ratios.items()))
    return lines


def _search_lines() -> list[str]:
    baseline, candidates, chosen = fair_lending.search()
    lines = [f"Less-discriminatory-alternative search (out-of-fold PDs, 3 x 5-fold): drop up to {fair_lending.MAX_DROPPED} of "
             f"{', '.join(fair_lending.AGE_CORRELATED)} from the validated scorecard, referral cutoff "
             f"{'/'.join(f'{c:g}' for c in fair_lending.REFERRAL_CUTOFFS_PCT)} %; similar accuracy = AUC within "
             f"{fair_lending.MAX_AUC_LOSS}, bad rate among approved within +{100 * fair_lending.MAX_BAD_RATE_RISE:g} % "
             f"(relative), approval within -{100 * fair_lending.MAX_APPROVAL_DROP:g} pp of the baseline",
             f"  {'dropped':<52} {'ref%':>4} {'AUC':>6} {'appr%':>6} {'bad%':>5} {'AIR<25':>7} {'AIR F/M':>7} {'AIR FW':>7}  similar"]
    for c in sorted(candidates, key=lambda c: (-c.ratios["age"], -c.auc)):
        mark = " <- baseline" if c is baseline else " <- ADOPTED" if c is chosen else ""
        lines.append(f"  {', '.join(c.dropped) or '(none)':<52} {c.referral_cutoff_pct:>4g} {c.auc:>6.3f} "
                     f"{100 * c.approval_rate:>6.1f} {100 * c.bad_rate_approved:>5.2f} {c.ratios['age']:>7.3f} "
                     f"{c.ratios['sex']:>7.3f} {c.ratios['foreign worker']:>7.3f}  "
                     f"{'yes' if fair_lending.similar_accuracy(baseline, c) else 'no'}{mark}")
    adopted = set(scorecard.EXCLUDED_BY_FAIR_LENDING)
    lines.append(f"  chosen: drop {', '.join(chosen.dropped) or 'nothing'} at {chosen.referral_cutoff_pct:g} %; "
                 f"the agent drops {', '.join(sorted(adopted))} at {load_policy().thresholds['pd_referral_cutoff_pct']:g} % "
                 f"({'same' if set(chosen.dropped) == adopted else 'DIFFERENT'})")
    return lines


def _reason_lines(outputs: list[dict]) -> list[str]:
    declines = [o for o in outputs if o["decision"] == "decline"]
    counts = Counter(len(o["adverse_action_reasons"]) for o in declines)
    ok = sum(1 <= len(o["adverse_action_reasons"]) <= 4 for o in declines)
    first = Counter(o["adverse_action_reasons"][0]["code"] for o in declines if o["adverse_action_reasons"])
    by = Counter(o["decided_by"] for o in declines)
    score_only = sum(o["reasons"] == ["PD_ABOVE_DECLINE_CUTOFF"] for o in declines)
    return [
        f"Decline reasons: {len(declines)} declines (policy {by['policy']}, underwriter {by['underwriter']}); "
        f"{ok} carry 1-4 principal reasons ({100 * ok / max(len(declines), 1):.0f} %); reasons per decline "
        + ", ".join(f"{k}: {counts[k]}" for k in sorted(counts)),
        f"  {score_only} declines were decided by the PD cutoff alone; each now names its scorecard factors",
        "  first reason: " + ", ".join(f"{code} {n}" for code, n in first.most_common()),
    ]


def review() -> list[str]:
    """The credit section's lines (see the module docstring)."""
    outputs, first = _agent_outputs()
    mix = Counter(first)
    lines = _data_lines() + _auc_lines() + _calibration_lines()
    lines.append(f"Adopted policy on the 1,000 applications (in sample): first decision approve {mix['approve']}, "
                 f"decline {mix['decline']}, refer {mix['refer']}; final (demo underwriter) approve "
                 f"{sum(o['decision'] == 'approve' for o in outputs)}")
    lines += _group_lines("Fair lending, adopted policy, first decision (approval rate, AIR vs the best group):",
                          [d == "approve" for d in first])
    lines += _group_lines("Fair lending, adopted policy, final decision with the demo underwriter:",
                          [o["decision"] == "approve" for o in outputs])
    return lines + _search_lines() + _reason_lines(outputs)


if __name__ == "__main__":
    print("\n".join(review()))
