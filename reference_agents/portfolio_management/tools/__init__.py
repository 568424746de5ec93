"""Pure computations of the portfolio-management agent, one concern per module.

``market_data`` (prices, windows), ``technical`` (momentum, moving averages), ``risk``
(shrinkage covariance, historical VaR/CVaR), ``optimise`` (PyPortfolioOpt efficient frontier),
``rebalance`` (orders), ``benchmark`` (metrics vs the S&P 500), ``fundamentals`` (user CSV
screen) and ``narrative`` (the review narrative's facts and fallback text).
"""
