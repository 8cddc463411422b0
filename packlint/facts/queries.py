"""Queries over finished facts that more than one rule asks."""

from __future__ import annotations

import ast

from packlint.facts.events import SubscriptRead
from packlint.facts.file_facts import FileFacts
from packlint.facts.syntax import called_name, index_pattern
from packlint.facts.values import Kind, Value

BATCH_FIRST_LAST = frozenset({(":", -1), (":", -1, ":")})
TIME_FIRST_LAST = frozenset({(-1,), (-1, ":"), (-1, ":", ":")})


def last_step(facts: FileFacts, read: SubscriptRead) -> bool:
    """Whether `read` takes the last time step of a RNN output of known layout."""
    base = read.base
    if base.kind is not Kind.OUTPUT or base.batch_first is None or not _whole_batch_call(facts, base):
        return False
    pattern = index_pattern(read.node)
    return pattern in (BATCH_FIRST_LAST if base.batch_first else TIME_FIRST_LAST)


# Calls that keep a tensor's values (device, dtype, layout): chased through when reading an index.
_VALUE_KEEPING = frozenset({"cuda", "cpu", "to", "long", "int", "type", "detach", "contiguous"})
_CHASE_DEPTH = 8


def last_valid_step(facts: FileFacts, read: SubscriptRead) -> bool:
    """Whether `read` gathers each sequence's last valid step of a RNN output of known layout:
    `out[arange(B), lengths - 1]` (time-first `out[lengths - 1, arange(B)]`), every feature kept."""
    base = read.base
    if base.kind is not Kind.OUTPUT or base.batch_first is None or not _whole_batch_call(facts, base):
        return False
    node = read.node
    elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if len(elements) != len(read.indices) or len(elements) not in (2, 3):
        return False
    if len(elements) == 3 and index_pattern(node)[2] != ":":
        return False  # `out[rows, ends, :h]`: one direction's half, chosen on purpose
    time, batch = (1, 0) if base.batch_first else (0, 1)
    ends = _minus_one(facts, elements[time], _CHASE_DEPTH)
    if ends is None or not _row_range(facts, elements[batch], _CHASE_DEPTH):
        return False
    return read.indices[time].kind is Kind.LENGTHS or _packed_lengths(facts, read, ends)


def _packed_lengths(facts: FileFacts, read: SubscriptRead, ends: ast.expr) -> bool:
    """`ends` is (a value-keeping call of) the name of lengths that a pack call in the same
    function was given, or that goes with the output."""
    for _ in range(_CHASE_DEPTH):
        inner = _chased(facts, ends)
        if inner is None:
            break
        ends = inner
    if not isinstance(ends, ast.Name):
        return False
    names = {read.lengths_name, read.base.lengths_name}
    scope = facts.enclosing_function(read.node)
    names.update(p.lengths.root for p in facts.pack_calls if facts.enclosing_function(p.node) is scope)
    return ends.id in names


def _whole_batch_call(facts: FileFacts, base: Value) -> bool:
    """Not a step-by-step decoder's call inside a loop: each call sees one step (a whole padded
    batch is another matter)."""
    if base.call is None or not facts.in_loop(base.call):
        return True
    inputs = [c.input.kind for c in facts.rnn_calls if c.node is base.call]
    return bool(inputs) and inputs[0] in (Kind.BATCH, Kind.OUTPUT)


def _minus_one(facts: FileFacts, node: ast.expr, depth: int) -> ast.expr | None:
    """`x` of `x - 1`, seen through names bound once to it and value-keeping calls."""
    if depth == 0:
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
        one = isinstance(node.right, ast.Constant) and type(node.right.value) is int and node.right.value == 1
        return node.left if one else None
    inner = _chased(facts, node)
    return None if inner is None else _minus_one(facts, inner, depth - 1)


def _row_range(facts: FileFacts, node: ast.expr, depth: int) -> bool:
    """`torch.arange(B)` or `range(B)`: one index per row, in order."""
    if depth == 0:
        return False
    if isinstance(node, ast.Call) and called_name(node) in ("arange", "range") and not node.keywords[1:]:
        args = node.args
        if len(args) == 1 or (len(args) == 2 and isinstance(args[0], ast.Constant) and args[0].value == 0):
            return True  # `arange(B)`, `arange(0, B)`; a `device=` or `dtype=` keyword changes no value
    inner = _chased(facts, node)
    return inner is not None and _row_range(facts, inner, depth - 1)


def _chased(facts: FileFacts, node: ast.expr) -> ast.expr | None:
    """What `node` stands for: a name's one assignment, or the receiver of a value-keeping call."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _VALUE_KEEPING:
        return node.func.value
    if not isinstance(node, ast.Name):
        return None
    binding = facts.derived(_binding_of_use).get(id(node))
    if binding is not None:
        statement = facts.bindings[binding].node
        if _assigns(statement, node.id) and isinstance(statement, ast.Assign):
            return statement.value
        return None
    # Several bindings reach the read (`ends = ends.cuda()` under an `if`): the one assignment
    # that is not a value-keeping rebinding of the name itself, if every other one is.
    function = facts.enclosing_function(node)
    if function is None:
        return None
    values: list[ast.expr] = []
    for stored in ast.walk(function):
        if isinstance(stored, ast.Name) and stored.id == node.id and not isinstance(stored.ctx, ast.Load):
            assignment = facts.parent(stored)
            if not isinstance(assignment, ast.Assign) or not _assigns(assignment, node.id):
                return None  # a loop target, a tuple unpacking, `del`: not one plain value
            if not _keeps(assignment.value, node.id):
                values.append(assignment.value)
    return values[0] if len(values) == 1 else None


def _assigns(statement: ast.AST, name: str) -> bool:
    """`name = ...`, one plain target."""
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id == name
    )


def _keeps(value: ast.expr, name: str) -> bool:
    """`name.cuda()`, `name.to(device)`: the name's own value, moved or cast."""
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in _VALUE_KEEPING:
        value = value.func.value
    return isinstance(value, ast.Name) and value.id == name


def _binding_of_use(facts: FileFacts) -> dict[int, int]:
    """The binding each recorded name read saw, by the id of the `ast.Name`."""
    return {id(name): binding for binding, names in facts.uses.items() for name in names}
