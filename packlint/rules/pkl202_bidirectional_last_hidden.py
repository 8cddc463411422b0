"""PKL202: the backward half alone taken as a bidirectional RNN's summary of the sequence."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import FileFacts, Kind, SubscriptRead, index_pattern, last_step, last_valid_step
from packlint.fixes.changes import replace_expression
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule

LAST_LAYER = frozenset({(-1,), (-1, ":"), (-1, ":", ":")})


class BidirectionalLastHidden(Rule):
    """
    ## What it does
    Reports `h_n[-1]` (or `h_n[-1, :, :]`) of a bidirectional RNN used on its own, and
    `out[:, -1]` of a bidirectional output (`out[-1]` when it is time-first), or its gather of each
    sequence's last valid step, `out[torch.arange(B), lengths - 1]` (time-first
    `out[lengths - 1, torch.arange(B)]`), with every feature kept. Quiet where the same function
    also reads the other direction: `h_n[-2]` (or `h_n[0]`) of the same state, or the first step
    of the same output (`torch.cat((out[0], out[-1]), -1)`), where the backward half has read it all.

    ## Why is this bad?
    The final state of a bidirectional RNN holds two vectors per layer, forward then backward, so
    `h_n[-1]` is only the backward direction of the last layer: the forward pass over the whole
    sequence is thrown away. In `out[:, -1]` the backward half has seen a single token (the last
    one of the longest sequence), and for shorter sequences both halves are padding (see PKL201).
    Gathering at `lengths - 1` mends the forward half only: there the backward half has still seen a
    single token, each sequence's last. The backward direction's summary is its step 0
    (`out[:, 0, H:]`), or `h_n`. Slicing the forward half (`out[rows, lengths - 1, :H]`) is quiet.

    ## Example
    ```python
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.lstm = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return h_n[-1]
    ```

    ## Use instead
    ```python
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.lstm = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return torch.cat((h_n[-2], h_n[-1]), dim=-1)
    ```

    ## Fix safety
    Unsafe: `torch.cat((h_n[-2], h_n[-1]), dim=-1)` is twice as wide, so the layer that reads it
    must be resized (and retrained). Offered for `h_n[-1]` where `h_n` is a plain name and a name
    for `torch` is imported; `out[:, -1]` and the gather have no automatic fix (which half to keep,
    and how wide the layer after it is, are the author's to choose).
    """

    code = "PKL202"
    name = "bidirectional-last-hidden"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        for read in facts.subscripts:
            if read.base.bidirectional is not True:
                continue
            written = text_of(ctx.source, read.node)
            if read.base.kind is Kind.OUTPUT and first_step_read(facts, read):
                continue  # `cat((out[0], out[-1]))`: the backward summary is at step 0, and it is kept
            if read.base.kind is Kind.OUTPUT and last_step(facts, read):
                padding = ", and for shorter sequences both halves are padding" if read.base.padded else ""
                yield self.diagnostic(
                    ctx,
                    read.node,
                    f"`{written}` of a bidirectional RNN: its backward half has seen only the last step{padding}; "
                    "use the final states `h_n` of both directions",
                )
            elif read.base.kind is Kind.OUTPUT and last_valid_step(facts, read):
                yield self.diagnostic(
                    ctx,
                    read.node,
                    f"`{written}` of a bidirectional RNN: at each sequence's last valid step its backward half "
                    "has seen only that one token; use the final states `h_n` of both directions",
                )
            elif read.base.kind is Kind.STATE and backward_only(facts, read):
                fix = None
                base = read.node.value
                if isinstance(base, ast.Name) and read.torch_name is not None:
                    both = f"{read.torch_name}.cat(({base.id}[-2], {base.id}[-1]), dim=-1)"
                    fix = self.unsafe_fix(
                        f"Concatenate both directions: `{both}`", replace_expression(ctx.source, read.node, both)
                    )
                yield self.diagnostic(
                    ctx,
                    read.node,
                    f"`{written}` of a bidirectional RNN is only the backward direction of the last layer; "
                    "concatenate it with the forward direction at index -2",
                    fix,
                )


def backward_only(facts: FileFacts, read: SubscriptRead) -> bool:
    """`h_n[-1]` with no other direction of the same `h_n` read in the same function."""
    if index_pattern(read.node) not in LAST_LAYER or under_direction_test(facts, read.node):
        return False
    for other in same_base_reads(facts, read):
        if other.base.kind is Kind.STATE and index_pattern(other.node)[0] != -1:
            return False  # `torch.cat((h_n[-2], h_n[-1]), 1)`, `h_n[0] + h_n[-1]`: both directions
    return True


# `out[:, 0]` (batch-first) and `out[0]` (time-first), whole or with its features sliced.
BATCH_FIRST_FIRST = frozenset({(":", 0), (":", 0, ":"), (":", 0, None)})
TIME_FIRST_FIRST = frozenset({(0,), (0, ":"), (0, ":", ":"), (0, ":", None)})


def first_step_read(facts: FileFacts, read: SubscriptRead) -> bool:
    """Whether the same function also reads the same output's first step, where the backward
    direction has seen the whole sequence."""
    first = BATCH_FIRST_FIRST if read.base.batch_first else TIME_FIRST_FIRST
    return any(
        other.base.kind is Kind.OUTPUT and index_pattern(other.node) in first for other in same_base_reads(facts, read)
    )


def same_base_reads(facts: FileFacts, read: SubscriptRead) -> Iterator[SubscriptRead]:
    """The other subscripts of the same base, written the same (`h_n`, `state[0]`), in the same function."""
    base = ast.dump(read.node.value)
    scope = enclosing_function(facts, read.node)
    for other in facts.subscripts:
        node = other.node
        if node is not read.node and ast.dump(node.value) == base and enclosing_function(facts, node) is scope:
            yield other


def enclosing_function(facts: FileFacts, node: ast.AST) -> ast.AST | None:
    """The function (or module) whose body holds `node`."""
    current = facts.parent(node)
    while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        current = facts.parent(current)
    return current


def under_direction_test(facts: FileFacts, node: ast.AST) -> bool:
    """Inside `if self.bidirectional: ... else: h_n[-1]`: the code already picks per direction."""
    child, current = node, facts.parent(node)
    while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        if isinstance(current, (ast.If, ast.IfExp)) and child is not current.test:
            names = [n.id for n in ast.walk(current.test) if isinstance(n, ast.Name)]
            names += [n.attr for n in ast.walk(current.test) if isinstance(n, ast.Attribute)]
            if any("direction" in name.lower() for name in names):
                return True
        child, current = current, facts.parent(current)
    return False
