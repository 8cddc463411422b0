"""PKL203: the final state of an RNN that ran over padding without packing."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import Kind
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule


class PaddedRnnFinalState(Rule):
    """
    ## What it does
    Reports an RNN call on a padded batch (from `pad_sequence`, or with the batch's lengths in
    scope) that is not packed, when its final state `h_n` is used afterwards.

    In project mode (`--project`) it also reports an RNN in a model's `forward` that runs on a
    parameter, unpacked, when a loop elsewhere in the project passes that parameter batches that a
    collate function or dataset pads at the end (`DataLoader(collate_fn=...)`, a `Dataset`'s
    `__getitem__`, torchtext's `Field(fix_length=...)`, a tokenizer's `padding="max_length"`): the
    message names the call and the padding, file and line.

    ## Why is this bad?
    Without packing the RNN steps through every padding position of the shorter sequences, so
    their `h_n` is the state after the pad tokens, not after their last real token. Nothing
    raises; a classifier or decoder that reads `h_n` just gets a different vector for every
    sequence that is not the longest, and results depend on how much padding a batch has.

    ## Example
    ```python
    from torch import nn
    from torch.nn.utils.rnn import pad_sequence

    class Encoder(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.gru = nn.GRU(dim, dim, batch_first=True)

        def forward(self, seqs):
            padded = pad_sequence(seqs, batch_first=True)
            _, h_n = self.gru(padded)
            return h_n[-1]
    ```

    ## Use instead
    ```python
    from torch import nn
    from torch.nn.utils.rnn import pack_sequence

    class Encoder(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.gru = nn.GRU(dim, dim, batch_first=True)

        def forward(self, seqs):
            packed = pack_sequence(seqs, enforce_sorted=False)
            _, h_n = self.gru(packed)
            return h_n[-1]
    ```

    ## Fix safety
    No automatic fix: packing needs the lengths and changes how the output is read. Pack the batch
    with `pack_padded_sequence(x, lengths, batch_first=..., enforce_sorted=False)` (or
    `pack_sequence(seqs, enforce_sorted=False)`) before the RNN.
    """

    code = "PKL203"
    name = "padded-rnn-final-state"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        for call in facts.rnn_calls:
            if not call.padded or id(call.node) not in facts.used_calls:
                continue
            if facts.in_loop(call.node) and call.input.kind not in (Kind.BATCH, Kind.OUTPUT):
                continue  # a step-by-step decoder runs on one step, not on the padded batch
            module = text_of(ctx.source, call.node.func)
            yield self.diagnostic(
                ctx,
                call.node,
                f"`{module}` runs over the padding of an unpacked batch and its final state is used; "
                "pack the batch with `enforce_sorted=False` first",
            )
        if ctx.project is not None:
            yield from self.padded_elsewhere(ctx)

    def padded_elsewhere(self, ctx: Context) -> Iterator[Diagnostic]:
        """A `forward`'s RNN fed, by a loop in the project, batches that another file pads."""
        from packlint.project import (
            forward_input,
            padded_feed,
            reads_final_state,
        )  # project mode only: a plain check never loads it

        assert ctx.project is not None
        facts = ctx.facts
        for call in facts.rnn_calls:
            if id(call.node) not in facts.used_calls or not reads_final_state(facts, call):
                continue  # a state only returned may be dropped by the caller
            fed = forward_input(facts, call)
            feed = padded_feed(ctx.project, *fed) if fed is not None else None
            if fed is None or feed is None or not feed.crosses:
                continue
            via = f", through `{feed.through}`," if feed.through else ""
            module = text_of(ctx.source, call.node.func)
            yield self.diagnostic(
                ctx,
                call.node,
                f"`{module}` runs over the padding of the batches `{feed.call}` passes{via} as `{fed[1]}` (padded to "
                f"{feed.length} by `{feed.padded_by}`) and its final state is used; pack the batch with "
                "`enforce_sorted=False` first",
            )
