"""What a fix changes, as a rule states it: plain data positioned by `ast` nodes, made real by libcst.

A rule never writes text edits by hand: it names the node to change and how (`SetKeyword`,
`WrapExpression`, `InsertStatement`, ...). `packlint.fixes.apply` finds the same node in libcst's
tree (by its position, which both parsers give without parentheses) and rewrites it there, so
comments, parentheses, continuation lines and each line's own ending survive by construction.
This module imports no libcst: a check that applies no fix never loads it.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from typing import Literal, Union

from packlint.source import Source

TargetKind = Literal["call", "expression", "statement"]


@dataclass(frozen=True)
class Target:
    """A node by its span as libcst's PositionProvider gives it: 1-based rows, 0-based columns in
    characters, parentheses excluded; `kind` picks among nodes that share a span (`a` and `a;`)."""

    kind: TargetKind
    row: int
    column: int
    end_row: int
    end_column: int

    @property
    def span(self) -> tuple[int, int, int, int]:
        """The span as one comparable tuple."""
        return (self.row, self.column, self.end_row, self.end_column)


@dataclass(frozen=True)
class SetKeyword:
    """`f(a)` -> `f(a, name=value)`; replaces the argument when it is written (by keyword, or at
    `position` when given)."""

    call: Target
    name: str
    value: str
    position: int | None = None


@dataclass(frozen=True)
class ReplaceExpression:
    """`descending=False` -> `descending=True`: the node becomes `code`."""

    node: Target
    code: str


@dataclass(frozen=True)
class WrapExpression:
    """`lengths` -> `torch.as_tensor(lengths)`: the node becomes `template`, where `{}` stands for
    `inner` (the node itself when None) kept as written, comments included. With `parenthesize`,
    an inner expression that binds looser than an attribute (`a + b`) gets parentheses."""

    node: Target
    template: str
    inner: Target | None = None
    parenthesize: bool = False


@dataclass(frozen=True)
class InsertStatement:
    """Insert `code` (one simple statement) just before or after the statement `anchor`: on its own
    line with the anchor's line ending, or after a `;` when the anchor shares its line."""

    anchor: Target
    code: str
    after: bool = False


@dataclass(frozen=True)
class InsertFirst:
    """Insert `code` as the first statement of the body of the compound statement `owner`."""

    owner: Target
    code: str


@dataclass(frozen=True)
class RemoveStatement:
    """Delete a simple statement (its line too, when nothing else is on it)."""

    node: Target


@dataclass(frozen=True)
class MoveStatement:
    """Move a simple statement (with its trailing comment) just after the statement `anchor`."""

    node: Target
    anchor: Target


Change = Union[
    SetKeyword, ReplaceExpression, WrapExpression, InsertStatement, InsertFirst, RemoveStatement, MoveStatement
]


def targets(change: Change) -> tuple[Target, ...]:
    """The nodes that `change` rewrites or anchors to: what a fix touches besides its text edits."""
    if isinstance(change, SetKeyword):
        return (change.call,)
    if isinstance(change, WrapExpression):
        return (change.node,) if change.inner is None else (change.node, change.inner)
    if isinstance(change, (ReplaceExpression, RemoveStatement)):
        return (change.node,)
    if isinstance(change, InsertStatement):
        return (change.anchor,)
    if isinstance(change, InsertFirst):
        return (change.owner,)
    return (change.node, change.anchor)  # MoveStatement


def target(source: Source, node: ast.AST, kind: TargetKind) -> Target:
    """The libcst span of an `ast` node (whose columns count UTF-8 bytes)."""
    start = source.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
    end = source.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
    begin, finish = source.location(start), source.location(end)
    return Target(kind, begin.row, begin.column - 1, finish.row, finish.column - 1)


def set_keyword(source: Source, call: ast.Call, name: str, value: str, position: int | None = None) -> SetKeyword:
    """Make `call` pass `name=value`."""
    return SetKeyword(target(source, call, "call"), name, value, position)


def replace_expression(source: Source, node: ast.expr, code: str) -> ReplaceExpression:
    """Replace the expression `node` with `code`."""
    return ReplaceExpression(target(source, node, "expression"), code)


def wrap_expression(
    source: Source, node: ast.expr, template: str, inner: ast.expr | None = None, parenthesize: bool = False
) -> WrapExpression:
    """Replace `node` with `template`, `{}` standing for `inner` (or `node`) as written."""
    kept = target(source, inner, "expression") if inner is not None else None
    return WrapExpression(target(source, node, "expression"), template, kept, parenthesize)


def insert_statement(source: Source, anchor: ast.stmt, code: str, after: bool = False) -> InsertStatement:
    """Insert the simple statement `code` before (or after) `anchor`."""
    return InsertStatement(target(source, anchor, "statement"), code, after)


def insert_first(source: Source, owner: ast.stmt, code: str) -> InsertFirst:
    """Insert the simple statement `code` at the start of `owner`'s body."""
    return InsertFirst(target(source, owner, "statement"), code)


def remove_statement(source: Source, node: ast.stmt) -> RemoveStatement:
    """Delete the simple statement `node`."""
    return RemoveStatement(target(source, node, "statement"))


def move_statement(source: Source, node: ast.stmt, anchor: ast.stmt) -> MoveStatement:
    """Move the simple statement `node` to just after `anchor`."""
    return MoveStatement(target(source, node, "statement"), target(source, anchor, "statement"))


def drops_comment(source: Source, change: Change) -> bool:
    """Whether `change` would delete a comment: one inside an expression it replaces, outside the
    part it keeps. A fix that would is not offered (fixes keep every comment)."""
    if not isinstance(change, (ReplaceExpression, WrapExpression)):
        return False
    kept = change.inner if isinstance(change, WrapExpression) else None
    if isinstance(change, WrapExpression) and kept is None:
        return False  # the whole node is kept
    start, end = _offsets(source, change.node)
    text = source.text[start:end]
    if "#" not in text:
        return False
    keep = _offsets(source, kept) if kept is not None else (end, end)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("(" + text + "\n)").readline))
    except (tokenize.TokenError, SyntaxError):
        return True  # cannot tell: assume the worst
    lines = ("(" + text).split("\n")
    line_starts = [0]
    for line in lines:
        line_starts.append(line_starts[-1] + len(line) + 1)
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        at = start + line_starts[token.start[0] - 1] + token.start[1] - 1  # -1: the "(" put in front
        if not keep[0] <= at < keep[1]:
            return True
    return False


def _offsets(source: Source, where: Target) -> tuple[int, int]:
    start = source.line_starts[where.row - 1] + where.column
    end = source.line_starts[where.end_row - 1] + where.end_column
    return start, end
