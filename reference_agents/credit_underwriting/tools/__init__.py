"""Computations of the credit-underwriting agent: data, scorecard, policy tree, referral."""
