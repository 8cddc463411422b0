"""PKL107: the default `enforce_sorted=True` on lengths whose order this function cannot know."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import IDENTITY, FileFacts, Order, PackCall, argument, parameter_names
from packlint.fixes.changes import set_keyword
from packlint.fixes.edits import text_of
from packlint.fixes.safety import ENFORCE_SORTED_UNSAFE, layout_doubtful, reads_packed_internals
from packlint.rules.base import Context, Rule
from packlint.rules.triggers import PACKING


class ImplicitEnforceSorted(Rule):
    """
    ## What it does
    Reports a pack call that relies on the default `enforce_sorted=True` for lengths that come
    from a parameter, unsorted on the way: whether they are in decreasing order depends on every
    caller. Lengths of unknown origin (for example where two branches disagree) are left alone.

    ## Why is this bad?
    The function is only correct when each caller sorts its batch longest-first; the first caller
    that does not (a new data loader, a shuffled evaluation set) gets `RuntimeError: 'lengths'
    array must be sorted in decreasing order when 'enforce_sorted' is True`. Writing
    `enforce_sorted=True` states that contract on purpose; `enforce_sorted=False` removes it.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths):
        packed = pack_padded_sequence(padded, lengths.cpu(), batch_first=True)
        _, h_n = gru(packed)
        return h_n[-1]
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths):
        packed = pack_padded_sequence(padded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = gru(packed)
        return h_n[-1]
    ```

    ## Fix safety
    Safe: with `enforce_sorted=False` PyTorch sorts internally and gives outputs and final states
    back in the batch's order, so sorted callers get the same results and unsorted ones stop
    failing. Only ONNX export needs sorted input; there, write `enforce_sorted=True` instead.
    """

    code = "PKL107"
    name = "implicit-enforce-sorted"
    triggers = PACKING
    default = False
    fix_availability = "always"
    fix_safety_shared = (ENFORCE_SORTED_UNSAFE,)  # the same fix as PKL104, so the same conditions

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        for call in facts.pack_calls:
            if call.opaque or call.enforce_sorted is not True or call.enforce_sorted_node is not None:
                continue
            parameter = lengths_parameter(facts, call)
            if parameter is None:
                continue
            position = 3 if call.function == "pack_padded_sequence" else 1
            keyword = set_keyword(ctx.source, call.node, "enforce_sorted", "False", position)
            # The sort indices live in the PackedSequence: code that reads its `.data` or
            # `.batch_sizes`, or rebuilds it, sees rows in the new sorted order (or loses the indices).
            unsafe = reads_packed_internals(facts, call) or layout_doubtful(facts, call)
            fix = (self.unsafe_fix if unsafe else self.safe_fix)("Pass `enforce_sorted=False`", keyword)
            node = argument(call.node, 0, "sequences") if call.function == "pack_sequence" else call.lengths_node
            written = text_of(ctx.source, node) if node is not None else parameter
            what = "sequences" if call.function == "pack_sequence" else "lengths"
            origin = "" if written == parameter else f" from the parameter `{parameter}`"
            yield self.diagnostic(
                ctx,
                call.node,
                f"the {what} `{written}`{origin} may come in any order, but `enforce_sorted` is on by default; "
                "pass `enforce_sorted=False`",
                fix,
            )


def lengths_parameter(facts: FileFacts, call: PackCall) -> str | None:
    """The parameter the lengths come from unchanged in order, if any."""
    lengths = call.lengths
    root = call.input.root if call.function == "pack_sequence" else lengths.root
    if lengths.order is not Order.UNKNOWN or lengths.perm != IDENTITY or root is None:
        return None  # sorted, built here (PKL104), reordered, or merged from paths that disagree
    function = facts.enclosing_function(call.node)
    if function is None:
        return None
    names = parameter_names(function)
    if root not in names or (names[:1] == [root] and root in ("self", "cls")):
        return None
    return root
