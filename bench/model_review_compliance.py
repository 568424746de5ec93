"""Compliance monitoring: the figures a model validator asks for (``python -m bench.model_review_compliance``).

* Screening recall and false-alert rate on the labelled set
  ``reference_agents/compliance_monitoring/data/screening_eval.csv`` (built by :func:`build_eval_set`;
  construction in that folder's PROVENANCE.md): true matches are listed UN parties written the way
  customers' records write them (word order, a typo, an initial, parts joined or split, a Cyrillic
  spelling), non-matches are common names, names recombined from listed persons' own name words,
  and ordinary customer and company names. A row "alerts" when any candidate reaches the review
  threshold; a true match is "found" when its own listed party is among the candidates.
* What the demo analyst's rule (``demo.resume_value``) would then confirm: true blocks and false blocks.
* The structuring scenarios of ``data/structuring_scenarios.yaml``: each scenario, expected vs got.

Deterministic: fixed seeds, the shipped list. ``--write-eval-set`` rewrites the labelled set from
its generator (the review itself only reads it).
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from collections import Counter, defaultdict
from pathlib import Path

import yaml
from anyascii import anyascii

from reference_agents.compliance_monitoring.demo import COUNTERPARTIES, ORDINARY_NAMES, resume_value
from reference_agents.compliance_monitoring.policy import PACKAGE_DIR, load_policy, resolve_path
from reference_agents.compliance_monitoring.tools.countries import country_codes
from reference_agents.compliance_monitoring.tools.monitoring import run_monitoring
from reference_agents.compliance_monitoring.tools.un_list import parse_un_consolidated_xml
from reference_agents.compliance_monitoring.tools.watchlist import get_index, screen_name

EVAL_SET = PACKAGE_DIR / "data" / "screening_eval.csv"
SCENARIOS = PACKAGE_DIR / "data" / "structuring_scenarios.yaml"
COLUMNS = ("group", "variation", "name", "party_type", "date_of_birth", "nationality", "expected_reference")
SEED = 20240501
CASH_CODES = {"CTR_REQUIRED", "STRUCTURING_BELOW_CTR_THRESHOLD"}
# Latin -> Russian Cyrillic as a clerk would write a foreign name (longest spellings first)
CYRILLIC = [("shch", "щ"), ("sh", "ш"), ("ch", "ч"), ("kh", "х"), ("zh", "ж"), ("ts", "ц"), ("ya", "я"),
            ("yu", "ю"), ("ph", "ф"), ("th", "т"), ("ou", "у"), ("oo", "у"), ("ee", "и"), ("j", "дж"),
            ("x", "кс"), ("q", "к"), ("c", "к"), ("w", "в"), ("y", "и"), ("a", "а"), ("b", "б"), ("d", "д"),
            ("e", "е"), ("f", "ф"), ("g", "г"), ("h", "х"), ("i", "и"), ("k", "к"), ("l", "л"), ("m", "м"),
            ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("v", "в"),
            ("z", "з")]
COMPANY_WORDS = ("Holdings", "Trading", "Logistics", "Foods", "Textiles", "Consulting", "Engineering", "Partners")
COMPANY_FORMS = ("Ltd", "LLC", "GmbH", "S.A.", "Inc", "Co")


def _words(name: str) -> list[str]:
    return [w for w in anyascii(name).replace(",", " ").split() if any(ch.isalpha() for ch in w)]


def _cyrillic(name: str) -> str:
    out = []
    for word in _words(name):
        text, i = word.lower(), 0
        letters = []
        while i < len(text):
            for latin, cyr in CYRILLIC:
                if text.startswith(latin, i):
                    letters.append(cyr)
                    i += len(latin)
                    break
            else:
                i += 1  # apostrophes, hyphens: dropped
        out.append("".join(letters).capitalize())
    return " ".join(out)


def _typo(words: list[str], rng: random.Random) -> list[str]:
    long = [i for i, w in enumerate(words) if len(w) >= 4]
    i = rng.choice(long or range(len(words)))
    word = words[i]
    j = rng.randrange(1, len(word) - 1) if len(word) > 2 else 0
    letter = rng.choice([c for c in "aeiourntl" if c != word[j].lower()])
    return words[:i] + [word[:j] + letter + word[j + 1:]] + words[i + 1:]


def _variations(name: str, party_type: str, rng: random.Random) -> dict[str, str]:
    """The realistic spellings of one listed name (each variation that applies to it)."""
    words = [w.capitalize() for w in _words(name)]
    out = {"reordered": " ".join(reversed(words)), "typo": " ".join(_typo(words, rng))}
    if len(words) >= 3:
        i = rng.randrange(len(words) - 1)
        out["joined"] = " ".join(words[:i] + [words[i] + words[i + 1].lower()] + words[i + 2:])
    prefixes = ("Abdul", "Abdel", "Abdur", "Abu", "Abou")
    split = [p for w in words for p in prefixes if w.startswith(p) and len(w) - len(p) >= 4]
    if split:
        p = split[0]
        out["split"] = " ".join(f"{p} {w[len(p):].capitalize()}" if w.startswith(p) and len(w) - len(p) >= 4 else w
                                for w in words)
    if party_type == "individual":
        out["initials"] = " ".join([f"{words[0][0]}."] + words[1:])
        out["cyrillic"] = _cyrillic(name)
    return out


def _dob_text(entry) -> str:
    for d in entry.birth_dates:
        if d.date and len(d.date) == 10:
            return d.date
        if d.type == "EXACT" and d.year_from == d.year_to:
            return str(d.year_from)
    return ""


def _common_pairs(rng: random.Random, n: int) -> list[str]:
    """``n`` forename + surname pairs of one country from the common-name table."""
    forenames, surnames = defaultdict(set), defaultdict(set)
    for path, table, column in (("common_forenames_by_country.csv", forenames, "Romanized Name"),
                                ("common_surnames_by_country.csv", surnames, "Romanized Name")):
        with open(PACKAGE_DIR / "data" / path, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                name = anyascii(row[column] or "").strip()
                if name and name.replace("-", "").replace(" ", "").isalpha():
                    table[row["Country"]].add(name)
    countries = sorted(set(forenames) & set(surnames))
    pairs: set[str] = set()
    while len(pairs) < n:
        country = rng.choice(countries)
        pairs.add(f"{rng.choice(sorted(forenames[country]))} {rng.choice(sorted(surnames[country]))}")
    return sorted(pairs)


def build_eval_set() -> list[dict]:
    """The labelled screening set (rows with :data:`COLUMNS`), deterministic from the shipped data.

    True matches (``group`` ``true_match``, ``expected_reference`` the listed party): 120 listed
    individuals and 40 entities drawn with a fixed seed, each written in every variation that
    applies (``reordered``, ``typo``, ``joined``, ``split``, ``initials``, ``cyrillic``);
    individuals carry their listed date of birth on every other row, entities their listed
    country. Non-matches (``expected_reference`` empty): the four common names of the issue and
    their variants, 150 forename + surname pairs of one country from the common-name table, 150
    forename + surname pairs recombined from two different listed individuals (kept only when no
    listed name holds both words), and the demo's ordinary names plus invented company names;
    each person with a random date of birth on every other row.
    """
    rng = random.Random(SEED)
    entries = parse_un_consolidated_xml(resolve_path(load_policy()["screening"]["un_list_path"]))
    people = [e for e in entries if e.party_type == "individual" and 2 <= len(_words(e.primary_name)) <= 5]
    firms = [e for e in entries if e.party_type == "entity" and 2 <= len(_words(e.primary_name)) <= 6]
    rows: list[dict] = []

    def add(group, variation, name, party_type, dob="", nationality="", ref=""):
        rows.append(dict(zip(COLUMNS, (group, variation, name, party_type, dob, nationality, ref))))

    for k, entry in enumerate(rng.sample(people, 120) + rng.sample(firms, 40)):
        dob = _dob_text(entry)
        country = min(country_codes(entry.countries or entry.nationalities), default="")
        for j, (variation, name) in enumerate(sorted(_variations(entry.primary_name, entry.party_type, rng).items())):
            with_id = (k + j) % 2 == 0
            add("true_match", variation, name, entry.party_type, dob if with_id and entry.party_type == "individual" else "",
                country if with_id and entry.party_type == "entity" else "", entry.reference_number)

    def birth(i: int) -> str:
        return f"{rng.randint(1950, 2002)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if i % 2 == 0 else ""

    issue = ["Mohammed Ali", "Abdul Rahman", "Ali Hassan", "Muhammad Khan", "M. A. Khan", "Abdulrahman",
             "Mohamed Ali", "Muhammad Ali Khan", "Ali Mohammed", "Abdel Rahman"]
    for i, name in enumerate(issue + _common_pairs(rng, 150)):
        add("common_name", "issue" if name in issue else "table_pair", name, "individual", birth(i))
    listed_words = [set(w.lower() for w in _words(e.primary_name)) for e in people]
    recombined: set[str] = set()
    while len(recombined) < 150:
        a, b = rng.sample(people, 2)
        first, last = _words(a.primary_name)[0].capitalize(), _words(b.primary_name)[-1].capitalize()
        pair = {first.lower(), last.lower()}
        if len(pair) == 2 and not any(pair <= words for words in listed_words):
            recombined.add(f"{first} {last}")
    for i, name in enumerate(sorted(recombined)):
        add("recombined", "listed_words", name, "individual", birth(i))
    for i, name in enumerate(ORDINARY_NAMES):
        add("ordinary", "person", name, "individual", birth(i))
    companies = {f"{rng.choice(ORDINARY_NAMES).split()[-1]} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_FORMS)}"
                 for _ in range(40)}
    for name in sorted(companies) + list(COUNTERPARTIES):
        add("ordinary", "company", name, "entity")
    return rows


def _csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} = {hits / total:.1%}" if total else "0/0"


def screening_lines(rows: list[dict]) -> list[str]:
    """Recall, false-alert rate and demo-analyst outcomes on the labelled rows."""
    policy = load_policy()["screening"]
    index = get_index(policy)
    found, alerted, blocked = Counter(), Counter(), Counter()
    totals = Counter()
    for row in rows:
        candidates = screen_name(row["name"], index, policy, party_type=row["party_type"] or None,
                                 date_of_birth=row["date_of_birth"] or None, country=row["nationality"] or None)
        with_id = "with identifier" if row["date_of_birth"] or row["nationality"] else "name only"
        keys = [(row["group"], "all"), (row["group"], row["variation"]), (row["group"], with_id)]
        answer = None
        if candidates:
            request = {"context": {"candidates": candidates}}
            answer = resume_value(request, {"name": row["name"]})
        for key in keys:
            totals[key] += 1
            alerted[key] += bool(candidates)
            found[key] += any(c["reference_number"] == row["expected_reference"] for c in candidates)
            blocked[key] += bool(answer and answer["decision"] == "true_match"
                                 and answer["reference_number"] == (row["expected_reference"] or answer["reference_number"]))
    lines = [f"Screening on {EVAL_SET.name}: {len(rows)} rows "
             f"({totals[('true_match', 'all')]} true matches, {len(rows) - totals[('true_match', 'all')]} non-matches); "
             f"review threshold {policy['review_threshold']}"]
    lines.append(f"  recall (own party among candidates): {_rate(found[('true_match', 'all')], totals[('true_match', 'all')])}")
    for key in sorted(k for k in totals if k[0] == "true_match" and k[1] != "all"):
        lines.append(f"    {key[1]:<28} {_rate(found[key], totals[key])}")
    negatives = ("common_name", "recombined", "ordinary")
    neg_total = sum(totals[(g, "all")] for g in negatives)
    neg_alerts = sum(alerted[(g, "all")] for g in negatives)
    lines.append(f"  false-alert rate (non-match reaching the analyst): {_rate(neg_alerts, neg_total)}")
    for key in sorted(k for k in totals if k[0] in negatives and k[1] != "all"):
        lines.append(f"    {key[0] + ' / ' + key[1]:<28} {_rate(alerted[key], totals[key])}")
    lines.append(f"  demo analyst rule: true matches blocked {_rate(blocked[('true_match', 'all')], totals[('true_match', 'all')])} "
                 f"(with identifier {_rate(blocked[('true_match', 'with identifier')], totals[('true_match', 'with identifier')])}, "
                 f"name only {_rate(blocked[('true_match', 'name only')], totals[('true_match', 'name only')])}); "
                 f"non-matches blocked {_rate(sum(blocked[(g, 'all')] for g in negatives), neg_total)}")
    return lines


def structuring_lines() -> list[str]:
    """Each scenario of ``structuring_scenarios.yaml``: expected vs got cash alert codes."""
    rules = load_policy()["monitoring"]
    scenarios = yaml.safe_load(SCENARIOS.read_text(encoding="utf-8"))
    lines, right, total = [], 0, 0
    for kind in ("positive", "negative"):
        for s in scenarios[kind]:
            txs = [{"transaction_id": f"C{i}", "timestamp": ts, "amount_usd": amount, "type": t,
                    "direction": "out" if t == "cash_withdrawal" else "in", "counterparty_country": "US"}
                   for i, (ts, amount, t) in enumerate(s["transactions"])]
            got = sorted({a["reason_code"] for a in run_monitoring(txs, rules)} & CASH_CODES)
            ok = got == sorted(s["expect"])
            right, total = right + ok, total + 1
            lines.append(f"    {'ok  ' if ok else 'MISS'} {s['name']}: expected {sorted(s['expect']) or 'none'}, got {got or 'none'}")
    return [f"Structuring and CTR scenarios ({SCENARIOS.name}): {right}/{total} as expected", *lines]


def review() -> list[str]:
    """The compliance section's lines: screening figures, then the structuring scenarios."""
    rows = list(csv.DictReader(EVAL_SET.open(encoding="utf-8", newline="")))
    current = "matches" if _csv_text(rows) == _csv_text(build_eval_set()) else "DIFFERS FROM"
    return [*screening_lines(rows), f"  (labelled set {current} its generator bench.model_review_compliance.build_eval_set)",
            *structuring_lines()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-eval-set", action="store_true", help=f"rewrite {EVAL_SET} from its generator")
    if parser.parse_args().write_eval_set:
        Path(EVAL_SET).write_text(_csv_text(build_eval_set()), encoding="utf-8")
    print("\n".join(review()))
