"""PKL106: a hand-written sort and unsort around packing that `enforce_sorted=False` does for you."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import FileFacts, Order, PackCall, Perm, SortSite
from packlint.fixes.changes import Change, remove_statement, set_keyword, wrap_expression
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule

_INVERTING = frozenset(("argsort", "sort"))


class ManualSortForPacking(Rule):
    """
    ## What it does
    Reports a sort of the lengths (and the batch with them) done by hand before a pack call, when
    the same function also undoes it on the RNN's results: exactly the work that
    `enforce_sorted=False` makes PyTorch do.

    ## Why is this bad?
    The manual sort and unsort are extra lines where the two permutations, the batch, its
    lengths and every result must be kept in step; forgetting one of them is silent (see
    PKL102 and PKL105). Since PyTorch 1.1 `enforce_sorted=False` sorts inside the pack call and
    gives outputs and final states back in the batch's order.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths):
        lengths, perm = lengths.sort(descending=True)
        padded = padded[perm]
        packed = pack_padded_sequence(padded, lengths, batch_first=True)
        _, h_n = gru(packed)
        h_n = h_n[:, perm.argsort()]
        return h_n[-1]
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths):
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        _, h_n = gru(packed)
        return h_n[-1]
    ```

    ## Fix safety
    Unsafe: the fix deletes the sort, every `x = x[perm]` that applies the permutation or its
    inverse, and the line that computes the inverse, then passes `enforce_sorted=False`. It is
    offered only for that plain pattern: the sort rebinds the name it sorts (`lengths, perm =
    lengths.sort(...)`), the sorted lengths go only to the pack call, the permutation is used
    nowhere else, and nothing leaves the function in sorted order. Code that read the sorted order
    on purpose (for example ONNX export, which needs `enforce_sorted=True`) would change.
    """

    code = "PKL106"
    name = "manual-sort-for-packing"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        reported: set[int] = set()
        for call in facts.pack_calls:
            token = call.lengths.perm
            site_index = call.lengths.sort_site
            if call.opaque or token is None or token.token is None or site_index is None:
                continue
            if call.input.perm != token or call.lengths.order is not Order.DESCENDING:
                continue  # misaligned (PKL102) or not a sort for packing
            unsort = token.inverse()
            if not any(r.perm == unsort and r.base.from_rnn for r in facts.reorders):
                continue  # nothing undone here: a collate that sorts for its caller, or PKL105
            site = facts.sorts[site_index]
            if id(site.node) in reported:
                continue
            reported.add(id(site.node))
            packs = [c for c in facts.pack_calls if c.lengths.perm == token]
            fix = self.fix(ctx, site, token, packs)
            perm = facts.perm_label(token)
            yield self.diagnostic(
                ctx,
                site.node,
                f"`{text_of(ctx.source, site.node)}` and the inverse of `{perm}` do what "
                "`enforce_sorted=False` does inside the pack call; drop both and pass `enforce_sorted=False`",
                fix,
            )

    def fix(self, ctx: Context, site: SortSite, token: Perm, packs: list[PackCall]) -> Fix | None:
        """Delete the sort and its uses, and pass `enforce_sorted=False`; None outside the plain pattern."""
        plan = plan_removal(ctx.facts, site, token, packs)
        if plan is None:
            return None
        changes: list[Change] = [remove_statement(ctx.source, stmt) for stmt in plan.statements]
        for indexed, base in plan.inline:
            changes.append(wrap_expression(ctx.source, indexed, "{}", inner=base))
        for call in packs:
            if call.enforce_sorted is not False:
                changes.append(set_keyword(ctx.source, call.node, "enforce_sorted", "False", 3))
        return self.unsafe_fix("Drop the manual sort and pass `enforce_sorted=False`", *changes)


@dataclass
class Removal:
    """What the fix deletes: whole statements, and `x[perm]` written inline (kept as `x`)."""

    function: ast.AST
    packs: set[int]  # ids of the pack calls that get `enforce_sorted=False`
    lengths_names: set[str]  # names the pack calls read their lengths from
    statements: list[ast.stmt] = field(default_factory=list)
    inline: list[tuple[ast.expr, ast.expr]] = field(default_factory=list)


def plan_removal(facts: FileFacts, site: SortSite, token: Perm, packs: list[PackCall]) -> Removal | None:
    """The statements and inline indexings to remove, when the sort is used in the plain pattern only."""
    if token.token in facts.escaped or any(c.function != "pack_padded_sequence" or c.opaque for c in packs):
        return None
    if any(v.perm in (token, token.inverse()) for e in facts.exits for v in e.values):
        return None  # something leaves in sorted order: deleting the sort would change it
    stmt = site.statement
    function = facts.parent(stmt)
    if not isinstance(stmt, ast.Assign) or stmt.value is not site.node or len(stmt.targets) != 1:
        return None
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    names = sort_targets(stmt, site.node)
    if names is None:
        return None
    values_name, perm_name = names
    lengths_names = {n for c in packs if (n := name_read(c.lengths_node)) is not None}
    removal = Removal(function, {id(c.node) for c in packs}, lengths_names, [stmt])
    for binding in site.bindings:
        name = facts.bindings[binding].name
        uses = facts.uses.get(binding, [])
        if name == values_name and not all(facts.within(use, removal.packs) for use in uses):
            return None  # the sorted lengths are read for something else
        if name == perm_name and not all(remove_use(facts, use, removal) for use in uses):
            return None
    return removal


def sort_targets(stmt: ast.Assign, call: ast.Call) -> tuple[str | None, str] | None:
    """(sorted values name, permutation name) for `l, p = l.sort(...)`, or (None, p) for `p = l.argsort(...)`."""
    target = stmt.targets[0]
    method = called(call)
    if isinstance(target, ast.Name) and method == "argsort":
        return None, target.id
    if not (isinstance(target, ast.Tuple) and len(target.elts) == 2 and method == "sort"):
        return None
    values, perm = target.elts
    if isinstance(values, ast.Name) and isinstance(perm, ast.Name) and values.id in sorted_sources(call):
        return values.id, perm.id
    return None


def sorted_sources(call: ast.Call) -> set[str]:
    """The names a sort call may sort: `lengths` in `lengths.sort()` or in `torch.sort(lengths)`."""
    names = set()
    if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
        names.add(call.func.value.id)
    if call.args and isinstance(call.args[0], ast.Name):
        names.add(call.args[0].id)
    return names


def name_read(node: ast.expr | None) -> str | None:
    """`lengths` for `lengths`, `lengths.cpu()` or `lengths.to("cpu")`."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        node = node.func.value
    return node.id if isinstance(node, ast.Name) else None


def remove_use(facts: FileFacts, use: ast.Name, removal: Removal) -> bool:
    """Plan to remove one use of the permutation; False when it is not part of the plain pattern."""
    indexed = applied_index(facts, use)
    if indexed is not None:
        return remove_indexing(facts, indexed, removal, sorting=inversion_of(facts, use) is None)
    # `inverse = perm.argsort()` or `_, inverse = perm.sort()`: remove it and each `y = y[inverse]`.
    inversion = inversion_of(facts, use)
    statement = facts.parent(inversion) if inversion is not None else None
    if not isinstance(statement, ast.Assign) or statement.value is not inversion or len(statement.targets) != 1:
        return False
    if facts.parent(statement) is not removal.function:
        return False
    target = statement.targets[0]
    if called(inversion) == "sort":
        if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
            return False
        first, target = target.elts
        if not (isinstance(first, ast.Name) and first.id == "_"):
            return False
    if not isinstance(target, ast.Name):
        return False
    removal.statements.append(statement)
    for binding, made_by in facts.bindings.items():
        name, node = made_by.name, made_by.node
        if node is statement and name == target.id:
            for inner in facts.uses.get(binding, []):
                indexed = applied_index(facts, inner)
                if indexed is None or not remove_indexing(facts, indexed, removal, sorting=False):
                    return False
    return True


def remove_indexing(facts: FileFacts, indexed: ast.expr, removal: Removal, sorting: bool) -> bool:
    """Plan to remove `x = x[perm]` (the whole statement) or an inline `x[perm]` (kept as `x`)."""
    base = base_of(indexed)
    statement = facts.parent(indexed)
    if isinstance(statement, ast.Assign) and statement.value is indexed:
        target = statement.targets[0] if len(statement.targets) == 1 else None
        if not (isinstance(target, ast.Name) and isinstance(base, ast.Name) and target.id == base.id):
            return False
        if facts.parent(statement) is not removal.function:
            return False
        if sorting and target.id in removal.lengths_names:
            # `lengths = lengths[perm]`: after the fix these are the caller's lengths, so they
            # may only be read by the pack call (not as `lengths[0]`, the longest).
            made = [b for b, m in facts.bindings.items() if m.node is statement and m.name == target.id]
            if not all(facts.within(use, removal.packs) for b in made for use in facts.uses.get(b, [])):
                return False
        removal.statements.append(statement)
        return True
    enclosing = enclosing_statement(facts, indexed)
    if not (facts.within(indexed, removal.packs) or isinstance(enclosing, ast.Return)):
        return False
    removal.inline.append((indexed, base))  # `pack(x[perm], ...)` or `return y[inverse]`
    return True


def applied_index(facts: FileFacts, use: ast.AST) -> ast.expr | None:
    """`x[perm]`, `x[:, perm]`, `x.index_select(d, perm)` or `x[perm.argsort()]` around `use`."""
    index: ast.AST = use
    inversion = inversion_of(facts, use)
    if inversion is not None:
        index = inversion
        parent = facts.parent(index)
        if isinstance(parent, ast.Subscript) and parent.value is index:  # `perm.sort()[1]`
            index = parent
    parent = facts.parent(index)
    if isinstance(parent, ast.Tuple):
        elts = parent.elts
        if not elts or elts[-1] is not index or not all(is_full_slice(e) for e in elts[:-1]):
            return None
        index, parent = parent, facts.parent(parent)
    if isinstance(parent, ast.Subscript) and parent.slice is index:
        return parent
    if (
        isinstance(parent, ast.Call)
        and isinstance(parent.func, ast.Attribute)
        and parent.func.attr == "index_select"
        and len(parent.args) == 2
        and parent.args[1] is index
        and not parent.keywords
    ):
        return parent
    return None


def inversion_of(facts: FileFacts, use: ast.AST) -> ast.Call | None:
    """The call `perm.argsort()` or `perm.sort()` with `use` as `perm`, if that is the shape."""
    parent = facts.parent(use)
    if not (isinstance(parent, ast.Attribute) and parent.attr in _INVERTING):
        return None
    call = facts.parent(parent)
    if not (isinstance(call, ast.Call) and call.func is parent and not call.keywords and len(call.args) <= 1):
        return None
    if parent.attr == "sort":
        outer = facts.parent(call)
        indexed = isinstance(outer, ast.Subscript) and isinstance(outer.slice, ast.Constant) and outer.slice.value == 1
        if not (indexed or isinstance(outer, ast.Assign)):
            return None
    return call


def called(call: ast.Call) -> str | None:
    """The last name of what `call` calls."""
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return call.func.id if isinstance(call.func, ast.Name) else None


def base_of(indexed: ast.expr) -> ast.expr:
    """`x` in `x[perm]` or `x.index_select(0, perm)`."""
    if isinstance(indexed, ast.Subscript):
        return indexed.value
    assert isinstance(indexed, ast.Call) and isinstance(indexed.func, ast.Attribute)
    return indexed.func.value


def is_full_slice(node: ast.expr) -> bool:
    """`:`."""
    return isinstance(node, ast.Slice) and node.lower is None and node.upper is None and node.step is None


def enclosing_statement(facts: FileFacts, node: ast.AST) -> ast.AST | None:
    """The statement `node` is part of."""
    current: ast.AST | None = node
    while current is not None and not isinstance(current, ast.stmt):
        current = facts.parent(current)
    return current
