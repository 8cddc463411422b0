"""PKL105: RNN results that leave in the order of the sort used for packing."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import IDENTITY, Exit, FileFacts, Kind, Order, Perm, Value, parameter_names
from packlint.fixes.edits import text_of
from packlint.rules.base import Context, Rule

_ADVICE = "undo it with `{perm}.argsort()`, or pack with `enforce_sorted=False` instead of sorting"


class MissingUnsort(Rule):
    """
    ## What it does
    Reports a result of an RNN (its output, its final state, or values computed from them) that is
    returned, or passed to a loss, while still in the order of the permutation that sorted the
    batch for packing: it was never put back with the inverse permutation (`perm.argsort()`,
    `perm.sort()[1]`, `index_select` with the inverse, or a `scatter`).

    ## Why is this bad?
    Row `i` of the result belongs to row `perm[i]` of the batch, not to row `i`. Predictions are
    compared with the wrong labels, or handed back to a caller that expects the batch's own order.
    Nothing raises: the model just trains on, or reports, shuffled pairs.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths):
        lengths, perm = lengths.sort(descending=True)
        packed = pack_padded_sequence(padded[perm], lengths, batch_first=True)
        _, h_n = gru(packed)
        return h_n[-1]
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths):
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        _, h_n = gru(packed)
        return h_n[-1]
    ```

    ## Fix safety
    No fix: where the inverse belongs depends on which results the caller needs. With
    `enforce_sorted=False` PyTorch sorts internally and gives outputs and final states back in
    the batch's order, so the manual sort and its inverse can both go.
    """

    code = "PKL105"
    name = "missing-unsort"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        for exit in facts.exits:
            found = next(iter(sorted_results(facts, exit)), None)
            if found is None:
                continue
            perm = facts.perm_label(found.perm)
            what = f"`{found.label}`" if found.label else "the RNN's result"
            advice = _ADVICE.format(perm=perm)
            if exit.kind == "return":
                message = f"{what} is returned in the order of `{perm}`, which sorted the batch for packing; {advice}"
                yield self.diagnostic(ctx, exit.node, message)
                continue
            other = next(v for v in exit.values if v.perm == IDENTITY)
            other_text = f"`{other.label}`" if other.label else "the other argument"
            loss = text_of(ctx.source, exit.node.func) if isinstance(exit.node, ast.Call) else "the loss"
            message = (
                f"{what} reaches `{loss}` in the order of `{perm}`, which sorted the batch for packing, "
                f"but {other_text} is in the batch's order; {advice}"
            )
            yield self.diagnostic(ctx, exit.node, message)


def sorted_results(facts: FileFacts, exit: Exit) -> list[Value]:
    """The RNN results at `exit` still in a packing sort's order that nothing else accounts for."""
    found = []
    for value in exit.values:
        token = value.perm
        if not value.from_rnn or token is None or token.token is None or token.token in facts.escaped:
            continue
        if exit.kind == "loss" and not any(v.perm == IDENTITY and not v.from_rnn for v in exit.values):
            continue  # the targets are sorted too, or we cannot tell
        if exit.kind == "return" and names_permutation(facts, exit.node, token):
            continue  # `return {"out": out, "perm": perm}`: the caller can undo it
        if not sorted_for_packing(facts, token) or sorted_alongside(facts, token):
            continue
        found.append(value)
    return found


def sorted_for_packing(facts: FileFacts, token: Perm) -> bool:
    """Whether `token` sorted a packed batch by length, in a sort whose order the caller cannot see.

    `batch.sort(key=len, reverse=True)` on a parameter reorders the caller's own list, so the
    caller already sees the sorted order.
    """
    for call in facts.pack_calls:
        lengths = call.lengths
        if call.input.perm != token or lengths.order not in (Order.DESCENDING, Order.ASCENDING):
            continue
        if lengths.sort_site is None:
            continue
        site = facts.sorts[lengths.sort_site]
        receiver = site.node.func.value if isinstance(site.node.func, ast.Attribute) else None
        if isinstance(site.statement, ast.Expr) and isinstance(receiver, ast.Name):
            function = facts.enclosing_function(site.node)
            if function is None or receiver.id in parameter_names(function):
                continue
        return True
    return False


def names_permutation(facts: FileFacts, node: ast.AST, token: Perm) -> bool:
    """Whether the returned expression hands over the permutation by name (not just indexes with it)."""
    name = facts.perm_names.get(token)
    indexes = {id(n.slice) for n in ast.walk(node) if isinstance(n, ast.Subscript)}
    return any(isinstance(n, ast.Name) and n.id == name and id(n) not in indexes for n in ast.walk(node))


def sorted_alongside(facts: FileFacts, token: Perm) -> bool:
    """Whether data other than the packed batch (labels, say) was put in the same order here."""
    packed_roots = {
        root
        for call in facts.pack_calls
        if call.input.perm == token
        for root in (call.input.root, call.lengths.root)
        if root is not None
    }
    for reorder in facts.reorders:
        base = reorder.base
        if reorder.perm != token or base.from_rnn or base.kind in (Kind.LENGTHS, Kind.PERM):
            continue
        if base.root is not None and base.root not in packed_roots:
            return True
    return False
