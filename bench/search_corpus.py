"""Generated agent catalogs for the search benchmark: varied, realistic descriptions of financial
services agents, and held-out queries worded differently from any description.

Descriptions combine a task, a line of business, a data source, a regulation, an output channel and
sometimes a region through several sentence shapes; queries paraphrase a task and a line of business
with vocabulary the descriptions never use, as a user who does not know an agent's wording would.
Everything is a function of the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# (key for names, third person, infinitive, a paraphrase no description uses)
TASKS = [
    ("credit-scoring", "scores credit applications", "score credit applications", "decide whether to lend money to an applicant"),
    ("fraud-flags", "flags suspicious transactions", "flag suspicious transactions", "catch payments made by criminals"),
    ("sanctions", "screens customers against sanctions lists", "screen customers against sanctions lists",
     "check people against government blacklists"),
    ("ledger-recon", "reconciles ledger entries", "reconcile ledger entries", "make the books balance at month end"),
    ("sar-drafting", "drafts suspicious activity reports", "draft suspicious activity reports",
     "write up money laundering cases for the authorities"),
    ("claims-triage", "triages insurance claims", "triage insurance claims", "sort incoming accident reports by urgency"),
    ("dup-invoices", "detects duplicate invoices", "detect duplicate invoices", "stop paying the same bill twice"),
    ("cash-forecast", "forecasts cash positions", "forecast cash positions", "predict how much money we will hold next week"),
    ("id-verify", "verifies customer identity documents", "verify customer identity documents",
     "confirm a passport or driving licence is genuine"),
    ("drift-monitor", "monitors model drift", "monitor model drift", "notice when a machine learning model degrades"),
    ("reg-change", "summarises regulatory change", "summarise regulatory change", "keep up with new rules from supervisors"),
    ("pricing", "prices insurance policies", "price insurance policies", "work out what premium to charge"),
    ("reserving", "estimates loss reserves", "estimate loss reserves", "set aside enough money for future payouts"),
    ("rebalancing", "rebalances investment portfolios", "rebalance investment portfolios",
     "shift holdings back to their target weights"),
    ("adverse-action", "explains adverse action reasons", "explain adverse action reasons",
     "tell declined borrowers why they were turned down"),
    ("complaints", "classifies customer complaints", "classify customer complaints", "sort unhappy customer letters by topic"),
    ("contracts", "extracts clauses from contracts", "extract clauses from contracts", "pull key terms out of legal agreements"),
    ("surveillance", "reviews trade surveillance alerts", "review trade surveillance alerts",
     "spot traders manipulating the market"),
    ("counterparty", "assesses counterparty risk", "assess counterparty risk", "judge whether a trading partner might default"),
    ("capital", "calculates capital requirements", "calculate capital requirements",
     "work out how much equity buffer the bank must hold"),
    ("service-routing", "routes customer service requests", "route customer service requests",
     "send each help desk question to the right team"),
    ("collateral", "validates collateral valuations", "validate collateral valuations", "double-check what pledged assets are worth"),
    ("policy-qa", "answers staff questions about internal policy", "answer staff questions about internal policy",
     "help employees look up the rulebook"),
    ("ato", "detects account takeover", "detect account takeover", "notice hackers logging into customer accounts"),
    ("board-reports", "prepares board risk reports", "prepare board risk reports", "brief directors on the top risks"),
    ("expenses", "reviews employee expense claims", "review employee expense claims", "audit staff travel and meal receipts"),
    ("cash-apply", "matches incoming payments to open invoices", "match incoming payments to open invoices",
     "figure out which bill a customer just paid"),
    ("stress-test", "stress tests loan books", "stress test loan books", "see how the lending portfolio fares in a recession"),
    ("vendor-risk", "tracks third-party vendor risk", "track third-party vendor risk", "keep an eye on suppliers that could fail us"),
    ("entitlements", "audits system access entitlements", "audit system access entitlements",
     "find employees with permissions they should not have"),
]
# (key for names, as descriptions name it, a paraphrase no description uses)
DOMAINS = [
    ("retail", "retail banking", "everyday bank accounts"), ("sme", "small-business lending", "loans to shops and startups"),
    ("mortgage", "mortgage origination", "home loans"), ("cards", "credit cards", "plastic and contactless spending"),
    ("wealth", "wealth management", "rich clients' investments"), ("commercial", "commercial insurance", "cover for companies"),
    ("life", "life insurance", "cover paid out on death"), ("motor", "motor claims", "car crash payouts"),
    ("health", "health claims", "medical bills"), ("trade", "trade finance", "letters of credit for importers"),
    ("treasury", "corporate treasury", "a company's own cash"), ("payments", "payment processing", "money transfers"),
    ("markets", "capital markets", "stock and bond trading desks"), ("am", "asset management", "mutual funds"),
    ("pensions", "pension administration", "retirement savings"), ("consumer", "consumer lending", "personal loans"),
    ("auto", "auto finance", "car loans"), ("corresp", "correspondent banking", "bank-to-bank accounts abroad"),
    ("private", "private banking", "high net worth families"), ("reins", "reinsurance", "insurers' own insurance"),
    ("crypto", "digital asset custody", "bitcoin wallets"), ("student", "student loans", "university tuition debt"),
    ("leasing", "equipment leasing", "renting out machinery"), ("factoring", "invoice factoring", "selling receivables"),
    ("remit", "cross-border remittances", "migrants sending money home"),
]
SOURCES = [
    "credit bureau files", "core banking ledgers", "card authorisation streams", "open banking transaction feeds",
    "KYC document scans", "claims adjuster notes", "market data terminals", "SWIFT payment messages", "CRM case histories",
    "call centre transcripts", "policy administration systems", "vehicle telematics", "property valuation reports",
    "ERP invoice records", "email archives", "watchlist databases", "general ledger exports", "device fingerprints",
    "loan servicing records", "broker submissions",
]
REGULATIONS = [
    "ECOA and Regulation B", "FCRA", "the EU AI Act", "GDPR", "Basel III", "Solvency II", "IFRS 17", "the Bank Secrecy Act",
    "AMLD6", "SR 11-7 model risk guidance", "PSD2", "MiFID II", "Dodd-Frank", "DORA", "SOX", "the FCA Consumer Duty", "CCAR",
    "OFAC rules", "NAIC model laws", "HIPAA",
]
CHANNELS = [
    "a Slack channel", "Jira tickets", "a daily email digest", "the case management system", "a Power BI dashboard",
    "the core banking work queue", "ServiceNow incidents", "a PDF memo for the credit committee", "the underwriter's workbench",
    "a REST API for downstream systems", "Microsoft Teams alerts", "the compliance officer's inbox", "a Tableau report",
    "SMS notifications", "the fraud analyst console",
]
REGIONS = ["", "", "", " for customers in Germany", " across North America", " for the UK branch network", " in Singapore",
           " for Latin American subsidiaries", " across the Nordics", " in Australia and New Zealand", " for the Gulf region"]
SHAPES = [
    "{Task} for {domain} using {source}{region}, in line with {reg}, and posts results to {channel}.",
    "Uses {source} to {task_inf} in {domain}{region}; findings go to {channel}. Controls mapped to {reg}.",
    "An agent for the {domain} team that {task} from {source} and reports to {channel} under {reg}.",
    "{domain_cap}{region}: {task} with {source}. Output lands in {channel}; evidence kept for {reg} reviews.",
    "Built to {task_inf} for {domain}. Reads {source}, writes to {channel}, and documents each decision for {reg}.",
    "Assistant that {task} across {domain}{region}, drawing on {source}, with {reg} checks before anything reaches {channel}.",
]
QUERY_SHAPES = [
    "something that can {para_task} for {para_domain}",
    "I need help to {para_task} in {para_domain}",
    "tool to {para_task}",
    "{para_task} - {para_domain}",
    "who can {para_task} when it comes to {para_domain}?",
]
# keyword searches as operators type them: a few words of an agent's own vocabulary
KEYWORD_SHAPES = ["{task_inf}", "{task_inf} {domain}", "{domain} {source}"]
TEMPLATES = ["credit_underwriting", "fraud_detection", "compliance_monitoring", "financial_analysis", "portfolio_management",
             "project:agent"]
STATUSES = [("live", 60), ("awaiting_approval", 12), ("deploying", 3), ("failed", 10), ("rejected", 5), ("rolled_back", 10)]


@dataclass(frozen=True)
class CatalogAgent:
    """One generated agent row: ``tenant`` None = shared; ``status`` a version status."""

    name: str
    description: str
    owner: str
    template: str
    tenant: str | None
    status: str


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def catalog(n: int, seed: int = 13) -> list[CatalogAgent]:
    """``n`` agents with distinct descriptions (up to ~10^8 combinations), deterministic in ``seed``."""
    rng = random.Random(seed)
    statuses, weights = zip(*STATUSES)
    seen: set[str] = set()
    out: list[CatalogAgent] = []
    while len(out) < n:
        tkey, task, task_inf, _ = rng.choice(TASKS)
        dkey, domain, _ = rng.choice(DOMAINS)
        text = rng.choice(SHAPES).format(
            Task=_cap(task), task=task, task_inf=task_inf, domain=domain, domain_cap=_cap(domain), source=rng.choice(SOURCES),
            reg=rng.choice(REGULATIONS), channel=rng.choice(CHANNELS), region=rng.choice(REGIONS))
        if text in seen:
            continue
        seen.add(text)
        i = len(out)
        tenant = None if rng.random() < 0.3 else f"tenant-{rng.randrange(20):02d}"
        out.append(CatalogAgent(name=f"{tkey}-{dkey}-{i:06d}", description=text, owner=f"owner{rng.randrange(300):03d}@bank.example",
                                template=rng.choice(TEMPLATES), tenant=tenant, status=rng.choices(statuses, weights)[0]))
    return out


def queries(n: int, seed: int = 2009) -> list[tuple[str, str]]:
    """``n`` held-out queries as ``(kind, text)``: about two thirds ``paraphrase`` (no description's
    wording), a third ``keyword`` (a few of the descriptions' own words)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        _, _, task_inf, para_task = rng.choice(TASKS)
        _, domain, para_domain = rng.choice(DOMAINS)
        if i % 3 == 2:
            out.append(("keyword", rng.choice(KEYWORD_SHAPES).format(task_inf=task_inf, domain=domain, source=rng.choice(SOURCES))))
        else:
            out.append(("paraphrase", rng.choice(QUERY_SHAPES).format(para_task=para_task, para_domain=para_domain)))
    return out
