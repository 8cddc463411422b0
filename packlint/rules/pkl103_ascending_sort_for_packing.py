"""PKL103: lengths sorted ascending, then packed with `enforce_sorted=True`."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import FileFacts, Order, SortSite
from packlint.fixes.edits import replace_node, set_keyword, text_of
from packlint.rules.base import Context, Rule
from packlint.rules.triggers import PACKING

# Calls and methods that hand on a value in the same order: `lengths.cpu()`, `torch.as_tensor(l)`.
_SAME_ORDER_METHODS = frozenset("cpu cuda to long int tolist contiguous detach clone numpy".split())
_SAME_ORDER_CALLS = frozenset("list tuple tensor as_tensor LongTensor pad_sequence zip".split())
_INVERTING_METHODS = frozenset(("argsort", "sort"))
_DEPTH = 4


class AscendingSortForPacking(Rule):
    """
    ## What it does
    Reports a pack call that enforces sorting (`enforce_sorted=True`, written or by default) on
    lengths that were sorted in ascending order: `torch.sort(lengths)`, `lengths.sort()`,
    `seqs.sort(key=len)` or `sorted(seqs, key=len)`.

    ## Why is this bad?
    Every sort is ascending unless told otherwise, but packing with `enforce_sorted=True` needs the
    longest sequence first. The call raises `RuntimeError: 'lengths' array must be sorted in
    decreasing order when 'enforce_sorted' is True` on every batch whose lengths are not all equal.

    ## Example
    ```python
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence

    def pack_batch(padded, lengths):
        lengths, perm = torch.sort(lengths)
        return pack_padded_sequence(padded[perm], lengths, batch_first=True), perm
    ```

    ## Use instead
    ```python
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence

    def pack_batch(padded, lengths):
        lengths, perm = torch.sort(lengths, descending=True)
        return pack_padded_sequence(padded[perm], lengths, batch_first=True), perm
    ```

    ## Fix safety
    Safe: the fix adds `descending=True` (or `reverse=True`) to the sort. It is offered only when
    the sort is a single call whose results feed nothing but packing: the sorted lengths reach only
    the pack call and the permutation is only used to index, or to be inverted, so flipping the
    direction changes no other result. Otherwise passing `enforce_sorted=False` may be simpler.
    """

    code = "PKL103"
    name = "ascending-sort-for-packing"
    triggers = PACKING
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        for call in facts.pack_calls:
            if call.opaque or call.enforce_sorted is not True or call.lengths.order is not Order.ASCENDING:
                continue
            site = facts.sorts[call.lengths.sort_site] if call.lengths.sort_site is not None else None
            fix = self.fix(ctx, site) if site is not None and only_feeds_packing(facts, site) else None
            what = "the lengths"
            if call.function == "pack_sequence":
                what = "the sequences"
            elif call.lengths_node is not None:
                what = f"the lengths `{text_of(ctx.source, call.lengths_node)}`"
            how = f" by `{text_of(ctx.source, site.node)}`" if site is not None else ""
            yield self.diagnostic(
                ctx, call.node, f"{what} are sorted ascending{how} but `enforce_sorted` is on; sort descending", fix
            )

    def fix(self, ctx: Context, site: SortSite) -> Fix:
        """Turn the sort around: `descending=True`, `reverse=True`, or the written flag negated."""
        flip = str(not site.descending)
        if site.flag_node is not None:
            edit = replace_node(ctx.source, site.flag_node, flip)
        else:
            edit = set_keyword(ctx.source, site.node, site.flag, flip)
        return self.safe_fix(f"Sort with `{site.flag}={flip}`", edit)


def only_feeds_packing(facts: FileFacts, site: SortSite) -> bool:
    """Whether every result of the sort goes only into packing, into indexing, or into an inversion."""
    if inside_pack_call(facts, site.node):
        return True
    statement = site.statement
    value = statement.value if isinstance(statement, (ast.Assign, ast.Expr)) else None
    if value is not site.node:
        return False  # `torch.sort(x)[0].cpu()` and the like: the bindings hold something derived
    made = bindings_by_statement(facts)
    return all(binding_only_feeds_packing(facts, b, made, _DEPTH) for b in site.bindings)


def bindings_by_statement(facts: FileFacts) -> dict[int, list[int]]:
    """Statement id -> the bindings it made."""
    made: dict[int, list[int]] = {}
    for binding, made_by in facts.bindings.items():
        made.setdefault(id(made_by.node), []).append(binding)
    return made


def binding_only_feeds_packing(facts: FileFacts, binding: int, made: dict[int, list[int]], depth: int) -> bool:
    """Every use of `binding` is in a pack call, an index, an inversion, or an order-keeping step to such."""
    name = facts.bindings[binding].name
    if name == "_":
        return True
    if depth == 0:
        return False
    for use in facts.uses.get(binding, []):
        if inside_pack_call(facts, use):
            continue
        node = climb_same_order(facts, use)
        parent = facts.parent(node)
        if is_index(parent, node) or is_inversion(facts, parent, node):
            continue
        if isinstance(parent, ast.Assign) and parent.value is node:
            if all(binding_only_feeds_packing(facts, b, made, depth - 1) for b in made.get(id(parent), [])):
                continue
        return False
    return True


def climb_same_order(facts: FileFacts, node: ast.AST) -> ast.AST:
    """The largest expression around `node` that only converts it or maps over it in order."""
    while True:
        parent = facts.parent(node)
        if isinstance(parent, ast.Attribute) and parent.attr in _SAME_ORDER_METHODS:
            call = facts.parent(parent)
            if isinstance(call, ast.Call) and call.func is parent:
                node = call
                continue
        if isinstance(parent, ast.Starred):
            node = parent
            continue
        if (
            isinstance(parent, ast.Call)
            and parent.args
            and parent.args[0] is node
            and called(parent) in _SAME_ORDER_CALLS
        ):
            node = parent
            continue
        if isinstance(parent, ast.comprehension) and parent.iter is node:
            comp = facts.parent(parent)
            if isinstance(comp, (ast.ListComp, ast.GeneratorExp)) and len(comp.generators) == 1:
                node = comp
                continue
        return node


def called(call: ast.Call) -> str | None:
    """The last name of what `call` calls: `tensor` for `torch.tensor(...)`."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def is_index(parent: ast.AST | None, node: ast.AST) -> bool:
    """`x[perm]`, `x[:, perm]`, `x.index_select(0, perm)`."""
    if isinstance(parent, ast.Subscript):
        return parent.slice is node or (isinstance(parent.slice, ast.Tuple) and node in parent.slice.elts)
    if isinstance(parent, ast.Call) and called(parent) == "index_select":
        return node in parent.args[1:] and isinstance(parent.func, ast.Attribute)
    return False


def is_inversion(facts: FileFacts, parent: ast.AST | None, node: ast.AST) -> bool:
    """`perm.argsort()`, `perm.sort()`, `torch.argsort(perm)`."""
    if isinstance(parent, ast.Attribute) and parent.attr in _INVERTING_METHODS:
        call = facts.parent(parent)
        return isinstance(call, ast.Call) and call.func is parent
    return isinstance(parent, ast.Call) and called(parent) in _INVERTING_METHODS and parent.args[:1] == [node]


def inside_pack_call(facts: FileFacts, node: ast.AST) -> bool:
    """Whether `node` is part of an argument of a pack call."""
    return facts.within(node, {id(call.node) for call in facts.pack_calls})
