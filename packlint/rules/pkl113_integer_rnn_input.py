"""PKL113: integer tensors (token ids, counts) given to an RNN that needs floating-point input."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import rnn_inputs
from packlint.fixes.edits import replace_node, short_text_of, text_of
from packlint.rules.base import Context, Rule


class IntegerRnnInput(Rule):
    """
    ## What it does
    Reports an `nn.LSTM`, `nn.GRU` or `nn.RNN` built in the file that is called on a tensor (or a
    `PackedSequence`) that the file made of integers: `torch.tensor([1, 2, 3])`, `torch.LongTensor`,
    `torch.randint`, `.long()`, `dtype=torch.long`, followed through lists, `pad_sequence` and packing,
    with no embedding or float conversion on the way.

    ## Why is this bad?
    RNN weights are floating point and torch does not convert the input: torch 2.13 raises `ValueError:
    RNN input dtype (torch.int64) does not match weight dtype (torch.float32)` for a tensor, and for a
    packed LSTM input `RuntimeError: mat1 and mat2 must have the same dtype, but got Long and Float`.
    Token ids need an `nn.Embedding` first; numeric values need `.float()`.

    ## Example
    ```python
    import torch
    from torch import nn

    gru = nn.GRU(input_size=1, hidden_size=8, batch_first=True)
    counts = torch.tensor([[[3], [1], [4]], [[1], [5], [9]]])
    output, h_n = gru(counts)
    ```

    ## Use instead
    ```python
    import torch
    from torch import nn

    gru = nn.GRU(input_size=1, hidden_size=8, batch_first=True)
    counts = torch.tensor([[[3], [1], [4]], [[1], [5], [9]]])
    output, h_n = gru(counts.float())
    ```

    ## Fix safety
    Unsafe, and offered only when the RNN's literal `input_size` is 1: one number per step is a value,
    not a token id, and `.float()` (which a `PackedSequence` has too) gives the RNN that value. It is
    unsafe because the module may run in another dtype (`.double()`), and integers past 2**24 round in
    float32. With a wider `input_size` the integers are most likely ids that need an embedding, which
    no fix can choose.
    """

    code = "PKL113"
    name = "integer-rnn-input"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for rnn_input in rnn_inputs(ctx.facts):
            shape = rnn_input.shape
            if shape is None or shape.integer is not True or shape.form not in ("tensor", "packed"):
                continue
            written = text_of(ctx.source, rnn_input.arg)
            fix = None
            if rnn_input.input_size == 1:
                simple = isinstance(rnn_input.arg, (ast.Name, ast.Attribute, ast.Call, ast.Subscript))
                fixed = f"{written}.float()" if simple else f"({written}).float()"
                fix = self.unsafe_fix(f"Pass `{fixed}`", replace_node(ctx.source, rnn_input.arg, fixed))
            origin = f" (from `{short_text_of(ctx.source, shape.origin)}`)" if shape.origin is not None else ""
            what = "a `PackedSequence` of integers" if shape.form == "packed" else "an integer tensor"
            yield self.diagnostic(
                ctx,
                rnn_input.call,
                f"`{short_text_of(ctx.source, rnn_input.call.func)}` is given {what}{origin}: "
                "it needs floating-point input; pass token ids through an `nn.Embedding`, values through `.float()`",
                fix,
            )
