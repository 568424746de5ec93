"""Reading an interrupted run's payload to prefill the operator's resume value.

Three payload shapes are recognised:

* LangChain's ``HumanInTheLoopMiddleware`` request: ``{"action_requests": [...],
  "review_configs": [{"action_name", "allowed_decisions": [...]}, ...]}``, answered
  with ``{"decisions": [{"type": <decision>}, ...]}`` (one per action request);
* a payload with a ``resume_format`` template (as the credit-underwriting agent sends:
  ``{"decision": "approve|decline", "underwriter": "<underwriter id>", ...}``), prefilled
  with the first alternative of each ``a|b`` field and the first allowed decision;
* a plain ``interrupt({... "allowed_decisions": [...]})`` payload, answered with
  ``{"decision": <decision>}``.

The payload may sit anywhere in the stored interrupt (e.g. under ``value``).
"""

from __future__ import annotations

from typing import Any


def _find(payload: Any, key: str) -> dict | None:
    """The first mapping (depth-first) in ``payload`` that has ``key``."""
    if isinstance(payload, dict):
        if key in payload:
            return payload
        children = payload.values()
    elif isinstance(payload, list):
        children = payload
    else:
        return None
    for child in children:
        found = _find(child, key)
        if found is not None:
            return found
    return None


def allowed_decisions(payload: Any) -> list[str]:
    """The decisions the interrupt allows, in the order given (deduplicated); ``[]`` when it does not say."""
    out: dict[str, None] = {}
    hitl = _find(payload, "review_configs")
    if hitl is not None:
        for cfg in hitl.get("review_configs") or ():
            for d in (cfg or {}).get("allowed_decisions") or ():
                out[str(d)] = None
    else:
        plain = _find(payload, "allowed_decisions")
        for d in (plain or {}).get("allowed_decisions") or ():
            out[str(d)] = None
    return list(out)


def resume_template(payload: Any) -> dict[str, Any]:
    """A resume value to prefill the editor: the first allowed decision, in the payload's own shape.

    Returns ``{}`` when the payload names no allowed decisions.
    """
    hitl = _find(payload, "review_configs")
    if hitl is not None:
        first_allowed = {
            c.get("action_name"): c["allowed_decisions"][0]
            for c in hitl.get("review_configs") or ()
            if isinstance(c, dict) and c.get("allowed_decisions")
        }
        requests = [r for r in hitl.get("action_requests") or () if isinstance(r, dict)]
        if first_allowed and requests:
            fallback = next(iter(first_allowed.values()))
            return {"decisions": [{"type": first_allowed.get(r.get("name"), fallback)} for r in requests]}
    allowed = allowed_decisions(payload)
    fmt = (_find(payload, "resume_format") or {}).get("resume_format")
    if isinstance(fmt, dict) and fmt:
        template = {k: v.split("|")[0] if isinstance(v, str) and "|" in v else v for k, v in fmt.items()}
        if allowed and "decision" in template:
            template["decision"] = allowed[0]
        return template
    return {"decision": allowed[0]} if allowed else {}
