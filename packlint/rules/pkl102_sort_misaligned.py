"""PKL102: a batch and its lengths put in different orders before packing."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import IDENTITY, FileFacts, PackCall, Value, argument
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule


class SortMisaligned(Rule):
    """
    ## What it does
    Reports a pack call whose batch and lengths were reordered by different permutations: the
    lengths were sorted but the batch was not indexed with the same permutation, or the batch was
    reordered and its lengths were not.

    ## Why is this bad?
    `pack_padded_sequence` pairs row `i` of the batch with `lengths[i]`. When only one of them was
    sorted, each row is packed with another row's length: long sequences are cut short and short
    ones run over their padding. Nothing raises; the model silently learns from garbage.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def pack_batch(padded, lengths):
        lengths, perm = lengths.sort(descending=True)
        return pack_padded_sequence(padded, lengths, batch_first=True), perm
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def pack_batch(padded, lengths):
        lengths, perm = lengths.sort(descending=True)
        return pack_padded_sequence(padded[perm], lengths, batch_first=True), perm
    ```

    ## Fix safety
    No fix: whether the batch should follow the lengths or the lengths the batch depends on what the
    rest of the function expects. Often the simplest repair is to drop the manual sort and pass
    `enforce_sorted=False`.
    """

    code = "PKL102"
    name = "sort-misaligned"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        for call in facts.pack_calls:
            batch, lengths = call.input, call.lengths
            if call.function != "pack_padded_sequence" or call.opaque:
                continue  # pack_sequence takes its lengths from the sequences themselves
            if batch.perm is None or lengths.perm is None or batch.perm.same_lengths(lengths.perm):
                continue  # the same order, or two sorts of the same lengths the same way
            yield self.diagnostic(ctx, call.node, self.message(ctx, facts, call, batch, lengths))

    @staticmethod
    def message(ctx: Context, facts: FileFacts, call: PackCall, batch: Value, lengths: Value) -> str:
        """Name both values and the order each is in."""
        batch_node = argument(call.node, 0, "input")
        batch_text = text_of(ctx.source, batch_node) if batch_node is not None else "the batch"
        lengths_text = text_of(ctx.source, call.lengths_node) if call.lengths_node is not None else "the lengths"

        def order(value: Value) -> str:
            perm = value.perm or IDENTITY
            if perm.is_identity:
                return "the original order"
            inverse = perm.inverse()
            if perm not in facts.perm_names and inverse.token is not None:
                return f"the inverse of `{facts.perm_label(inverse)}`"
            return f"the order of `{facts.perm_label(perm)}`"

        return (
            f"`{batch_text}` is in {order(batch)} but its lengths `{lengths_text}` are in {order(lengths)}: "
            "rows are packed with other rows' lengths; reorder both with the same permutation, or neither"
        )
