"""PKL206: a slice of a multi-layer bidirectional `h_n` that picks a layer other than the last."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import FileFacts, Kind, SubscriptRead
from packlint.fixes.changes import replace_expression
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule


class MultiLayerBidirectionalSlice(Rule):
    """
    ## What it does
    Reports `h_n[0]`, `h_n[1]`, `h_n[:2]` and other constant indices or slices of the final state
    (`h_n` or `c_n`) of an `nn.LSTM`/`nn.GRU`/`nn.RNN` built in the file with a literal
    `bidirectional=True` and `num_layers` greater than 1, when they select entries of a layer other
    than the last.

    ## Why is this bad?
    `h_n` is `[num_layers * 2, B, H]`, layer-major and direction-minor: index `2k` is layer `k`'s
    forward direction and `2k + 1` its backward one. With two layers `h_n[0]` and `h_n[1]` are the
    *first* layer, and `h_n[:2]` both directions of it, not the top of the network that the rest of
    the model was meant to read. Nothing fails: the shapes are those of the last layer, and the model
    silently trains on its lowest layer's summary (measured with torch 2.13, 2-layer LSTM, hidden 5:
    `torch.cat((h_n[0], h_n[1]), 1)` differs from `torch.cat((h_n[-2], h_n[-1]), 1)` by up to 0.53).
    The last layer's two directions are `h_n[-2]` and `h_n[-1]` (or `h_n.view(layers, 2, B, H)[-1]`).

    ## Example
    ```python
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.lstm = nn.LSTM(dim, dim, num_layers=2, bidirectional=True)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return torch.cat((h_n[0], h_n[1]), dim=-1)
    ```

    ## Use instead
    ```python
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.lstm = nn.LSTM(dim, dim, num_layers=2, bidirectional=True)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return torch.cat((h_n[-2], h_n[-1]), dim=-1)
    ```

    ## Fix safety
    Unsafe: the fix moves a constant index to the same direction of the last layer (`h_n[0]` to
    `h_n[-2]`, `h_n[1]` to `h_n[-1]`), which changes what the model computes (that is the point) and
    what saved weights were trained on. Offered only where `h_n` is a plain name and every constant
    index of it in the function still names a different entry afterwards; none for slices
    (`h_n[:2]` handed to a decoder may mean a per-layer initial state, which needs a decision).
    """

    code = "PKL206"
    name = "multi-layer-bidirectional-slice"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        for read in facts.subscripts:
            base = read.base
            layers = base.num_layers
            if base.kind is not Kind.STATE or base.bidirectional is not True or layers is None or layers < 2:
                continue
            entries = 2 * layers
            picked = selected(first_index(read.node), entries)
            if not picked or picked <= {entries - 2, entries - 1}:
                continue  # the last layer (`h_n[-2:]`, `h_n[-1]`: PKL202 judges `h_n[-1]` alone)
            siblings = constant_reads(facts, read)
            if set().union(*(selected(first_index(s.node), entries) or set() for s in siblings)) >= set(range(entries)):
                continue  # every layer is read: the code combines all of them on purpose
            written = text_of(ctx.source, read.node)
            rnn = base.rnn_type or "RNN"
            yield self.diagnostic(
                ctx,
                read.node,
                f"`{written}` of a {layers}-layer bidirectional {rnn} is {describe(picked, entries)}: `h_n` is "
                "ordered layer by layer, forward then backward; the last layer is `[-2]` and `[-1]`",
                self.fix(ctx, read, siblings, entries),
            )

    def fix(self, ctx: Context, read: SubscriptRead, siblings: list[SubscriptRead], entries: int) -> Fix | None:
        index = first_index(read.node)
        if not isinstance(read.node.value, ast.Name) or index is None or constant(index) is None:
            return None
        originals: list[int] = []
        for other in siblings:
            picked = selected(first_index(other.node), entries)
            if picked is None or len(picked) != 1:
                return None  # a slice beside it: which entries are meant is not clear
            originals.extend(picked)
        mapped = {entry if entry >= entries - 2 else entries - 2 + entry % 2 for entry in originals}
        if len(mapped) != len(set(originals)):
            return None  # `h_n[0]` and `h_n[2]` would both become `h_n[-2]`
        forward = (constant(index) or 0) % 2 == 0
        new = "-2" if forward else "-1"
        return self.unsafe_fix(
            f"Read the last layer's {'forward' if forward else 'backward'} direction: `[{new}]`",
            replace_expression(ctx.source, index, new),
        )


def first_index(node: ast.Subscript) -> ast.expr | None:
    """The index of the first axis: `0` of `h_n[0, :, :]`."""
    index = node.slice
    if isinstance(index, ast.Tuple):
        return index.elts[0] if index.elts else None
    return index


def constant(node: ast.expr | None) -> int | None:
    """An integer literal, negative ones included."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sign * node.value
    return None


def selected(index: ast.expr | None, entries: int) -> set[int] | None:
    """The entries of the first axis a constant index or a contiguous constant slice selects."""
    if isinstance(index, ast.Slice):
        if index.step is not None and constant(index.step) != 1:
            return None  # `h_n[::2]`: one direction of every layer, a deliberate choice
        bounds = []
        for bound in (index.lower, index.upper):
            value = constant(bound)
            if bound is not None and value is None:
                return None
            bounds.append(value)
        return set(range(entries)[slice(bounds[0], bounds[1])])
    value = constant(index)
    if value is None or not -entries <= value < entries:
        return None
    return {value % entries}


def constant_reads(facts: FileFacts, read: SubscriptRead) -> list[SubscriptRead]:
    """Reads of the same state name in the same function with a constant index (`read` included)."""
    base = read.node.value
    if not isinstance(base, ast.Name):
        return [read]
    scope = facts.enclosing_function(read.node)
    found = []
    for other in facts.subscripts:
        node = other.node
        if other.base.kind is not Kind.STATE or not isinstance(node.value, ast.Name) or node.value.id != base.id:
            continue
        if facts.enclosing_function(node) is scope and selected(first_index(node), 2 * (read.base.num_layers or 1)):
            found.append(other)
    return found or [read]


def describe(picked: set[int], entries: int) -> str:
    """`layer 0's forward direction`, `both directions of layer 0`, ..."""
    layers = sorted({entry // 2 for entry in picked})
    if len(picked) == 1:
        (entry,) = picked
        return f"layer {entry // 2}'s {'forward' if entry % 2 == 0 else 'backward'} direction"
    if picked == {2 * k + d for k in layers for d in (0, 1)}:
        names = ", ".join(str(k) for k in layers)
        return f"both directions of layer{'s' if len(layers) > 1 else ''} {names}"
    return f"entries {', '.join(str(e) for e in sorted(picked))} (layers {', '.join(str(k) for k in layers)})"
