"""PKL201: the last time step of a padded RNN output taken as every sequence's last state."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import FileFacts, SubscriptRead, last_step
from packlint.fixes.changes import replace_expression
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule


class LastPaddedTimestep(Rule):
    """
    ## What it does
    Reports `out[:, -1]` and `out[:, -1, :]` on a batch-first output (`out[-1]` on a time-first
    one) when `out` is padded: it comes from `pad_packed_sequence`, or from an RNN run on a padded
    batch of sequences of different lengths.

    In project mode (`--project`) it also reports the last step of an RNN run in a model's `forward`
    on a parameter, unpacked, when a loop elsewhere in the project passes that parameter batches that
    a collate function or dataset pads at the end; the message names the call and the padding.

    ## Why is this bad?
    Only the longest sequence ends at the last time step. For every shorter one that step is
    padding: zeros after `pad_packed_sequence`, or a state driven through pad tokens when the RNN
    ran over the padded batch. A classifier on top silently learns from the wrong vector, and
    nothing raises.

    ## Example
    ```python
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Classifier(nn.Module):
        def __init__(self, dim, classes):
            super().__init__()
            self.rnn = nn.GRU(dim, dim, batch_first=True)
            self.fc = nn.Linear(dim, classes)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True)
            return self.fc(out[:, -1])
    ```

    ## Use instead
    ```python
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Classifier(nn.Module):
        def __init__(self, dim, classes):
            super().__init__()
            self.rnn = nn.GRU(dim, dim, batch_first=True)
            self.fc = nn.Linear(dim, classes)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True)
            last = out[torch.arange(out.size(0), device=out.device), torch.as_tensor(lengths, device=out.device) - 1]
            return self.fc(last)
    ```
    For a unidirectional RNN over packed input, `h_n[-1]` is the same vector.

    ## Fix safety
    Unsafe: the fix gathers each sequence's step at `lengths - 1` (the result keeps the shape of
    `out[:, -1]`), which changes what the model computes and needs `lengths` aligned with the rows
    of `out`. It is offered only where the output is a plain name, exactly one lengths value in the
    same order is in scope, and a name for `torch` is imported.
    """

    code = "PKL201"
    name = "last-padded-timestep"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for read in ctx.facts.subscripts:
            if read.base.bidirectional is True or not reads_last_padded_step(ctx.facts, read):
                continue  # a bidirectional output belongs to PKL202
            written = text_of(ctx.source, read.node)
            fix = None
            gather = gather_last(ctx, read)
            if gather is not None:
                fix = self.unsafe_fix(
                    f"Gather at `{read.lengths_name} - 1`", replace_expression(ctx.source, read.node, gather)
                )
            yield self.diagnostic(
                ctx,
                read.node,
                f"`{written}` reads the last padded time step: for every shorter sequence that is "
                "padding, not its last state; gather each sequence's step at `lengths - 1`",
                fix,
            )
        if ctx.project is not None:
            yield from self.padded_elsewhere(ctx)

    def padded_elsewhere(self, ctx: Context) -> Iterator[Diagnostic]:
        """The last step of a `forward`'s RNN output, fed by a loop in the project batches another file pads."""
        from packlint.project import forward_input, padded_feed  # project mode only: a plain check never loads it

        assert ctx.project is not None
        facts = ctx.facts
        for read in facts.subscripts:
            base = read.base
            if base.padded or base.bidirectional is True or base.call is None or not last_step(facts, read):
                continue
            call = next((c for c in facts.rnn_calls if c.node is base.call), None)
            fed = forward_input(facts, call) if call is not None else None
            feed = padded_feed(ctx.project, *fed) if fed is not None else None
            if fed is None or feed is None or not feed.crosses:
                continue
            via = f", through `{feed.through}`," if feed.through else ""
            written = text_of(ctx.source, read.node)
            yield self.diagnostic(
                ctx,
                read.node,
                f"`{written}` reads the last time step of the batches `{feed.call}` passes{via} as `{fed[1]}` (padded "
                f"to {feed.length} by `{feed.padded_by}`): for every shorter sequence that is padding; gather "
                "each sequence's step at its length - 1, or pack the batch",
            )


def reads_last_padded_step(facts: FileFacts, read: SubscriptRead) -> bool:
    """`out[:, -1]` (batch-first) or `out[-1]` (time-first) of a padded output."""
    return read.base.padded and last_step(facts, read)


def gather_last(ctx: Context, read: SubscriptRead) -> str | None:
    """`out[arange(B), lengths - 1]` (time-first: `out[lengths - 1, arange(B)]`), where we can write it."""
    lengths, torch = read.lengths_name, read.torch_name
    if not isinstance(read.node.value, ast.Name) or lengths is None or lengths == "_" or torch is None:
        return None
    out = read.node.value.id
    if read.lengths_container == "tensor":
        last = f"{lengths}.to({out}.device) - 1"
    else:
        last = f"{torch}.as_tensor({lengths}, device={out}.device) - 1"
    if read.base.batch_first:
        return f"{out}[{torch}.arange({out}.size(0), device={out}.device), {last}]"
    return f"{out}[{last}, {torch}.arange({out}.size(1), device={out}.device)]"
