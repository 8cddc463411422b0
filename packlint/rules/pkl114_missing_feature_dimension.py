"""PKL114: a padded batch of 1-D sequences (B×T) given to an RNN, which needs B×T×features."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import RnnInput, rnn_inputs
from packlint.fixes.edits import replace_node, short_text_of, text_of
from packlint.rules.base import Context, Rule


class MissingFeatureDimension(Rule):
    """
    ## What it does
    Reports an `nn.LSTM`, `nn.GRU` or `nn.RNN` built in the file that is given a padded batch of 1-D
    sequences: `pad_sequence` of `torch.tensor([1, 2, 3])`-like sequences (B×T, or T×B), or such a batch
    packed, where the RNN needs a feature dimension (B×T×F).

    ## Why is this bad?
    An RNN reads a 2-D tensor as *one unbatched sequence* of shape (L, input_size): the batch becomes
    the time axis and the time steps the features. Unless T happens to equal `input_size` that raises
    (torch 2.13: `RuntimeError: input.size(-1) must be equal to input_size. Expected 1, got 3`); when it
    does, the RNN silently runs over the wrong axis. Packed, the data is 1-D and the LSTM raises
    `RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x6 and 1x16)`.

    ## Example
    ```python
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    lstm = nn.LSTM(input_size=1, hidden_size=8, batch_first=True)
    seqs = [torch.tensor([0.5, 0.1, 0.7]), torch.tensor([0.2, 0.9])]
    padded = pad_sequence(seqs, batch_first=True)
    packed = pack_padded_sequence(padded, [3, 2], batch_first=True)
    output, (h_n, c_n) = lstm(packed)
    ```

    ## Use instead
    ```python
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    lstm = nn.LSTM(input_size=1, hidden_size=8, batch_first=True)
    seqs = [torch.tensor([0.5, 0.1, 0.7]), torch.tensor([0.2, 0.9])]
    padded = pad_sequence(seqs, batch_first=True)
    packed = pack_padded_sequence(padded.unsqueeze(-1), [3, 2], batch_first=True)
    output, (h_n, c_n) = lstm(packed)
    ```

    ## Fix safety
    Safe, and offered only when the RNN's literal `input_size` is 1: then each step must carry one
    feature, so `unsqueeze(-1)` (at the RNN's argument, or at the input of the pack call that made it)
    is the only shape the RNN accepts as a batch, whatever the layout. With another `input_size` the
    missing dimension is an embedding or a feature extractor, which no fix can choose.
    """

    code = "PKL114"
    name = "missing-feature-dimension"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for rnn_input in rnn_inputs(ctx.facts):
            shape = rnn_input.shape
            if shape is None or shape.rank != 2 or not shape.padded or shape.form not in ("tensor", "packed"):
                continue
            what = "packed from a 2-D batch" if shape.form == "packed" else "a 2-D padded batch"
            yield self.diagnostic(
                ctx,
                rnn_input.call,
                f"`{short_text_of(ctx.source, rnn_input.call.func)}` is given "
                f"`{short_text_of(ctx.source, rnn_input.arg)}`, {what} of 1-D sequences, but needs a "
                "feature dimension; add one with `.unsqueeze(-1)`",
                self.fix(ctx, rnn_input),
            )

    def fix(self, ctx: Context, rnn_input: RnnInput) -> Fix | None:
        if rnn_input.input_size != 1:
            return None
        shape = rnn_input.shape
        assert shape is not None
        node = rnn_input.arg if shape.form == "tensor" else shape.pack_input
        if node is None:
            return None  # `pack_sequence(seqs)`: every sequence would need its own unsqueeze
        written = text_of(ctx.source, node)
        simple = isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript))
        fixed = f"{written}.unsqueeze(-1)" if simple else f"({written}).unsqueeze(-1)"
        return self.safe_fix(f"Pass `{fixed}`", replace_node(ctx.source, node, fixed))
