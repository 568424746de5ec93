"""Principal reasons for a decline: what an adverse-action notice tells the applicant.

ECOA / Regulation B (12 CFR 1002.9(b)(2)) requires the specific principal reasons for an adverse
action; a statement that the applicant failed to achieve the qualifying score is insufficient (the
rule's own text); more than four reasons are not likely to help the applicant (Official Staff
Commentary, comment 9(b)(2)-1); a score-based decline's reasons are factors actually scored
(comment 9(b)(2)-4), which need not say how they counted (comment 9(b)(2)-3: "length of
residence", not "too short a period of residence"). A decline carries up to four reasons, in order:

1. the applicant-facing reason (``applicant_reason``) of each policy rule that decided it, other
   than score cutoffs (a product limit, a knock-out rule), or that referred it when an underwriter
   then declined (e.g. unemployment);
2. then the scorecard's principal factors, ranked by points below the best attribute of each
   characteristic (the "points below maximum" method: Siddiqi, *Credit Risk Scorecards*, 2006,
   ch. 8; comment 9(b)(2)-5 accepts any method producing results substantially similar to its
   averages-based examples), each worded with the applicant's own value in its corrected meaning.
"""

from __future__ import annotations

from typing import Callable, Mapping

from reference_agents.credit_underwriting.policy import Policy
from reference_agents.credit_underwriting.tools.coding import meaning

MAX_REASONS = 4
# characteristic -> (reason code, statement from the application); every scorecard characteristic has one.
_M = meaning
STATEMENTS: dict[str, tuple[str, Callable[[Mapping], str]]] = {
    "status_of_existing_checking_account": (
        "CHECKING_ACCOUNT_STATUS",
        lambda a: f"Status of checking account with us: {_M('status_of_existing_checking_account', a['status_of_existing_checking_account'])}."),
    "duration_in_month": ("CREDIT_TERM", lambda a: f"Term of the credit requested: {a['duration_in_month']} months."),
    "credit_history": ("CREDIT_HISTORY", lambda a: f"Credit history: {_M('credit_history', a['credit_history'])}."),
    "purpose": ("CREDIT_PURPOSE", lambda a: f"Purpose of the credit: {_M('purpose', a['purpose'])}."),
    "credit_amount": ("CREDIT_AMOUNT", lambda a: f"Amount of credit requested: {a['credit_amount']:,} DM."),
    "savings_account_and_bonds": (
        "INSUFFICIENT_SAVINGS", lambda a: f"Savings: {_M('savings_account_and_bonds', a['savings_account_and_bonds'])}."),
    "present_employment_since": (
        "LENGTH_OF_EMPLOYMENT",
        lambda a: f"Length of employment with the current employer: {_M('present_employment_since', a['present_employment_since'])}."),
    "other_debtors_or_guarantors": (
        "NO_GUARANTOR",
        lambda a: f"Other debtors or guarantors for the credit: {_M('other_debtors_or_guarantors', a['other_debtors_or_guarantors'])}."),
    "other_installment_plans": (
        "OTHER_INSTALLMENT_PLANS",
        lambda a: f"Installment plans with other creditors: {_M('other_installment_plans', a['other_installment_plans'])}."),
    "number_of_existing_credits_at_this_bank": (
        "CREDITS_AT_THIS_BANK",
        lambda a: f"Number of credits at this bank: "
                  f"{_M('number_of_existing_credits_at_this_bank', a['number_of_existing_credits_at_this_bank'])}."),
    "telephone": ("NO_TELEPHONE", lambda a: "No telephone registered in the applicant's name."),
}


def score_reasons(assessment: Mapping, application: Mapping) -> list[dict]:
    """The scorecard's principal factors as reasons, most points below best first.

    Returns:
        ``[{"code", "text", "points_below_best"}]`` (up to 4).

    Raises:
        KeyError: a factor's characteristic has no statement in :data:`STATEMENTS`.
    """
    out = []
    for factor in assessment["principal_factors"]:
        code, statement = STATEMENTS[factor["characteristic"]]
        out.append({"code": code, "text": statement(application), "points_below_best": factor["points_below_best"]})
    return out


def principal_reasons(policy: Policy, rule_codes: list[str], assessment: Mapping, application: Mapping) -> list[dict]:
    """Up to four principal reasons for declining ``application``.

    Args:
        policy: the policy that decided or referred.
        rule_codes: the codes of the rules that declined it, or that referred it (underwriter decline).
        assessment: the scorecard's assessment (``principal_factors``).
        application: the application (Statlog labels, as input).

    Returns:
        ``[{"code", "text", "points_below_best"}]``, policy reasons first (``points_below_best``
        ``None``), then score factors; never empty for a declined application whose score is not the
        best attainable.
    """
    reasons = [{**r, "points_below_best": None} for r in policy.applicant_reasons(rule_codes)]
    return (reasons + score_reasons(assessment, application))[:MAX_REASONS]
