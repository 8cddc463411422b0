"""PKL107: the default `enforce_sorted=True` on lengths whose order this function cannot know."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import IDENTITY, FileFacts, Order, PackCall, argument, called_name, parameter_names
from packlint.fixes.changes import set_keyword
from packlint.fixes.edits import text_of
from packlint.fixes.safety import layout_doubtful, reads_packed_internals
from packlint.rules.base import Context, Rule
from packlint.rules.triggers import PACKING


class ImplicitEnforceSorted(Rule):
    """
    ## What it does
    Reports a pack call that relies on the default `enforce_sorted=True` for lengths that come
    from a parameter, unsorted on the way: whether they are in decreasing order depends on every
    caller. Lengths of unknown origin (for example where two branches disagree) are left alone, and
    so is a function whose callers are not in the file (for `forward`, a file that never calls an
    instance of its class), whose callers there sort something, or only hand on lengths they were
    given themselves: most real callers sort in a collate function or batcher elsewhere, so with no
    caller in sight the order is unknown.

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

    def encode_all(gru, loader):
        return [encode(gru, padded, lengths) for padded, lengths in loader]
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths):
        packed = pack_padded_sequence(padded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = gru(packed)
        return h_n[-1]

    def encode_all(gru, loader):
        return [encode(gru, padded, lengths) for padded, lengths in loader]
    ```

    ## Fix safety
    Safe: with `enforce_sorted=False` PyTorch sorts internally and gives outputs and final states
    back in the batch's order, so sorted callers get the same results and unsorted ones stop
    failing. Only ONNX export needs sorted input; there, write `enforce_sorted=True` instead.
    Unsafe when code may read the packed value's own order: its `.data`, `.batch_sizes` or sort
    indices (in the function that packs it, or anywhere in the file when the function hands it on),
    or a `PackedSequence(...)` rebuilt from those fields, which drops the sort indices. There rows
    come out in the sorted order instead of the batch's, and an unsorted batch goes from a
    `RuntimeError` to silently misordered results. Unsafe as well where the function changes
    layouts (a transpose) and the batch is not a padded batch seen in the layout the call says:
    the sorting error may be the only sign of a transposed batch, which would then run silently
    wrong when its size equals its length.
    """

    code = "PKL107"
    name = "implicit-enforce-sorted"
    triggers = PACKING
    default = False
    fix_availability = "always"

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
    if isinstance(function, ast.Lambda) or not unsorting_caller_here(facts, function, root):
        return None  # the callers are elsewhere, and so is the sort they may well do
    return root


def unsorting_caller_here(facts: FileFacts, function: ast.FunctionDef | ast.AsyncFunctionDef, parameter: str) -> bool:
    """Whether the file calls `function` (a `forward`: an instance of its class) with its own value
    for `parameter`, from a caller that sorts nothing.

    Real callers mostly sort in a collate function or batcher in another file: where no caller is
    in sight, or every caller in sight hands on a parameter of its own, the order of the lengths is
    unknown, and unknown means quiet."""
    names = parameter_names(function)
    method = names[:1] in (["self"], ["cls"])
    position = names.index(parameter) - (1 if method else 0)
    for call in call_sites(facts, function):
        caller = facts.enclosing_function(call)
        if caller is function:
            continue  # a recursive call says nothing of the first caller
        passed = passed_argument(call, parameter, position)
        if passed is None or sorts(caller or facts.tree):
            continue
        root = root_name(passed)
        if caller is not None and root is not None and root in parameter_names(caller):
            continue  # handed on from the caller's own caller: still unknown
        return True
    return False


def call_sites(facts: FileFacts, function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.Call]:
    """The calls of `function` in the file; for a `forward`, the calls of the names its class's
    instances are bound to (`encoder = Encoder(dim)`, `self.encoder = Encoder(dim)`)."""
    table = facts.derived(calls_by_name)
    owner = facts.parent(function)
    if function.name != "forward" or not isinstance(owner, ast.ClassDef):
        return list(table.get(function.name, ()))
    sites: list[ast.Call] = []
    for built in table.get(owner.name, ()):
        statement = facts.parent(built)
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and statement.value is built:
            target = statement.targets[0]
            instance = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            if instance is not None:
                sites.extend(table.get(instance, ()))
    return sites


def passed_argument(call: ast.Call, parameter: str, position: int) -> ast.expr | None:
    """The argument `call` gives `parameter` (by keyword, or at `position`), if it is written."""
    for keyword in call.keywords:
        if keyword.arg == parameter:
            return keyword.value
    if any(isinstance(arg, ast.Starred) for arg in call.args[: position + 1]):
        return None
    return call.args[position] if 0 <= position < len(call.args) else None


def root_name(node: ast.expr) -> str | None:
    """`lengths` of `lengths`, `lengths.cpu()`, `batch.lengths`, `batch["lengths"]`."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        else:
            return None


def calls_by_name(facts: FileFacts) -> dict[str, list[ast.Call]]:
    """Every call in the file by the last name it calls: `encode` for `encode(...)` and `self.encode(...)`."""
    table: dict[str, list[ast.Call]] = {}
    for node in ast.walk(facts.tree):
        name = called_name(node)
        if name is not None and isinstance(node, ast.Call):
            table.setdefault(name, []).append(node)
    return table


def sorts(scope: ast.AST) -> bool:
    """Whether `scope` calls anything that sorts (`sorted`, `.sort`, `argsort`, `sort_batch`,
    `sort_within_batch=True`): its lengths may well arrive in decreasing order."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Call):
            name = called_name(node) or ""
            if "sort" in name.lower() or any("sort" in (k.arg or "").lower() for k in node.keywords):
                return True
    return False
