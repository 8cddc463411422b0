"""Small builders of text edits, positioned by the parser's nodes."""

from __future__ import annotations

import ast

from packlint.diagnostics import Edit
from packlint.facts import argument
from packlint.source import Source


def node_span(source: Source, node: ast.AST) -> tuple[int, int]:
    """Character offsets where `node` starts and ends."""
    start = source.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
    end = source.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
    return start, end


def edit(source: Source, start: int, end: int, content: str) -> Edit:
    """An edit between two offsets, with its locations for reports."""
    return Edit(start, end, content, source.location(start), source.location(end))


def replace_node(source: Source, node: ast.AST, content: str) -> Edit:
    """Replace the text of `node`."""
    start, end = node_span(source, node)
    return edit(source, start, end, content)


def text_of(source: Source, node: ast.AST) -> str:
    """The source text of `node`, exactly as written."""
    start, end = node_span(source, node)
    return source.text[start:end]


def short_text_of(source: Source, node: ast.AST, limit: int = 60) -> str:
    """The text of `node` on one line, cut to `limit` characters, for a message."""
    flat = " ".join(text_of(source, node).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def set_keyword(source: Source, call: ast.Call, name: str, value: str, position: int | None = None) -> Edit:
    """Make `call` pass `name=value`: replace the written argument, or add the keyword at the end."""
    written = argument(call, position, name)
    if written is not None:
        return replace_node(source, written, value)
    last = [*call.args, *(kw.value for kw in call.keywords)]
    if not last:
        # `f()`: the only place for an argument is just before the closing parenthesis.
        _, end = node_span(source, call)
        return edit(source, end - 1, end - 1, f"{name}={value}")
    end = max(node_span(source, node)[1] for node in last)
    return edit(source, end, end, f", {name}={value}")


def statement_lines(source: Source, stmt: ast.stmt) -> tuple[int, int] | None:
    """Offsets of the whole lines `stmt` occupies, when nothing else shares those lines."""
    start, end = node_span(source, stmt)
    line_start = source.line_starts[stmt.lineno - 1]
    if source.text[line_start:start].strip():
        return None
    end_row = stmt.end_lineno or stmt.lineno
    line_end = source.line_starts[end_row] if end_row < len(source.line_starts) else len(source.text)
    rest = source.text[end:line_end].strip()
    if rest and not rest.startswith("#"):
        return None
    return line_start, line_end


def indentation(source: Source, stmt: ast.stmt) -> str:
    """The whitespace before `stmt` on its first line."""
    line = source.line(stmt.lineno)
    return line[: len(line) - len(line.lstrip())]
