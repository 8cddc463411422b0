"""PKL108: the result of a pack call unpacked into names as if it were a pair."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import FileFacts
from packlint.fixes.edits import replace_node, text_of
from packlint.rules.base import Context, Rule

FIELDS = ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
# A call through a name like these takes the PackedSequence itself, even when the analysis did not
# see the module built (a base class, a factory).
RECURRENT_WORDS = ("rnn", "lstm", "gru", "encoder")


class PackedSequenceUnpacked(Rule):
    """
    ## What it does
    Reports `x, _ = pack_padded_sequence(...)` (or `pack_sequence`): the packed result unpacked into
    fewer (or more) names than the four fields of a `PackedSequence`.

    ## Why is this bad?
    Since torch 1.1 a `PackedSequence` has four fields (`data`, `batch_sizes`, `sorted_indices`,
    `unsorted_indices`), so unpacking it into two names raises `ValueError: too many values to unpack
    (expected 2)`. Tutorials written for torch 0.4 still do it, usually meaning the `PackedSequence`
    itself, which an RNN takes as input, and sometimes its `data`.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(lstm, padded, lengths):
        packed, _ = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        output, (h_n, c_n) = lstm(packed)
        return h_n
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(lstm, padded, lengths):
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        output, (h_n, c_n) = lstm(packed)
        return h_n
    ```

    ## Fix safety
    Safe when the first name only goes to an RNN this file builds or to `pad_packed_sequence`, and the
    other names are `_` or never read: the fix binds the `PackedSequence` itself, the only value those
    calls accept. Unsafe otherwise, since the reader must say which field was meant: a first name that
    goes to a call named like an RNN keeps the whole `PackedSequence`; otherwise one read name becomes
    its field (`x = pack(...).data`, `bs = pack(...).batch_sizes`) and several names take the leading
    fields (`x, bs = pack(...)[:2]`, what torch 1.0 unpacked).
    """

    code = "PKL108"
    name = "packed-sequence-unpacked"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        facts = ctx.facts
        consumers = {id(c.node) for c in facts.rnn_calls} | {id(c.node) for c in facts.unpack_calls}
        for call in facts.pack_calls:
            stmt = facts.parent(call.node)
            if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1 or stmt.value is not call.node:
                continue
            target = stmt.targets[0]
            if not isinstance(target, (ast.Tuple, ast.List)) or len(target.elts) == len(FIELDS):
                continue
            if any(isinstance(e, ast.Starred) for e in target.elts):
                continue
            written = text_of(ctx.source, call.node)
            fix = self.fix(ctx, facts, stmt, target, written, consumers)
            yield self.diagnostic(
                ctx,
                call.node,
                f"`{call.function}` returns a `PackedSequence` of 4 fields, unpacked here into "
                f"{len(target.elts)} names; assign it to one name, or read `.data` / `.batch_sizes`",
                fix,
            )

    def fix(
        self,
        ctx: Context,
        facts: FileFacts,
        stmt: ast.Assign,
        target: ast.Tuple | ast.List,
        written: str,
        consumers: set[int],
    ) -> Fix | None:
        names = [e.id if isinstance(e, ast.Name) else None for e in target.elts]
        if None in names or len(names) > len(FIELDS):
            return None
        scope = enclosing_scope(facts, stmt)
        read = [n is not None and not n.startswith("_") and bool(loads_after(scope, n, stmt)) for n in names]
        first = names[0]
        assert first is not None
        uses = loads_after(scope, first, stmt)
        if uses and not any(read[1:]):
            kinds = {use_kind(facts, use, consumers) for use in uses}
            if kinds == {"consumer"}:
                return self.safe_fix(f"Bind `{first} = {written}`", replace_node(ctx.source, target, first))
            if kinds <= {"consumer", "recurrent"}:
                return self.unsafe_fix(f"Bind `{first} = {written}`", replace_node(ctx.source, target, first))
        used = [i for i, r in enumerate(read) if r]
        if len(used) == 1:
            i = used[0]
            field = FIELDS[i]
            return self.unsafe_fix(
                f"Bind `{names[i]} = ....{field}`",
                replace_node(ctx.source, target, str(names[i])),
                replace_node(ctx.source, stmt.value, f"{written}.{field}"),
            )
        if not used:
            return None
        return self.unsafe_fix(
            f"Unpack `{written}[:{len(names)}]`", replace_node(ctx.source, stmt.value, f"{written}[:{len(names)}]")
        )


def enclosing_scope(facts: FileFacts, node: ast.AST) -> ast.AST:
    """The function (or module) whose body holds `node`."""
    current = facts.parent(node)
    while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
        current = facts.parent(current)
    return current if current is not None else facts.tree


def loads_after(scope: ast.AST, name: str, stmt: ast.stmt) -> list[ast.Name]:
    """Reads of `name` in `scope` that come after `stmt` (in source order)."""
    after = (stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0)
    return [
        node
        for node in ast.walk(scope)
        if isinstance(node, ast.Name)
        and node.id == name
        and isinstance(node.ctx, ast.Load)
        and (node.lineno, node.col_offset) >= after
    ]


def use_kind(facts: FileFacts, use: ast.Name, consumers: set[int]) -> str:
    """ "consumer" for the input of an RNN or unpack call the analysis knows, "recurrent" for a call
    named like an RNN, "other" for anything else."""
    call = facts.parent(use)
    if not isinstance(call, ast.Call) or not call.args or call.args[0] is not use:
        return "other"
    if id(call) in consumers:
        return "consumer"
    callee = text_of_callee(call.func).lower()
    return "recurrent" if any(word in callee for word in RECURRENT_WORDS) else "other"


def text_of_callee(node: ast.expr) -> str:
    """The last name of a callee: `lstm` for `self.lstm`."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""
