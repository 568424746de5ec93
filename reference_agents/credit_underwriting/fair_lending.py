"""Fair-lending review: approval rates and adverse impact ratios per group, and the search for a
less discriminatory alternative (LDA) policy at similar accuracy.

Groups (never inputs of the scorecard or the policy):

- **age band** from ``age_in_years``; the headline ratio compares applicants under 25 with the others;
- **sex** from the Statlog code of ``personal_status_and_sex`` in its corrected meaning (Grömping
  2019): A91 male divorced/separated and A93 male married/widowed are male, A94 is a single female,
  A92 ("female non-single or male single") cannot be split and is reported as its own group. The code
  is read from the Statlog original (``data/german.data``): the CSV's column is not the applicants'
  own (it agrees with the original on 401 of 1,000 rows, what chance gives; see ``PROVENANCE.md``);
- **foreign worker** in its corrected meaning (the Statlog codes are reversed: 37 foreign workers).

The adverse impact ratio (AIR) of a group is its approval rate over the reference group's (the
"four-fifths rule": a ratio below 0.8 is the conventional sign of adverse impact, 29 CFR 1607.4(D)).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

from reference_agents.credit_underwriting.policy import Policy, load_policy, policy_facts
from reference_agents.credit_underwriting.tools import scorecard
from reference_agents.credit_underwriting.tools.coding import meaning
from reference_agents.credit_underwriting.tools.data import LABEL, load_rows, load_statlog_codes

FOUR_FIFTHS = 0.8
AGE_BANDS = ((18, 24), (25, 34), (35, 49), (50, 200))
SEX_OF_STATLOG_CODE = {"A91": "male", "A93": "male", "A94": "female", "A92": "female non-single or male single"}
# dimension -> (protected group, reference group) of the headline ratio
HEADLINE = {"age": ("under 25", "25 and over"), "sex": ("female", "male"), "foreign worker": ("yes", "no")}

# The search: from the validated scorecard (all characteristics but the ones excluded by validation),
# drop up to two of the age-correlated characteristics, at three referral cutoffs.
VALIDATED_CHARACTERISTICS = tuple(
    c for c in scorecard.CANDIDATE_CHARACTERISTICS if c not in scorecard.EXCLUDED_BY_VALIDATION)
AGE_CORRELATED = ("housing", "job", "telephone", "present_employment_since", "number_of_existing_credits_at_this_bank",
                  "credit_history")
MAX_DROPPED = 2
REFERRAL_CUTOFFS_PCT = (7.0, 7.5, 8.0)
# A candidate is "similar accuracy" when, against the validated scorecard at the default policy:
MAX_AUC_LOSS = 0.005
MAX_BAD_RATE_RISE = 0.05  # relative rise of the bad rate among approved (at the population prior)
MAX_APPROVAL_DROP = 0.01


def age_band(age: int) -> str:
    """``"18-24"``, ``"25-34"``, ``"35-49"`` or ``"50+"``."""
    for lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return f"{lo}+" if hi >= 200 else f"{lo}-{hi}"
    raise ValueError(f"age {age} outside {AGE_BANDS[0][0]}-{AGE_BANDS[-1][1]}")


@lru_cache(maxsize=1)
def groups() -> dict[str, tuple[str, ...]]:
    """Each application's group per dimension (row order): ``age band``, ``age`` (headline), ``sex``,
    ``foreign worker``."""
    rows, codes = load_rows(), load_statlog_codes()
    return {
        "age band": tuple(age_band(r["age_in_years"]) for r in rows),
        "age": tuple("under 25" if r["age_in_years"] < 25 else "25 and over" for r in rows),
        "sex": tuple(SEX_OF_STATLOG_CODE[c["personal_status_and_sex"]] for c in codes),
        "foreign worker": tuple(meaning("foreign_worker", r["foreign_worker"]) for r in rows),
    }


def approval_rates(approved: Sequence[bool], group_of: Sequence[str]) -> dict[str, tuple[int, float]]:
    """``{group: (applications, approval rate 0-1)}``, groups sorted."""
    out = {}
    for g in sorted(set(group_of)):
        members = [a for a, h in zip(approved, group_of) if h == g]
        out[g] = (len(members), sum(members) / len(members))
    return out


def adverse_impact_ratio(rates: Mapping[str, tuple[int, float]], group: str, reference: str) -> float:
    """Approval rate of ``group`` over that of ``reference`` (``nan`` when the reference approves nobody)."""
    ref = rates[reference][1]
    return rates[group][1] / ref if ref else math.nan


def headline_ratios(approved: Sequence[bool]) -> dict[str, float]:
    """The :data:`HEADLINE` adverse impact ratio per dimension for one set of approvals (row order)."""
    g = groups()
    return {dim: adverse_impact_ratio(approval_rates(approved, g[dim]), *pair) for dim, pair in HEADLINE.items()}


def population_bad_rate_among(approved: Sequence[bool], population_bad_rate: float) -> float:
    """Bad rate among the approved applications, reweighted from the sample (30 % bad) to the population prior."""
    rho = scorecard.sample_bad_rate()
    w_bad, w_good = population_bad_rate / rho, (1 - population_bad_rate) / (1 - rho)
    bad = good = 0.0
    for a, r in zip(approved, load_rows()):
        if a:
            if r[LABEL] == "bad":
                bad += w_bad
            else:
                good += w_good
    return bad / (bad + good) if bad + good else math.nan


def first_decisions(policy: Policy, sample_pds: Sequence[float]) -> list[str]:
    """The policy's first decision (approve/decline/refer) per application, from sample-scale PDs."""
    rate = policy.population_bad_rate_pct / 100
    out = []
    for r, p in zip(load_rows(), sample_pds):
        pd_pop = scorecard.population_pd(p, rate)
        assessment = {"pd_pct": 100 * pd_pop, "score_points": scorecard.score_points(math.log(pd_pop / (1 - pd_pop)))}
        out.append(policy.decide(policy_facts(r, assessment))["decision"])
    return out


