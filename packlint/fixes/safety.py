"""Conditions shared by several fixes' safety: what else reads a value a fix would change."""

from __future__ import annotations

import ast

from packlint.facts import FileFacts, Kind, Nodes, PackCall, called_name

# A PackedSequence's fields that show its internal (sorted) order: a fix that changes that order
# (`enforce_sorted=False` sorts inside the call) changes what code reading them sees.
PACKED_FIELDS = frozenset(("data", "batch_sizes", "sorted_indices", "unsorted_indices"))
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_AXIS_SWAPS = frozenset("transpose permute t swapaxes swapdims movedim moveaxis T mT".split())
# Calls that may rebuild a tensor in another layout: `einops.rearrange(x, "b t d -> t b d")`,
# `torch.stack(x.unbind(1))`, `torch.einsum("btd->tbd", x)`.
_LAYOUT_CALLS = frozenset("rearrange einsum unbind stack".split())


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
    if facts.derived(_rebuilds_packed):
        return True
    scope = enclosing_scope(facts, call.node)
    handed_on = scope is facts.tree or any(isinstance(n, (ast.Return, ast.Yield)) for n in facts.nodes.subtree(scope))
    if handed_on:
        return facts.derived(_reads_packed_fields)
    return any(isinstance(n, ast.Attribute) and n.attr in PACKED_FIELDS for n in facts.nodes.subtree(scope))


def _rebuilds_packed(facts: FileFacts) -> bool:
    # Whether the file reads a packed value's indices or rebuilds one anywhere (once per file).
    for node in facts.nodes.subtree(facts.tree):
        if isinstance(node, ast.Call) and _name(node.func) == "PackedSequence":
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("batch_sizes", "sorted_indices", "unsorted_indices"):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_replace":
            return True  # `packed._replace(data=...)`: a rebuild by namedtuple
    return False


def _reads_packed_fields(facts: FileFacts) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr in PACKED_FIELDS for n in facts.nodes.subtree(facts.tree))


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def swaps_axes(facts: FileFacts, node: ast.AST) -> bool:
    """Whether the function around `node`, or a same-file helper it calls, may change a layout
    (a transpose, `rearrange`, `stack(x.unbind(1))`): then a layout may change unseen."""
    scope: ast.AST | None = node
    while scope is not None and not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
        scope = facts.parent(scope)
    if scope is None:
        return True
    helpers = facts.derived(_layout_changing_functions)
    return any(changes_layout(n) or called_name(n) in helpers for n in facts.nodes.subtree(scope))


def changes_layout(node: ast.AST) -> bool:
    """`x.transpose(0, 1)`, `x.T`, `rearrange(...)`, `x.unbind(1)`, `torch.stack(...)`."""
    if isinstance(node, ast.Attribute) and node.attr in _AXIS_SWAPS:
        return True
    return called_name(node) in _LAYOUT_CALLS


def layout_changing_functions(tree: ast.Module, nodes: Nodes | None = None) -> set[str]:
    """Names of this file's functions (and methods) that may change a layout, directly or through
    another such function (to a fixed point)."""
    nodes = nodes if nodes is not None else Nodes(tree)
    functions = nodes.inside(tree, ast.FunctionDef, ast.AsyncFunctionDef)
    # Each function is walked once: whether it changes a layout itself, and which names it calls.
    direct: list[bool] = []
    calls: list[set[str]] = []
    for function in functions:
        changes = False
        called: set[str] = set()
        for n in nodes.subtree(function):
            changes = changes or changes_layout(n)
            name = called_name(n)
            if name is not None:
                called.add(name)
        direct.append(changes)
        calls.append(called)
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for function, changes, called in zip(functions, direct, calls):
            if function.name not in found and (changes or not called.isdisjoint(found)):
                found.add(function.name)
                changed = True
    return found


def _layout_changing_functions(facts: FileFacts) -> set[str]:
    return layout_changing_functions(facts.tree, facts.nodes)


def layout_doubtful(facts: FileFacts, call: PackCall) -> bool:
    """Whether a `pack_padded_sequence` call's batch may not be in the layout its `batch_first`
    says: not a padded batch seen with that layout, in a function that changes layouts. There a
    crash on sorting can be the only sign of a transposed batch; `enforce_sorted=False` would make
    it run, silently wrong when batch size and length agree."""
    if call.function != "pack_padded_sequence":
        return False
    batch = call.input
    if batch.kind is Kind.BATCH and batch.batch_first is not None and batch.batch_first == call.batch_first:
        return False
    return swaps_axes(facts, call.node)


# The rule pages' account of the two conditions above, for every rule whose fix is
# `enforce_sorted=False` (PKL104, PKL107): one copy, kept beside the checks it describes, and
# appended to each rule's "Fix safety" section (Rule.fix_safety_shared).
ENFORCE_SORTED_UNSAFE = (
    "Unsafe when code may read the packed value's own order: its `.data`, `.batch_sizes` or sort\n"
    "indices (in the function that packs it, or anywhere in the file when the function hands it on),\n"
    "or a `PackedSequence(...)` rebuilt from those fields, which drops the sort indices. There rows\n"
    "come out in the sorted order instead of the batch's, and an unsorted batch goes from a\n"
    "`RuntimeError` to silently misordered results. Unsafe as well where the function changes\n"
    "layouts (a transpose) and the batch is not a padded batch seen in the layout the call says:\n"
    "the sorting error may be the only sign of a transposed batch, which would then run silently\n"
    "wrong when its size equals its length."
)
