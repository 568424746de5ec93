"""The run guards: PII policy (Presidio), jailbreak / injection / topic rails (NeMo Guardrails), output verification."""
