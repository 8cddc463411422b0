"""Text of nodes for messages, raw text edits, and the common changes under their old names."""

from __future__ import annotations

import ast

from packlint.diagnostics import Edit
from packlint.fixes import changes
from packlint.fixes.changes import ReplaceExpression, SetKeyword, replace_expression
from packlint.source import Source


def node_span(source: Source, node: ast.AST) -> tuple[int, int]:
    """Character offsets where `node` starts and ends."""
    start = source.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
    end = source.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
    return start, end


def edit(source: Source, start: int, end: int, content: str) -> Edit:
    """An edit between two offsets, with its locations for reports."""
    return Edit(start, end, content, source.location(start), source.location(end))


def replace_node(source: Source, node: ast.expr, content: str) -> ReplaceExpression:
    """Replace the expression `node` with `content` (a change made real through libcst)."""
    return replace_expression(source, node, content)


def text_of(source: Source, node: ast.AST) -> str:
    """The source text of `node`, exactly as written."""
    start, end = node_span(source, node)
    return source.text[start:end]


def short_text_of(source: Source, node: ast.AST, limit: int = 60) -> str:
    """The text of `node` on one line, cut to `limit` characters, for a message."""
    flat = " ".join(text_of(source, node).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def set_keyword(source: Source, call: ast.Call, name: str, value: str, position: int | None = None) -> SetKeyword:
    """Make `call` pass `name=value`: replace the written argument, or add the keyword at the end."""
    return changes.set_keyword(source, call, name, value, position)
