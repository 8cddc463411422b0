"""PKL204: a softmax over the time axis of scores against padded RNN outputs, with no mask before it."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import padded_reductions
from packlint.fixes.edits import short_text_of
from packlint.rules.base import Context, Rule


class AttentionOverPadding(Rule):
    """
    ## What it does
    Reports a softmax over the time axis of scores computed from a padded RNN output (the output of
    `pad_packed_sequence`, or of an RNN run over a padded batch with lengths or a mask in scope) when
    no mask reaches the scores before the softmax (`masked_fill`, `torch.where`, adding a large
    negative value where the mask is off) and none is applied to the weights after it.

    The output is followed through a `Linear`, elementwise activations, `bmm`/`matmul`, `transpose`,
    `squeeze`/`unsqueeze` and sums over the features. Scores passed to a helper or an attention
    module, per-sequence slices, and a softmax over the feature axis are not reported.

    ## Why is this bad?
    Past each sequence's length the scores are those of padding (a zero output gives the Linear's
    bias, a state driven through pad steps gives anything), and `exp` of them is not zero: every
    sequence shorter than the batch's longest gives padding a share of its attention, and its
    context vector changes with whatever it was batched with. In torch 2.13, a GRU over lengths
    `(4, 7, 1)` gives the length-1 sequence 82% of its weight on padding; its context deviates from
    the same model run on that sequence alone by 0.31. Nothing raises.

    ## Example
    ```python
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Attentive(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.rnn = nn.GRU(dim, hidden, batch_first=True)
            self.score = nn.Linear(hidden, 1)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
            weights = torch.softmax(self.score(out).squeeze(-1), dim=1)
            return (weights.unsqueeze(-1) * out).sum(1)
    ```

    ## Use instead
    ```python
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class Attentive(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.rnn = nn.GRU(dim, hidden, batch_first=True)
            self.score = nn.Linear(hidden, 1)

        def forward(self, x, lengths):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, lens = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
            mask = torch.arange(out.size(1))[None, :] < lens[:, None]
            scores = self.score(out).squeeze(-1).masked_fill(~mask.to(out.device), float("-inf"))
            weights = torch.softmax(scores, dim=1)
            return (weights.unsqueeze(-1) * out).sum(1)
    ```

    ## Fix safety
    No fix is offered. A mask needs lengths aligned with the rows of the scores and on their device,
    and a fill value that suits their dtype (`-inf` in half precision, or a finite one where a
    row may be all padding); which of the names in scope is that, and where the scores take their
    final shape, only the author knows.
    """

    code = "PKL204"
    name = "attention-over-padding"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for found in padded_reductions(ctx.facts):
            if found.op != "softmax" or found.masked_after:
                continue
            source = short_text_of(ctx.source, found.value.source.func)
            yield self.diagnostic(
                ctx,
                found.node,
                f"`{short_text_of(ctx.source, found.node)}` normalises over the time axis of scores from the "
                f"padded output of `{source}`: padded steps get attention weight; mask them "
                "(`masked_fill(~mask, float('-inf'))`) before the softmax",
            )
