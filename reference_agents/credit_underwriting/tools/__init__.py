"""Computations of the credit-underwriting agent: the German Credit data and its corrected coding, the
scorecard and its calibration."""
