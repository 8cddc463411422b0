"""PKL104: packing that still enforces sorting on lengths built in an unsorted order."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import Order, argument
from packlint.fixes.changes import set_keyword
from packlint.fixes.edits import text_of
from packlint.fixes.safety import ENFORCE_SORTED_UNSAFE, layout_doubtful, reads_packed_internals
from packlint.rules.base import Context, Rule


class UnsortedEnforceSorted(Rule):
    """
    ## What it does
    Reports `pack_padded_sequence` and `pack_sequence` calls that keep `enforce_sorted=True`
    (written, or by default) on lengths that the same function built without sorting them in
    descending order, such as `[len(s) for s in batch]`.

    ## Why is this bad?
    With `enforce_sorted=True` PyTorch requires lengths in decreasing order and raises
    `RuntimeError: 'lengths' array must be sorted in decreasing order when 'enforce_sorted' is
    True` on the first batch that is not. Batches from a shuffled loader almost never are.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    def collate(batch):
        lengths = [len(s) for s in batch]
        padded = pad_sequence(batch, batch_first=True)
        return pack_padded_sequence(padded, lengths, batch_first=True)
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    def collate(batch):
        lengths = [len(s) for s in batch]
        padded = pad_sequence(batch, batch_first=True)
        return pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    ```

    ## Fix safety
    Safe: with `enforce_sorted=False` PyTorch sorts the batch itself and gives outputs and final
    states back in the batch's own order. Only ONNX export needs sorted input.
    """

    code = "PKL104"
    name = "unsorted-enforce-sorted"
    fix_availability = "always"
    fix_safety_shared = (ENFORCE_SORTED_UNSAFE,)  # the same fix as PKL107, so the same conditions

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for call in ctx.facts.pack_calls:
            # Order.UNKNOWN (for example a parameter) belongs to the opt-in PKL107.
            if call.opaque or call.enforce_sorted is not True or call.lengths.order is not Order.UNSORTED:
                continue
            position = 3 if call.function == "pack_padded_sequence" else 1
            keyword = set_keyword(ctx.source, call.node, "enforce_sorted", "False", position)
            # The sort indices live in the PackedSequence: code that reads its `.data` or
            # `.batch_sizes`, or rebuilds it, sees rows in the new sorted order (or loses the indices).
            unsafe = reads_packed_internals(ctx.facts, call) or layout_doubtful(ctx.facts, call)
            fix = (self.unsafe_fix if unsafe else self.safe_fix)("Pass `enforce_sorted=False`", keyword)
            seqs = argument(call.node, 0, "sequences")
            if call.function == "pack_sequence" and seqs is not None:
                what = f"the lengths of `{text_of(ctx.source, seqs)}` are"
            elif call.lengths_node is not None:
                what = f"`{text_of(ctx.source, call.lengths_node)}` is"
            else:
                what = "the lengths are"
            yield self.diagnostic(
                ctx,
                call.node,
                f"{what} not sorted descending but `enforce_sorted` is on; pass `enforce_sorted=False`",
                fix,
            )
