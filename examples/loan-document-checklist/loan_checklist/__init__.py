"""Loan-document checklist: a LangGraph agent that lists the documents a loan officer must collect
before a consumer credit application (German Credit attributes) is underwritten.

The graph is ``loan_checklist.graph:graph``; the rules are ``loan_checklist/checklist.yaml``.
"""
