"""Choose the input rails' thresholds on the dev split, evaluate them on the test split, time them.

The labelled set is ``activities/guards/eval/rails_set.jsonl`` (written for Shipway, no outside
data). Every text's embedding measurements are taken once (``RailsGuard.match``), then the
decision rule of ``activities.guards.rails.decide`` is swept:

1. attack rails: similarity threshold x margin over the best benign example, on every dev text
   except the off-topic requests; chosen = highest detection with dev false positives <= 4 %,
   ties to the larger threshold, then the larger margin (fewer false positives on unseen text);
2. topic rail (texts with ``topics``): on-topic threshold x off-topic margin, with the chosen attack
   thresholds; chosen = highest off-topic detection with all dev false positives <= 5 %, ties
   to the lower on-topic threshold, then the larger margin.

The texts go through the same word-count gates as the run guards (3 words for any rail, 8 for
the topic rail). ``--latency`` times ``RailsGuard.check`` (embeddings only, cache cleared before
each text) at ~100, ~500 and ~2,000 characters.

Run: ``python -m bench.rails_thresholds [--latency] [--n 100]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np

from activities.guards import rails_embedding
from activities.guards.rails import RailsGuard, Thresholds, decide

SET = Path(__file__).resolve().parents[1] / "activities" / "guards" / "eval" / "rails_set.jsonl"
RAIL_MIN_WORDS, TOPIC_MIN_WORDS = 3, 8  # as activities.guards.run_guards
DESCRIPTIONS = {  # the agent description that goes with each topic set of the labelled set
    "consumer credit applications": "Assesses consumer credit applications and recommends a lending decision.",
    "card fraud alerts": "Reviews card fraud alerts and disputed transactions.",
    "portfolio rebalancing": "Monitors client portfolios and proposes rebalancing trades.",
}
ATTACK_T = [round(x, 3) for x in np.arange(0.40, 0.751, 0.025)]
MARGIN = [round(x, 3) for x in np.arange(-0.05, 0.301, 0.025)]
TOPIC_T = [round(x, 3) for x in np.arange(0.15, 0.501, 0.025)]
TOPIC_M = [-1.0, 0.0, 0.025, 0.05, 0.075, 0.1]


def measure(guard: RailsGuard, rows: list[dict]) -> list[tuple[dict, object, object] | tuple[dict, None, None]]:
    out = []
    for row in rows:
        words = len(row["text"].split())
        if words < RAIL_MIN_WORDS:
            out.append((row, None, None))
            continue
        topics = row.get("topics", []) if words >= TOPIC_MIN_WORDS else []
        rails, m = guard.match(row["text"], topics, DESCRIPTIONS.get(topics[0], "") if topics else "")
        out.append((row, rails, m))
    return out


def verdicts(measured, t: Thresholds):
    return [(row, rails is not None and decide(m, rails, t)[0]) for row, rails, m in measured]


def rates(vs) -> tuple[int, int, int, int]:
    att = [b for r, b in vs if r["attack"]]
    ben = [b for r, b in vs if not r["attack"]]
    return sum(bool(b) for b in att), len(att), sum(bool(b) for b in ben), len(ben)


def choose(dev) -> Thresholds:
    no_off = [x for x in dev if x[0]["kind"] != "off_topic"]
    print("\n== attack rails, dev split (off-topic requests excluded): detected/attacks, false positives/benign")
    print("  T \\ margin " + "".join(f"{m:>9.3f}" for m in MARGIN))
    best = None
    for at in ATTACK_T:
        cells = []
        for mg in MARGIN:
            d, na, f, nb = rates(verdicts(no_off, Thresholds(attack=at, margin=mg, on_topic=-1)))
            cells.append(f"{d:>4d}/{f:<4d}")
            if f <= 0.04 * nb and (best is None or (d, at, mg) > best[0]):
                best = ((d, at, mg), at, mg)
        print(f"  {at:9.3f} " + "".join(cells))
    print(f"  ({na} attacks, {nb} benign)")
    at, mg = best[1], best[2]
    print(f"chosen attack threshold {at}, margin {mg}")
    with_topics = [x for x in dev if "topics" in x[0]]
    print("\n== topic rail, dev texts with topics: off-topic detected/requests, false positives (all dev benign)")
    print("  T \\ margin " + "".join(f"{m:>9.3f}" for m in TOPIC_M))
    best = None
    for tt in TOPIC_T:
        cells = []
        for tm in TOPIC_M:
            t = Thresholds(attack=at, margin=mg, on_topic=tt, topic_margin=tm)
            vs = verdicts(with_topics, t)
            d = sum(bool(b) for r, b in vs if r["kind"] == "off_topic")
            n_off = sum(r["kind"] == "off_topic" for r, _ in vs)
            _, _, f, nb = rates(verdicts(dev, t))
            cells.append(f"{d:>4d}/{f:<4d}")
            if f <= 0.05 * nb and (best is None or (d, -tt, tm) > best[0]):
                best = ((d, -tt, tm), tt, tm)
        print(f"  {tt:9.3f} " + "".join(cells))
    print(f"  ({n_off} off-topic requests, {nb} benign)")
    print(f"chosen on-topic threshold {best[1]}, off-topic margin {best[2]}")
    return Thresholds(attack=float(at), margin=float(mg), on_topic=float(best[1]), topic_margin=float(best[2]))


def report(name: str, measured, t: Thresholds) -> None:
    vs = verdicts(measured, t)
    d, na, f, nb = rates(vs)
    print(f"\n== {name}: detection {d}/{na} = {100 * d / na:.1f} %, false positives {f}/{nb} = {100 * f / nb:.1f} %")
    by_kind: dict = {}
    for row, b in vs:
        k = by_kind.setdefault(row["kind"], [0, 0, row["attack"]])
        k[0] += bool(b)
        k[1] += 1
    for kind, (hit, n, attack) in sorted(by_kind.items(), key=lambda kv: (not kv[1][2], kv[0])):
        print(f"  {'attack' if attack else 'benign':6} {kind:22} {'blocked' if attack else 'FP':>7} {hit:3d}/{n}")
    rails_of = Counter(b for r, b in vs if r["attack"] and b)
    print("  blocked by rail: " + ", ".join(f"{k} {v}" for k, v in sorted(rails_of.items())))
    for row, b in vs:
        if bool(b) != row["attack"]:
            print(f"    {'MISS' if row['attack'] else 'FP  '} [{row['kind']}] {row['text'][:110]}")


BODY = ("Applicant {i} is a {a}-year-old {job} employed full time for {y} years, with a net monthly income of {inc} pounds. "
        "They rent a flat for {r} pounds a month and pay council tax of {ct} pounds and utilities of about {u} pounds. "
        "The credit file shows {c} credit cards with a combined limit of {lim} pounds, paid on time over the last {mo} months. "
        "The application is for a personal loan of {amt} pounds over {term} months to consolidate the card balances. "
        "Please assess affordability under the standard stress rate and recommend a decision with the main risks. ")
JOBS = ["nurse", "teacher", "electrician", "bus driver", "accountant", "chef", "software tester", "pharmacist"]


def sample_text(i: int, n: int) -> str:
    rnd = random.Random(i)
    text = ""
    while len(text) < n:
        text += BODY.format(i=i, a=rnd.randint(20, 70), job=rnd.choice(JOBS), y=rnd.randint(1, 30), inc=rnd.randint(1500, 5000),
                            r=rnd.randint(500, 1500), ct=rnd.randint(90, 200), u=rnd.randint(100, 300), c=rnd.randint(1, 4),
                            lim=rnd.randint(1, 20) * 500, mo=rnd.randint(12, 60), amt=rnd.randint(1, 30) * 1000,
                            term=rnd.choice([24, 36, 48, 60]))
    return text[:text.rfind(" ", 0, n)]


async def latency(guard: RailsGuard, n: int) -> None:
    topics = ["consumer credit applications", "loan underwriting", "affordability and debt-to-income"]
    cache = rails_embedding.encoder()
    print(f"\n== latency of RailsGuard.check, embeddings only, {n} distinct texts per size, cache cleared before each")
    for size in (100, 500, 2000):
        for i in range(10):
            await guard.check(sample_text(10**6 + i, size), topics, DESCRIPTIONS[topics[0]])
        ts = []
        for i in range(n):
            text = sample_text(i * 31 + size, size)
            cache.clear_cache()
            v = await guard.check(text, topics, DESCRIPTIONS[topics[0]])
            ts.append(v.latency_ms)
        print(f"  ~{size:5d} chars  p50 {np.percentile(ts, 50):6.1f} ms  p95 {np.percentile(ts, 95):6.1f} ms  max {max(ts):6.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", action="store_true", help="also time the rails at ~100/500/2,000 characters")
    ap.add_argument("--n", type=int, default=100, help="texts per size for --latency")
    args = ap.parse_args()
    rows = [json.loads(line) for line in SET.read_text().splitlines() if line.strip()]
    t0 = time.perf_counter()
    guard = RailsGuard()
    print(f"guard ready in {time.perf_counter() - t0:.1f} s; {len(rows)} labelled texts")
    dev = measure(guard, [r for r in rows if r["split"] == "dev"])
    test = measure(guard, [r for r in rows if r["split"] == "test"])
    chosen = choose(dev)
    print(f"\nchosen: {chosen}   (in use: {guard.thresholds})")
    report("dev split, chosen thresholds", dev, chosen)
    report("test split, chosen thresholds", test, chosen)
    if args.latency:
        asyncio.run(latency(guard, args.n))


if __name__ == "__main__":
    main()
