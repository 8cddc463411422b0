"""PKL111: a lengths tensor moved to an accelerator and then given to `pack_padded_sequence`."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import Device, dotted
from packlint.fixes.changes import wrap_expression
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule


class LengthsOnAccelerator(Rule):
    """
    ## What it does
    Reports `pack_padded_sequence` calls whose lengths were moved to an accelerator, with
    `.cuda()`, `.to(device)`, `.to("cuda")`, `.to(x.device)` or `torch.tensor(..., device=...)`,
    and lengths computed from a tensor that was moved there: `(tokens != pad).sum(1)`,
    `mask.long().sum(dim=1)` or `torch.sum(mask, 1)` after `tokens = tokens.to(device)`.
    In project mode (`--project`) it also reports a call that passes moved lengths
    (`model(x, lengths.cuda())`) to project code in another file that packs that parameter as it is
    given, naming the file and line of the pack call.

    ## Why is this bad?
    Since torch 1.7 the lengths must be a 1-D CPU int64 tensor (or a list): packing reads them on
    the host to build the batch sizes. On a GPU the call raises `RuntimeError: 'lengths' argument
    should be a 1D CPU int64 tensor, but got 1D cuda:0 Long tensor`. The code often passes its CPU
    tests and fails on the first run on a GPU. Lengths counted from the batch itself are easy to
    miss: they live wherever the batch lives, so moving the batch first moves them too.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths, device):
        lengths = lengths.to(device)
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        return gru(packed)
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths, device):
        lengths = lengths.to(device)
        packed = pack_padded_sequence(padded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        return gru(packed)
    ```

    ## Fix safety
    Safe: packing copies the lengths to the CPU anyway; passing `lengths.cpu()` gives it the same
    values where it accepts them (counted lengths are int64, which it takes as they are). Where the
    call's argument is itself `x.cuda()` or `x.to(device)`, the fix passes `x.cpu()` instead. A report
    across files has no fix: the moved value may have other uses on the accelerator, so where to move it
    back is the reader's choice.
    """

    code = "PKL111"
    name = "lengths-on-accelerator"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for call in ctx.facts.pack_calls:
            node = call.lengths_node
            if call.function != "pack_padded_sequence" or node is None:
                continue
            if call.lengths.device is not Device.ACCELERATOR:
                continue
            written = text_of(ctx.source, node)
            moved = moved_from(node)
            if moved is not None:
                fixed = f"{text_of(ctx.source, moved)}.cpu()"
            elif isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
                fixed = f"{written}.cpu()"
            else:
                fixed = f"({written}).cpu()"
            change = wrap_expression(ctx.source, node, "{}.cpu()", inner=moved, parenthesize=True)
            fix = self.safe_fix(f"Pass `{fixed}`", change)
            yield self.diagnostic(
                ctx,
                call.node,
                f"`{written}` is on an accelerator but `pack_padded_sequence` needs lengths on the CPU; "
                "pass them with `.cpu()`",
                fix,
            )
        if ctx.project is not None:
            yield from self.check_project(ctx)

    def check_project(self, ctx: Context) -> Iterator[Diagnostic]:
        """Lengths moved here and packed by the project's code in another file."""
        assert ctx.project is not None
        from packlint.project import moved_into_pack  # project mode only: a plain check never loads it

        for hit in moved_into_pack(ctx.project, ctx.facts.tree):
            written = text_of(ctx.source, hit.argument)
            yield self.diagnostic(
                ctx,
                hit.argument,
                f"`{written}` is on an accelerator but `{hit.function}` packs it as `{hit.parameter}` "
                f"(`pack_padded_sequence` at `{hit.where}`), which needs lengths on the CPU; pass them on the CPU",
            )


def moved_from(node: ast.expr) -> ast.expr | None:
    """`x` of `x.cuda()` or `x.to(device)`, where the call only moves `x`."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    if node.func.attr == "cuda" and not node.args and not node.keywords:
        return node.func.value
    if node.func.attr == "to" and len(node.args) == 1 and not node.keywords:
        # Only a device argument: `.to(torch.long)` also converts, and that must stay.
        target = dotted(node.args[0])
        if target is not None and "device" in target.split(".")[-1].lower():
            return node.func.value
        if isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("cuda"):
            return node.func.value
    return None
