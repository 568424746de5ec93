"""Positions in a source text: (1-based line, 0-based UTF-8 byte column) <-> character offset."""

from __future__ import annotations

import bisect
import re

# The line breaks Python's tokenizer counts (str.splitlines also splits on \f, \v, \x1c... which it does not).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SourceText:
    """A source string with its line table.

    Lines are 1-based; columns are 0-based UTF-8 byte offsets within the line (``ast`` and
    code-object convention); offsets are 0-based character indexes into the string."""

    def __init__(self, source: str):
        self.source = source
        self._line_starts = [0] + [match.end() for match in _LINE_BREAK.finditer(source)]

    def position(self, offset: int) -> tuple[int, int]:
        """(line, byte column) of character ``offset`` (``0 <= offset <= len(source)``)."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        line_start = self._line_starts[index]
        return index + 1, len(self.source[line_start:offset].encode("utf-8"))

    def offset(self, line: int, col: int) -> int:
        """Character offset of (``line``, byte ``col``); raises ``IndexError`` for a line outside
        the text."""
        if not 1 <= line <= len(self._line_starts):
            raise IndexError(f"line {line} outside 1..{len(self._line_starts)}")
        line_start = self._line_starts[line - 1]
        prefix = self.source[line_start : line_start + col].encode("utf-8")[:col]
        return line_start + len(prefix.decode("utf-8", errors="ignore"))

    def segment(self, start_line: int, start_col: int, end_line: int, end_col: int) -> str:
        """The text from (``start_line``, ``start_col``) to (``end_line``, ``end_col``), end exclusive."""
        return self.source[self.offset(start_line, start_col) : self.offset(end_line, end_col)]
