"""PKL112: a pack or unpack call whose `batch_first` disagrees with the layout of its batch."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import FileFacts, Kind, PackCall, UnpackCall
from packlint.fixes.changes import set_keyword
from packlint.fixes.safety import reads_packed_internals, swaps_axes
from packlint.rules.base import Context, Rule


class BatchFirstMismatch(Rule):
    """
    ## What it does
    Reports `pack_padded_sequence` and `pad_packed_sequence` calls whose `batch_first` disagrees
    with the layout of the batch they handle: a batch padded with `pad_sequence(...,
    batch_first=True)` packed without `batch_first=True`, a batch packed for an RNN built with
    `batch_first=True` (in the same class) without it, or that RNN's output unpacked without it;
    and the reverse.

    ## Why is this bad?
    Packing reads dimension 0 as time when `batch_first=False`. With `enforce_sorted=True` a
    batch-first batch raises `RuntimeError: Expected len(lengths) to be equal to batch_size`; with
    `enforce_sorted=False` nothing is raised at the call: when T > B the RNN later fails with
    `start (N) + length (K) exceeds dimension size (N)`, when T < B it fails with `INDICES element
    is out of DATA bounds`, and when T == B the result is silently wrong, batch and time swapped.
    Unpacking with the wrong flag never raises: it returns the transposed tensor, so `out[:, -1]`
    or a loss over `out` reads the wrong axis.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    def collate(seqs):
        lengths = [len(s) for s in seqs]
        padded = pad_sequence(seqs, batch_first=True)
        return pack_padded_sequence(padded, lengths, enforce_sorted=False)
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    def collate(seqs):
        lengths = [len(s) for s in seqs]
        padded = pad_sequence(seqs, batch_first=True)
        return pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    ```

    ## Fix safety
    The fix sets `batch_first` to the layout the batch has. It is safe only when that layout is
    proven by a producer in sight: `pad_sequence(..., batch_first=...)` in the same function for a
    pack call, with no `PackedSequence(...)` rebuilt and no `.data` read after it (those hide how
    the rest of the code reads the packed value). The RNN's `batch_first` alone proves nothing about
    a PackedSequence, which the RNN reads the same either way: a fix resting on it is unsafe. An
    unpack call's fix is always unsafe: unpacking in either layout is valid, and which one the code
    after it wants is a reading of that code (a value returned batch-first from a time-first RNN is
    a choice, not a slip). Where the function, or a helper of the same file it calls, may change the
    layout unseen (`transpose`, `permute`, `einops.rearrange`, `torch.stack(x.unbind(1))`,
    `einsum`), a layout known only from the RNN is not trusted and nothing is reported. When the
    pack call, the unpack call and the RNN disagree two against one in a way the data cannot settle,
    nothing is reported either.
    """

    code = "PKL112"
    name = "batch-first-mismatch"
    fix_availability = "always"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        rnn_flags = consumer_flags(facts)
        for call in facts.pack_calls:
            if call.function != "pack_padded_sequence" or call.opaque or call.batch_first is None:
                continue
            expected, why = pack_layout(facts, call, rnn_flags.get(call.index))
            if expected is None or expected == call.batch_first:
                continue
            keyword = set_keyword(ctx.source, call.node, "batch_first", str(expected), 2)
            # Only a padded batch made in sight proves the layout; the RNN's flag is a guess.
            # A rebuilt PackedSequence (or one whose `.data` is read) hides what follows the packing.
            proven = call.input.kind is Kind.BATCH and call.input.batch_first is not None
            proven = proven and not reads_packed_internals(facts, call)
            fix = (self.safe_fix if proven else self.unsafe_fix)(f"Pass `batch_first={expected}`", keyword)
            yield self.diagnostic(
                ctx,
                call.node,
                f"{why}, but it is packed with `batch_first={call.batch_first}`; pass `batch_first={expected}`",
                fix,
            )
        for unpack in facts.unpack_calls:
            if unpack.opaque or unpack.batch_first is None:
                continue
            expected = unpack_layout(facts, unpack)
            if expected is None or expected == unpack.batch_first:
                continue
            # Unpacking in either layout is valid: which one the code after it wants is a reading of
            # that code, never proven by the RNN or the pack call. The fix is always unsafe.
            keyword = set_keyword(ctx.source, unpack.node, "batch_first", str(expected), 1)
            fix = self.unsafe_fix(f"Pass `batch_first={expected}`", keyword)
            yield self.diagnostic(
                ctx,
                unpack.node,
                f"the RNN was built with `batch_first={expected}`, but its output is unpacked with "
                f"`batch_first={unpack.batch_first}`; pass `batch_first={expected}`",
                fix,
            )


def consumer_flags(facts: FileFacts) -> dict[int, bool | None]:
    """For each pack call an RNN consumed, the `batch_first` of every RNN that did (None: unknown or mixed)."""
    flags: dict[int, set[bool | None]] = {}
    for call in facts.rnn_calls:
        if call.input.kind is Kind.PACKED and call.input.origin is not None:
            flags.setdefault(call.input.origin, set()).add(call.module.batch_first)
    return {index: next(iter(seen)) if len(seen) == 1 else None for index, seen in flags.items()}


def unpack_flags(facts: FileFacts, pack_index: int) -> set[bool | None]:
    """The `batch_first` of every unpack of an RNN output that came from pack call `pack_index`."""
    return {
        u.batch_first
        for u in facts.unpack_calls
        if u.packed.kind is Kind.PACKED and u.packed.from_rnn and u.packed.origin == pack_index
    }


def pack_layout(facts: FileFacts, call: PackCall, rnn_flag: bool | None) -> tuple[bool | None, str]:
    """The layout a pack call's batch has, and how we know it; None when we do not."""
    batch = call.input
    if batch.kind is Kind.BATCH and batch.batch_first is not None:
        return batch.batch_first, f"the batch was padded with `batch_first={batch.batch_first}`"
    if batch.kind is not Kind.UNKNOWN or rnn_flag is None or swaps_axes(facts, call.node):
        return None, ""
    # The RNN ignores its own flag on a PackedSequence, so the flag is only evidence of the layout
    # the author works in: trust it only where no unpack of its output sides with the pack call.
    if any(flag != rnn_flag for flag in unpack_flags(facts, call.index)):
        return None, ""
    return rnn_flag, f"the RNN that reads it was built with `batch_first={rnn_flag}`"


def unpack_layout(facts: FileFacts, unpack: UnpackCall) -> bool | None:
    """The layout the code around an unpack call expects; None when it is not clear."""
    packed = unpack.packed
    if packed.kind is not Kind.PACKED or not packed.from_rnn or packed.batch_first is None:
        return None
    rnn_flag = packed.batch_first
    if swaps_axes(facts, unpack.node):
        return None
    if packed.origin is None or packed.origin >= len(facts.pack_calls):
        return rnn_flag
    pack = facts.pack_calls[packed.origin]
    if pack.function != "pack_padded_sequence":
        return rnn_flag  # pack_sequence takes a list: no layout to keep
    batch = pack.input
    data = batch.batch_first if batch.kind is Kind.BATCH else pack.batch_first
    # The batch came in as the RNN's flag says (or unknown): the output should go out that way.
    return rnn_flag if data is None or data == rnn_flag else None
