"""A small builder for Atlassian Document Format (ADF), the rich-text JSON Jira Cloud REST v3
takes for issue descriptions and comments.

Follows https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/ and the
node pages under it (doc, paragraph, text, heading, codeBlock, bulletList/listItem, link mark).
A document is ``{"type": "doc", "version": 1, "content": [<block>, ...]}``; blocks hold inline
``text`` nodes. ADF forbids empty text nodes (``"text"`` must be non-empty), so every builder
here leaves empty strings out instead of emitting ``{"type": "text", "text": ""}``.
"""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]


def text(s: str, href: str | None = None) -> Node:
    """Inline text node ``{"type": "text", "text": s}``; with ``href`` it carries a link mark
    ``{"type": "link", "attrs": {"href": href}}``.

    Raises ``ValueError`` for an empty ``s`` (ADF forbids empty text nodes); the block builders
    below skip empty strings before they get here.
    """
    if not s:
        raise ValueError("ADF text nodes must not be empty")
    node: Node = {"type": "text", "text": s}
    if href:
        node["marks"] = [{"type": "link", "attrs": {"href": href}}]
    return node


def _inline(parts: tuple[str | Node, ...]) -> list[Node]:
    """Inline content from strings (wrapped in text nodes, empty ones dropped) and ready nodes."""
    return [text(p) if isinstance(p, str) else p for p in parts if p != ""]


def paragraph(*inline_or_str: str | Node) -> Node:
    """``{"type": "paragraph", "content": [<inline>, ...]}``; strings become text nodes. A
    paragraph with no (non-empty) parts has ``"content": []``, which ADF allows."""
    return {"type": "paragraph", "content": _inline(inline_or_str)}


def heading(s: str, level: int = 2) -> Node:
    """``{"type": "heading", "attrs": {"level": level}, "content": [<text>]}``; ``level`` is 1..6
    (``ValueError`` otherwise)."""
    if not 1 <= level <= 6:
        raise ValueError(f"heading level must be 1..6, got {level}")
    return {"type": "heading", "attrs": {"level": level}, "content": _inline((s,))}


def code_block(s: str, language: str | None = None) -> Node:
    """``{"type": "codeBlock", "attrs": {"language": ...}, "content": [<text>]}``; the text keeps
    its newlines and carries no marks (ADF forbids marks inside a codeBlock). ``attrs`` is left
    out without a language, which renders as plain monospace."""
    node: Node = {"type": "codeBlock", "content": _inline((s,))}
    if language:
        node["attrs"] = {"language": language}
    return node


def bullet_list(items: list[str]) -> Node:
    """``{"type": "bulletList", "content": [{"type": "listItem", "content": [<paragraph>]}, ...]}``,
    one list item (holding one paragraph) per string."""
    return {"type": "bulletList",
            "content": [{"type": "listItem", "content": [paragraph(item)]} for item in items]}


def doc(*blocks: Node) -> Node:
    """The root node: ``{"type": "doc", "version": 1, "content": [<block>, ...]}``."""
    return {"type": "doc", "version": 1, "content": list(blocks)}


def plain_text(adf: Node) -> str:
    """Flatten an ADF node (usually a whole doc) to text, for tests and logs: one line per
    paragraph/heading (code blocks keep their own newlines), list items prefixed ``"- "``,
    ``hardBreak`` as a newline, mentions by their text; marks are dropped."""
    lines: list[str] = []
    _block_lines(adf, lines)
    return "\n".join(lines)


_TEXT_BLOCKS = frozenset({"paragraph", "heading", "codeBlock"})
_INLINE = frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"})


def _block_lines(node: Node, lines: list[str]) -> None:
    kind = node.get("type")
    if kind in _TEXT_BLOCKS or kind in _INLINE:
        lines.append(_inline_text(node.get("content", []) if kind in _TEXT_BLOCKS else [node]))
    elif kind == "listItem":
        item: list[str] = []
        for child in node.get("content", []):
            _block_lines(child, item)
        lines.extend(("- " if i == 0 else "  ") + line for i, line in enumerate(item))
    else:  # doc, lists, blockquote, panel, table...: their children carry the text
        for child in node.get("content", []):
            _block_lines(child, lines)


def _inline_text(nodes: list[Node]) -> str:
    out: list[str] = []
    for node in nodes:
        kind = node.get("type")
        if kind == "text":
            out.append(node.get("text", ""))
        elif kind == "hardBreak":
            out.append("\n")
        else:  # mention/emoji/status/date/inlineCard: their display text, when they have one
            attrs = node.get("attrs") or {}
            out.append(str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or ""))
    return "".join(out)