@dataclass(frozen=True)
class Candidate:
    """One policy of the search, measured on out-of-fold PDs (mean over the repeats).

    Attributes:
        dropped: characteristics dropped from :data:`VALIDATED_CHARACTERISTICS`.
        referral_cutoff_pct: the policy's ``pd_referral_cutoff_pct``.
        auc: ROC AUC of the out-of-fold PDs.
        approval_rate: share approved by the policy's first decision (0-1).
        bad_rate_approved: bad rate among them at the population prior (0-1).
        ratios: the headline adverse impact ratio per dimension.
    """

    dropped: tuple[str, ...]
    referral_cutoff_pct: float
    auc: float
    approval_rate: float
    bad_rate_approved: float
    ratios: dict[str, float]

    @property
    def characteristics(self) -> tuple[str, ...]:
        return tuple(c for c in VALIDATED_CHARACTERISTICS if c not in self.dropped)


def evaluate(dropped: tuple[str, ...], referral_cutoffs: Sequence[float] = REFERRAL_CUTOFFS_PCT,
             repeats: int = 3) -> list[Candidate]:
    """Measure one characteristic set at each referral cutoff (out-of-fold PDs, ``repeats`` 5-fold splits)."""
    from sklearn.metrics import roc_auc_score

    characteristics = tuple(c for c in VALIDATED_CHARACTERISTICS if c not in dropped)
    _, y = scorecard.training_data()
    pds = [scorecard.out_of_fold_sample_pd(characteristics, seed=s) for s in range(repeats)]
    auc = sum(roc_auc_score(y, p) for p in pds) / repeats
    out = []
    for cutoff in referral_cutoffs:
        policy = load_policy({"thresholds": {"pd_referral_cutoff_pct": cutoff}})
        runs = [[d == "approve" for d in first_decisions(policy, p)] for p in pds]
        ratios = [headline_ratios(a) for a in runs]
        out.append(Candidate(
            dropped=dropped, referral_cutoff_pct=cutoff, auc=auc,
            approval_rate=sum(sum(a) / len(a) for a in runs) / repeats,
            bad_rate_approved=sum(population_bad_rate_among(a, policy.population_bad_rate_pct / 100) for a in runs) / repeats,
            ratios={dim: sum(r[dim] for r in ratios) / repeats for dim in HEADLINE},
        ))
    return out


def similar_accuracy(baseline: Candidate, candidate: Candidate) -> bool:
    """Whether ``candidate`` is within the accuracy tolerances of ``baseline`` (see :func:`choose`)."""
    return (candidate.auc >= baseline.auc - MAX_AUC_LOSS
            and candidate.bad_rate_approved <= baseline.bad_rate_approved * (1 + MAX_BAD_RATE_RISE)
            and candidate.approval_rate >= baseline.approval_rate - MAX_APPROVAL_DROP)


def choose(baseline: Candidate, candidates: Sequence[Candidate]) -> Candidate:
    """The least discriminatory candidate at similar accuracy: the highest under-25 ratio among those
    whose AUC is at most :data:`MAX_AUC_LOSS` below ``baseline``'s, whose bad rate among approved is at
    most :data:`MAX_BAD_RATE_RISE` (relative) above it and whose approval rate is at most
    :data:`MAX_APPROVAL_DROP` below it (ties: higher AUC, then fewer characteristics dropped);
    ``baseline`` itself if none is better."""
    similar = [c for c in candidates if similar_accuracy(baseline, c)]
    return max([baseline, *similar], key=lambda c: (round(c.ratios["age"], 3), round(c.auc, 3), -len(c.dropped)))


def search(repeats: int = 3) -> tuple[Candidate, list[Candidate], Candidate]:
    """Run the LDA search.

    Returns:
        ``(baseline, candidates, chosen)``: the validated scorecard at the default referral cutoff,
        every candidate (each subset of up to :data:`MAX_DROPPED` of :data:`AGE_CORRELATED` at each
        of :data:`REFERRAL_CUTOFFS_PCT`), and :func:`choose`'s pick.
    """
    default_cutoff = load_policy().thresholds["pd_referral_cutoff_pct"]
    candidates = []
    for k in range(MAX_DROPPED + 1):
        for dropped in itertools.combinations(AGE_CORRELATED, k):
            candidates.extend(evaluate(dropped, repeats=repeats))
    baseline = next(c for c in candidates if not c.dropped and c.referral_cutoff_pct == default_cutoff)
    return baseline, candidates, choose(baseline, candidates)
