"""Server-sent events in the LangGraph Platform's wire format, and the ``Last-Event-ID`` it resumes from.

The Platform (``langgraph-api``) frames each event as ``event: <name>``, ``data: <compact JSON>``
and, for resumable streams, ``id: <id>``, each line ended by CRLF, the event by an empty line;
while idle it sends the comment ``: heartbeat`` every few seconds. ``langgraph-sdk``'s decoder
(``langgraph_sdk.sse``) splits lines on CR, LF or CRLF and skips comments, and sends the last id it
saw back as ``Last-Event-ID`` when it rejoins a stream.
"""

from __future__ import annotations

from typing import Any

from activities.run_events import dump_json

MEDIA_TYPE = "text/event-stream"
HEARTBEAT = b": heartbeat\r\n\r\n"
_EOL = b"\r\n"


def _field(value: str) -> bytes:
    # a CR or LF inside a field would end the line early and inject fields
    return value.replace("\r", "").replace("\n", "").encode()


def sse(event: str, data: Any, id: int | None = None) -> bytes:
    """One event: ``event: <event>``, ``data: <data as JSON>``, ``id: <id>`` when given, then the
    empty line ending it (CRLF line ends, as the Platform sends).

    ``data`` is serialized as :func:`activities.run_events.dump_json` does (one line: compact JSON
    escapes every newline). CR and LF are dropped from ``event``.

    Raises:
        TypeError: ``data`` is not JSON-serializable.
    """
    parts = [b"event: ", _field(event), _EOL, b"data: ", dump_json(data), _EOL]
    if id is not None:
        parts += [b"id: ", str(id).encode(), _EOL]
    parts.append(_EOL)
    return b"".join(parts)


def parse_last_event_id(header: str | None) -> int | None:
    """The id a client resumes after, from its ``Last-Event-ID`` header: None when absent or empty
    (the SSE way of saying "no cursor"), else the non-negative integer it holds.

    Raises:
        ValueError: the header is not a non-negative decimal integer (not an id this gateway sent).
    """
    value = (header or "").strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"Last-Event-ID must be an event id this server sent, got {header!r}")
    return int(value)
