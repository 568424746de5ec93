"""A run's timeline: which graph nodes ran when, and for how long, from its thread's checkpoints.

LangGraph saves a checkpoint after every step; the nodes a checkpoint triggers (its ``next``) run
from it and their writes make the next checkpoint. So a node's duration is the difference of the
two checkpoints' times (nodes of one step ran in parallel and share it), and a node after which no
checkpoint came is still running, interrupted (waiting for an answer) or died with the run.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from console.checkpoints import CheckpointRow

_START = "__start__"  # LangGraph's input step: not a node of the graph
_INTERRUPT = "__interrupt__"
TIMELINE_COLUMNS = ["step", "node", "start", "end", "duration_ms", "outcome"]
DONE, RESUMED, INTERRUPTED, OPEN = "done", "resumed", "interrupted", "no checkpoint after it"


def node_timeline(history: list[CheckpointRow], since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """The nodes of the checkpoints in ``history`` (any order) saved in ``[since, until]`` (UTC; a
    thread may hold several runs), oldest first.

    Columns: ``step`` (LangGraph's step the node ran from), ``node``, ``start`` / ``end`` (UTC
    timestamps; ``end`` NaT when no checkpoint followed), ``duration_ms`` (milliseconds, None
    without an end), ``outcome``: ``done``; ``resumed`` (it interrupted, then ran again with the
    answer: its duration includes the wait for the answer); ``interrupted`` (waiting for an
    answer); ``no checkpoint after it`` (still running, or the run ended in it).
    """
    saved = sorted(((pd.Timestamp(h.ts), h) for h in history), key=lambda pair: pair[0])
    saved = [(ts, h) for ts, h in saved if (since is None or ts >= since) and (until is None or ts <= until)]
    rows = []
    for i, (start, h) in enumerate(saved):
        end = saved[i + 1][0] if i + 1 < len(saved) else None
        interrupted = _INTERRUPT in h.writes
        if end is not None:
            outcome = RESUMED if interrupted else DONE
        else:
            outcome = INTERRUPTED if interrupted else OPEN
        for node in h.next:
            if node != _START:
                rows.append({"step": h.step, "node": node, "start": start, "end": end,
                             "duration_ms": (end - start).total_seconds() * 1000.0 if end is not None else None,
                             "outcome": outcome})
    frame = pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame["end"] = pd.to_datetime(frame["end"], utc=True)
    return frame
