"""Pure computations of the portfolio-management agent, one concern per module.

``market_data`` (adjusted closes, windows), ``technical`` (momentum, moving averages), ``risk``
(shrinkage covariance, historical VaR/CVaR), ``expected_returns`` (Bayes-Stein), ``optimise``
(efficient frontier net of costs, turnover limit), ``rebalance`` (orders), ``benchmark`` (metrics
vs the S&P 500), ``backtest`` (walk-forward, out of sample), ``fundamentals`` (user CSV screen)
and ``narrative`` (the review narrative's facts and fallback text).
"""
