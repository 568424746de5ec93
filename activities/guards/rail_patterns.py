"""Signature rail: attack markers that need no model, checked before the embedding rails.

Each pattern names one well-known attack family (chat-template tokens smuggled into data, an order
to drop the model's *instructions / rules / policy*, a named jailbreak mode, a request for the
system prompt). The object of the verb is what separates them from finance work: "ignore the typo in
row 3" or "override the default term" name data, never the model's instructions, so they do not
match. Patterns run on the text and on its de-obfuscated copy (:func:`activities.guards.rails.deobfuscate`),
in microseconds; a match blocks at once, so an obvious attack costs no forward pass.

Chosen on the dev split of ``activities/guards/eval/rails_set.jsonl`` (no dev benign text matches);
their effect on the test split is printed by ``bench/guard_eval.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What an attacker tells the model to drop: its own instructions, never a data item.
_MODEL_RULES = (r"(?:instructions?|rules|guidelines|guardrails|safeguards|restrictions|constraints|programming|"
                r"system\s+prompt|content\s+(?:policy|filters?)|safety\s+(?:rules|filters?|checks))")
_DROP = r"(?:ignore|disregard|forget|bypass|override|abandon|drop|set\s+aside|discard|throw\s+out|stop\s+following)"


@dataclass(frozen=True)
class Signature:
    """One attack family: ``name``, the rail and reason code it blocks with, and its regex."""

    name: str
    rail: str
    reason_code: str
    pattern: re.Pattern


SIGNATURES: tuple[Signature, ...] = (
    Signature("chat_template_tokens", "prompt_injection", "PROMPT_INJECTION", re.compile(
        r"<\|im_start\|>|<\|im_end\|>|<\|system\|>|\[/?INST\]|<</?SYS>>|</?system>|<\|endoftext\|>|"
        r"^\s*#{2,}\s*(?:system|instruction)s?\s*:", re.I | re.M)),
    Signature("drop_the_models_rules", "jailbreak", "JAILBREAK", re.compile(
        rf"\b{_DROP}\b(?:\W+\w+){{0,5}}?\W+(?:your|all|any|the\s+(?:previous|prior|above|earlier))\b(?:\W+\w+){{0,3}}?\W+{_MODEL_RULES}\b",
        re.I)),
    Signature("named_jailbreak_mode", "jailbreak", "JAILBREAK", re.compile(
        r"\b(?:(?-i:DAN)|do\s+anything\s+now|jailbr(?:eak|oken)|(?:enter|enable|activate|switch\s+(?:on|to)|turn\s+on)\s+"
        r"(?:developer|god|sudo|unrestricted|no[-\s]?filter|admin)\s+mode)\b", re.I)),
    Signature("system_prompt_request", "system_prompt", "SYSTEM_PROMPT_EXTRACTION", re.compile(
        r"\b(?:reveal|show|print|repeat|output|display|dump|leak|tell\s+me|what\s+(?:is|are|was|were))\b(?:\W+\w+){0,4}?\W+"
        r"(?:system\s+prompt|(?:initial|original|hidden|secret|confidential)\s+(?:instructions|prompt))\b", re.I)),
)


def first_signature(texts: list[str]) -> Signature | None:
    """The first signature any of ``texts`` matches (in :data:`SIGNATURES` order), or None."""
    for sig in SIGNATURES:
        if any(sig.pattern.search(t) for t in texts):
            return sig
    return None
