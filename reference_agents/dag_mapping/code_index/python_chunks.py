"""Python source -> chunks: one per ``def`` and one per DataFrame method call inside it."""

from __future__ import annotations

import ast

from reference_agents.dag_mapping.code_index.model import FUNCTION, CodeChunk, file_hash, unique
from reference_agents.dag_mapping.code_index.python_features import extract, extract_call, root_name
from reference_agents.dag_mapping.code_index.python_methods import METHOD_KINDS
from reference_agents.dag_mapping.code_index.python_scope import Resolution, resolve_module, scan_table
from reference_agents.dag_mapping.code_index.source_text import SourceText

MODULE_SYMBOL = "<module>"
"""Symbol of calls outside any ``def`` or class."""


def chunk_python(path: str, source: str) -> list[CodeChunk]:
    """Chunks of one Python file, ordered by start position (a def before the calls in it).

    A "function" chunk per ``def`` (methods and nested defs included) spans from the ``def``
    keyword, decorators EXCLUDED, to the end of its body. A call chunk per method call named in
    ``python_methods.METHOD_KINDS`` (kind from there) spans from the METHOD NAME token to the
    call's closing parenthesis, so ``a.join(x)\\n.join(y)`` gives two chunks on their own lines;
    calls on a literal (``", ".join``) and ``join`` on an imported module (``os.path.join``) are
    not DataFrame calls. The symbol of a call is its innermost enclosing def (see
    :class:`CodeChunk`); a def's chunk includes the defs nested in it.

    Features: see :func:`~reference_agents.dag_mapping.code_index.python_features.extract`; a
    call chunk's come from its arguments only (not the receiver chain). ``tables``: names read
    that stand for a table (see ``python_scope.Resolution``); for a call, its receiver and
    bare-name arguments.

    ``path`` is stored as given (repo-relative posix). Raises ``SyntaxError`` on unparsable source
    and ``ValueError`` on source with null bytes."""
    tree = ast.parse(source, filename=path)
    chunker = _Chunker(path, SourceText(source), file_hash(source), resolve_module(tree))
    chunker.visit(tree)
    return sorted(chunker.chunks, key=lambda c: (c.start_line, c.start_col, c.kind != FUNCTION))


def call_chunk_at(
    chunks: list[CodeChunk], path: str, position: tuple[int, int, int, int], method: str | None = None
) -> CodeChunk | None:
    """The call chunk of the call executing at ``position`` in file ``path``, or ``None``.

    ``position`` is ``(line, end_line, col, end_col)`` exactly as a code object's
    ``co_positions()`` (or ``dis.Instruction.positions``) gives it for the ``CALL`` (or, with
    ``**kwargs``, ``CALL_FUNCTION_EX``) instruction; ``PRECALL`` has the same. Its end is the
    call's closing parenthesis, the same as the chunk's; its start is the method name when the
    name is on a later line than the receiver's start, else the receiver's start (CPython 3.11),
    so the chunk must end exactly there and start at or after it. ``method``, if given, must be
    the chunk's method name. A linear scan: pass the chunks of one file for speed."""
    line, end_line, col, end_col = position
    for chunk in chunks:
        if (
            chunk.kind != FUNCTION
            and chunk.path == path
            and (chunk.end_line, chunk.end_col) == (end_line, end_col)
            and (chunk.start_line, chunk.start_col) >= (line, col)
            and (method is None or chunk.text.startswith(method + "("))
        ):
            return chunk
    return None


class _Chunker(ast.NodeVisitor):
    def __init__(self, path: str, text: SourceText, digest: str, resolution: Resolution):
        self.path, self.text, self.digest, self.resolution = path, text, digest, resolution
        self.scope: list[str] = []
        self.chunks: list[CodeChunk] = []

    def symbol(self) -> str:
        return ".".join(self.scope) or MODULE_SYMBOL

    def chunk(self, kind: str, start: tuple[int, int], end: tuple[int, int], features, tables) -> CodeChunk:
        return CodeChunk(
            path=self.path,
            symbol=self.symbol(),
            kind=kind,
            start_line=start[0],
            end_line=end[0],
            start_col=start[1],
            end_col=end[1],
            text=self.text.segment(*start, *end),
            content_hash=self.digest,
            columns=features.columns,
            constants=features.constants,
            aggregates=features.aggregates,
            tables=unique(tables),
        )

    def visit_FunctionDef(self, node):
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.scope.append(node.name)
        tables = [
            table
            for child in ast.walk(node)
            for table in (
                self.resolution.table(child),
                scan_table(child) if isinstance(child, ast.Call) else None,
            )
            if table is not None
        ]
        self.chunks.append(
            self.chunk(
                FUNCTION,
                (node.lineno, node.col_offset),
                (node.end_lineno, node.end_col_offset),
                extract([node], self.resolution),
                tables,
            )
        )
        for statement in node.body:
            self.visit(statement)
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for child in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(child)
        self.scope.append(node.name)
        for statement in node.body:
            self.visit(statement)
        self.scope.pop()

    def visit_Call(self, node):
        kind = self.dataframe_call_kind(node)
        if kind is not None:
            func = node.func
            start = (func.end_lineno, func.end_col_offset - len(func.attr.encode("utf-8")))
            self.chunks.append(
                self.chunk(
                    kind,
                    start,
                    (node.end_lineno, node.end_col_offset),
                    extract_call(node, self.resolution),
                    self.call_tables(node),
                )
            )
        self.generic_visit(node)

    def dataframe_call_kind(self, node: ast.Call) -> str | None:
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in METHOD_KINDS:
            return None
        if isinstance(func.value, ast.Constant):
            return None
        if func.attr == "join" and root_name(func.value) in self.resolution.modules:
            return None
        return METHOD_KINDS[func.attr]

    def call_tables(self, node: ast.Call) -> list[str]:
        candidates = [node.func.value, *node.args, *(kw.value for kw in node.keywords)]
        tables = [self.resolution.table(candidate) for candidate in candidates]
        tables.append(scan_table(node))
        return [table for table in tables if table is not None]
