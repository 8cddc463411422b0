"""Conditions shared by several fixes' safety: what else reads a value a fix would change."""

from __future__ import annotations

import ast

from packlint.facts import FileFacts, PackCall

# A PackedSequence's fields that show its internal (sorted) order: a fix that changes that order
# (`enforce_sorted=False` sorts inside the call) changes what code reading them sees.
PACKED_FIELDS = frozenset(("data", "batch_sizes", "sorted_indices", "unsorted_indices"))
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def enclosing_scope(facts: FileFacts, node: ast.AST) -> ast.AST:
    """The innermost function around `node`, or the module."""
    current = facts.parent(node)
    while current is not None and not isinstance(current, _FUNCTIONS):
        current = facts.parent(current)
    return current if current is not None else facts.tree


def reads_packed_internals(facts: FileFacts, call: PackCall) -> bool:
    """Whether code may read the packed value's own order: `.data`, `.batch_sizes` and the indices
    in the function that packs (or, when it hands the value on, anywhere in the file), or a
    `PackedSequence(...)` rebuilt anywhere in the file, which drops the sort indices."""
    scope = enclosing_scope(facts, call.node)
    for node in ast.walk(facts.tree):
        if isinstance(node, ast.Call) and _name(node.func) == "PackedSequence":
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("batch_sizes", "sorted_indices", "unsorted_indices"):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_replace":
            return True  # `packed._replace(data=...)`: a rebuild by namedtuple
    handed_on = scope is facts.tree or any(isinstance(n, (ast.Return, ast.Yield)) for n in ast.walk(scope))
    where = facts.tree if handed_on else scope
    return any(isinstance(n, ast.Attribute) and n.attr in PACKED_FIELDS for n in ast.walk(where))


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None
