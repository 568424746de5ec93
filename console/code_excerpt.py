"""The lines of code a plan node was mapped to, with a few lines around them, read from the job's
repository on this machine.

The console may run on another machine than the worker that mapped the job: the repository
directory may be missing here, or be an archive (which the console does not open). Each such case
is an :class:`ExcerptUnavailable` saying so, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONTEXT_LINES = 3  # lines shown before and after the mapped ones
MARK = "▶"  # in front of a mapped line


class ExcerptUnavailable(Exception):
    """The excerpt cannot be shown here; the message says why, for the page to show as is."""


@dataclass(frozen=True)
class Excerpt:
    """Lines ``first``..``first + len(lines) - 1`` of ``path`` (1-based), of which
    ``start_line``..``end_line`` (inclusive) are the mapped ones."""

    path: str
    first: int
    lines: tuple[str, ...]
    start_line: int
    end_line: int

    def numbered(self) -> str:
        """The excerpt as text: each line as ``<mark> <number> | <code>``, the mark :data:`MARK` on
        a mapped line and a space on a context line, numbers right-aligned."""
        width = len(str(self.first + len(self.lines) - 1))
        return "\n".join(
            f"{MARK if self.start_line <= n <= self.end_line else ' '} {n:>{width}} | {line}"
            for n, line in enumerate(self.lines, start=self.first)
        )


def excerpt(path: str, source: str, start_line: int, end_line: int, context: int = CONTEXT_LINES) -> Excerpt:
    """Lines ``start_line``..``end_line`` (1-based, inclusive) of ``source`` (a file's text) with up
    to ``context`` lines on each side, clipped to the file.

    Raises:
        ExcerptUnavailable: the lines are not in the file (it changed since the job mapped it).
    """
    lines = source.splitlines()
    if not 1 <= start_line <= end_line <= len(lines):
        raise ExcerptUnavailable(f"{path} has {len(lines)} lines here, not lines {start_line}-{end_line}: "
                                 "the file changed since the job mapped it.")
    first, last = max(1, start_line - context), min(len(lines), end_line + context)
    return Excerpt(path=path, first=first, lines=tuple(lines[first - 1:last]), start_line=start_line, end_line=end_line)


def read_excerpt(repository: str | None, path: str, start_line: int, end_line: int,
                 context: int = CONTEXT_LINES) -> Excerpt:
    """:func:`excerpt` of ``path`` (relative to ``repository``, a directory on this machine).

    Raises:
        ExcerptUnavailable: no ``repository`` is named, or it is an archive or not a directory
            here; ``path`` leaves it, is missing or is not UTF-8 text; or as :func:`excerpt`.
    """
    if not repository:  # Path("") is the working directory: never read there instead
        raise ExcerptUnavailable(f"The job names no repository. The code is in `{path}`, lines {start_line}-{end_line}.")
    root = Path(repository)
    if root.is_file():
        raise ExcerptUnavailable(f"The repository `{repository}` is an archive: the console does not open archives. "
                                 f"The code is in `{path}`, lines {start_line}-{end_line}, inside it.")
    if not root.is_dir():
        raise ExcerptUnavailable(f"The repository `{repository}` is not on this machine (the console may run on another "
                                 f"machine than the worker). The code is in `{path}`, lines {start_line}-{end_line}.")
    file = (root / path).resolve()
    if not file.is_relative_to(root.resolve()):  # a stored path is data: never read outside the repository
        raise ExcerptUnavailable(f"`{path}` is outside the repository `{repository}`.")
    try:
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExcerptUnavailable(f"`{path}` is not in the repository `{repository}` on this machine.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExcerptUnavailable(f"`{path}` cannot be read here: {exc}") from None
    return excerpt(path, source, start_line, end_line, context)
