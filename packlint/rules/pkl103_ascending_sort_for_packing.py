"""PKL103: lengths sorted ascending, then packed with `enforce_sorted=True`."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import FileFacts, Order, PackCall, SortSite
from packlint.fixes.changes import Change, replace_expression, set_keyword
from packlint.fixes.edits import text_of
from packlint.fixes.safety import reads_packed_internals, swaps_axes
from packlint.rules.base import Context, Rule

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
    The fix adds `descending=True` (or `reverse=True`) to the sort, or negates the written flag.
    It is safe only when the sort reorders both the batch and its lengths and nothing else reads
    the sorted order: a tensor sort written as its own statement, whose permutation also indexes
    the packed batch, whose results feed nothing but packing, indexing or an inversion, and no
    value leaves the function in the sorted order. Then the flip changes no result, it only makes
    packing accept the order. Where the function also transposes (the inversion may then undo the
    sort on the wrong axis) or rebuilds the PackedSequence, the fix is unsafe.

    When the sort sits inside the pack call (`torch.sort(lengths)[0]`) or only the lengths are
    sorted, the batch itself keeps its order: flipping the sort would turn a loud `RuntimeError`
    into rows packed with other rows' lengths, so no fix is offered (`enforce_sorted=False` on
    unsorted lengths is the repair). A sort of the sequences themselves (`sorted(seqs, key=len)`)
    gets an unsafe fix when its result feeds only packing: `reverse=True` makes the code run, but
    every result then comes out longest first instead of shortest first, which code downstream may
    rely on; when other values (labels) are sorted with it, no fix is offered.
    """

    code = "PKL103"
    name = "ascending-sort-for-packing"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        for call in facts.pack_calls:
            if call.opaque or call.enforce_sorted is not True or call.lengths.order is not Order.ASCENDING:
                continue
            site = facts.sorts[call.lengths.sort_site] if call.lengths.sort_site is not None else None
            fix = self.fix(ctx, site, call) if site is not None else None
            what = "the lengths"
            if call.function == "pack_sequence":
                what = "the sequences"
            elif call.lengths_node is not None:
                what = f"the lengths `{text_of(ctx.source, call.lengths_node)}`"
            how = f" by `{text_of(ctx.source, site.node)}`" if site is not None else ""
            yield self.diagnostic(
                ctx, call.node, f"{what} are sorted ascending{how} but `enforce_sorted` is on; sort descending", fix
            )

    def fix(self, ctx: Context, site: SortSite, call: PackCall) -> Fix | None:
        """Turn the sort around: `descending=True`, `reverse=True`, or the written flag negated."""
        safety = flip_safety(ctx.facts, site, call)
        if safety is None:
            return None
        flip = str(not site.descending)
        if site.flag_node is not None:
            change: Change = replace_expression(ctx.source, site.flag_node, flip)
        else:
            change = set_keyword(ctx.source, site.node, site.flag, flip)
        message = f"Sort with `{site.flag}={flip}`"
        return self.safe_fix(message, change) if safety else self.unsafe_fix(message, change)


def flip_safety(facts: FileFacts, site: SortSite, call: PackCall) -> bool | None:
    """True: flipping the sort is safe; False: it runs but reorders results; None: no fix."""
    if site.flag == "reverse":
        # `sorted(seqs, key=len)`: the sequences carry their lengths, but results follow the new order.
        if call.function == "pack_sequence" or any(k.arg == "key" for k in site.node.keywords):
            return False if only_feeds_packing(facts, site) else None
        return None  # `sorted(lengths)`: a list of lengths sorted alone, the batch keeps its order
    if inside_pack_call(facts, site.node):
        return None  # `pack(x, torch.sort(lengths)[0])`: the batch was never reordered
    token = call.lengths.perm
    if not token or call.input.perm != token:
        return None  # the lengths are sorted but the batch is not reordered with them (PKL102)
    if not only_feeds_packing(facts, site):
        return False
    if any(v.perm == token for e in facts.exits for v in e.values):
        return False  # something leaves the function in the sorted order: flipping reverses it
    if swaps_axes(facts, site.node) or reads_packed_internals(facts, call):
        # `out.transpose(0, 1)[perm.argsort()]` undoes the sort on the wrong axis, and a rebuilt
        # PackedSequence drops its indices: the crash may be all that stands before a wrong result.
        return False
    return True


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
