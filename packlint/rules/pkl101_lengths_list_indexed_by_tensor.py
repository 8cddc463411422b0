"""PKL101: a Python list of lengths indexed with a tensor."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import Kind
from packlint.fixes.changes import wrap_expression
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule


class LengthsListIndexedByTensor(Rule):
    """
    ## What it does
    Reports a Python list of lengths (such as `[len(s) for s in seqs]`) that is indexed with a
    tensor, such as the permutation from `torch.argsort` or `Tensor.sort`.

    ## Why is this bad?
    A list cannot be indexed with a tensor of several elements: Python raises `TypeError: only
    integer tensors of a single element can be converted to an index`. With a one-element tensor it
    silently picks a single length instead of reordering the list. A widely copied tutorial reorders
    a padded batch and its lengths this way before packing.

    ## Example
    ```python
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    def collate(seqs):
        lengths = [len(s) for s in seqs]
        padded = pad_sequence(seqs, batch_first=True)
        order = torch.argsort(-torch.tensor(lengths))
        padded, lengths = padded[order], lengths[order]
        return pack_padded_sequence(padded, lengths, batch_first=True)
    ```

    ## Use instead
    ```python
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    def collate(seqs):
        lengths = [len(s) for s in seqs]
        padded = pad_sequence(seqs, batch_first=True)
        order = torch.argsort(-torch.tensor(lengths))
        padded, lengths = padded[order], torch.as_tensor(lengths)[order]
        return pack_padded_sequence(padded, lengths, batch_first=True)
    ```

    ## Fix safety
    Safe: `torch.as_tensor(lengths)[order]` holds the same lengths in the intended order, and every
    packing function accepts a lengths tensor. The rule reports only an index that is a
    permutation (from `argsort` or a sort), which has as many elements as the batch: there the list
    index raises `TypeError`, so the fix turns a crash into the intended result and never changes
    an `int` into a tensor. A tensor that may hold one element (`torch.argmax(scores)`) is valid
    Python and is not reported. The fix is offered only where a name for `torch` is already imported.
    """

    code = "PKL101"
    name = "lengths-list-indexed-by-tensor"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        if not ctx.facts.uses_rnn_utils:
            return
        for read in ctx.facts.subscripts:
            base, index = read.base, read.index
            if base.kind is not Kind.LENGTHS or base.container != "list" or index.container != "tensor":
                continue
            if index.kind is not Kind.PERM:
                # `lengths[torch.argmax(scores)]` is valid Python: a one-element tensor converts to an
                # index and picks one int. Only a permutation (argsort, sort indices) is known to be a
                # tensor of several elements, where the list index raises.
                continue
            listed = text_of(ctx.source, read.node.value)
            fix = None
            if read.torch_name is not None:
                fixed = f"{read.torch_name}.as_tensor({listed})"
                change = wrap_expression(ctx.source, read.node.value, f"{read.torch_name}.as_tensor({{}})")
                fix = self.safe_fix(f"Index `{fixed}` instead", change)
            yield self.diagnostic(
                ctx,
                read.node,
                f"Python list `{listed}` is indexed with the tensor `{text_of(ctx.source, read.node.slice)}`; "
                f"index `torch.as_tensor({listed})` instead",
                fix,
            )
