"""The figures a model validator asks for, per reference agent (``python -m bench.model_review``).

Each agent's section comes from ``bench/model_review_<agent>.py``'s ``review()``: credit AUC over
repeated cross-validation with calibration and adverse impact ratios; screening recall and false
alerts on a labelled set, and the structuring scenarios; fraud precision and recall per pattern (on
synthetic data); portfolio out-of-sample return against the benchmark, with costs; signal hit rates.
Deterministic (fixed seeds); a few minutes on a 2-core machine. Not a test: it measures.
"""

from __future__ import annotations

import argparse
import importlib
import time

SECTIONS = {
    "credit": "Credit underwriting",
    "compliance": "Compliance monitoring",
    "fraud": "Fraud detection",
    "portfolio": "Portfolio management",
    "financial": "Financial analysis",
}


def main(only: list[str] | None) -> None:
    """Print every section (or only the named ones), each with how long it took."""
    for key, title in SECTIONS.items():
        if only and key not in only:
            continue
        started = time.perf_counter()
        lines = importlib.import_module(f"bench.model_review_{key}").review()
        print(f"== {title} ({time.perf_counter() - started:.0f} s)")
        print("\n".join(lines))
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help=f"only these sections, of: {', '.join(SECTIONS)} (default: all)")
    chosen = parser.parse_args().sections
    if unknown := set(chosen) - set(SECTIONS):
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    main(chosen or None)
