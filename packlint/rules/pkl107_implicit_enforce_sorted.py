"""PKL107: the default `enforce_sorted=True` on lengths whose order this function cannot know."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import IDENTITY, FileFacts, Order, PackCall, argument, called_name, parameter_names
from packlint.fixes.changes import set_keyword
from packlint.fixes.edits import text_of
from packlint.fixes.safety import ENFORCE_SORTED_UNSAFE, layout_doubtful, reads_packed_internals
from packlint.rules.base import Context, Rule


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

    if __name__ == "__main__":
        for padded, lengths in load_batches(shuffle=True):
            print(encode(build_gru(), padded, lengths))
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def encode(gru, padded, lengths):
        packed = pack_padded_sequence(padded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = gru(packed)
        return h_n[-1]

    if __name__ == "__main__":
        for padded, lengths in load_batches(shuffle=True):
            print(encode(build_gru(), padded, lengths))
    ```

    ## Fix safety
    Safe: with `enforce_sorted=False` PyTorch sorts internally and gives outputs and final states
    back in the batch's order, so sorted callers get the same results and unsorted ones stop
    failing. Only ONNX export needs sorted input; there, write `enforce_sorted=True` instead.
    """

    code = "PKL107"
    name = "implicit-enforce-sorted"
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
        if passed is None or sorts_here_or_in_helper(facts, caller or facts.tree):
            continue
        if single_item(passed) or (caller is not None and handed_on(caller, passed)):
            continue  # handed on from the caller's own caller: still unknown
        return True
    return False


def handed_on(caller: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, passed: ast.expr) -> bool:
    """`passed` comes from the caller's parameters: the parameter itself, a piece of one
    (`x, lengths = batch`), or an item of one (`for x, lengths in loader`)."""
    derived = set(parameter_names(caller))
    changed = True
    while changed:  # names bound from parameters, to a fixed point (assignments in any order)
        changed = False
        for node in ast.walk(caller):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, source = node.targets[0], node.value
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                target, source = node.target, node.iter
            else:
                continue
            if root_name(source) in derived:
                stored = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)} - derived
                if stored:
                    derived |= stored
                    changed = True
    return root_name(passed) in derived


def single_item(node: ast.expr) -> bool:
    """`[len(sentence)]`: one length is in decreasing order."""
    return isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == 1 and not isinstance(node.elts[0], ast.Starred)


def sorts_here_or_in_helper(facts: FileFacts, scope: ast.AST) -> bool:
    """`sorts(scope)`, or `scope` calls a function of this file that sorts (`random_batch()`)."""
    if sorts(scope):
        return True
    helpers = facts.derived(functions_by_name)
    seen: set[int] = {id(scope)}
    frontier = [scope]
    for _ in range(HELPER_DEPTH):  # `make_variables()` calling `pad_sequences()`, which sorts
        called = [
            helper
            for inner in frontier
            for node in ast.walk(inner)
            for helper in helpers.get(called_name(node) or "", ())
            if id(helper) not in seen
        ]
        for helper in called:
            if sorts(helper):
                return True
            seen.add(id(helper))
        frontier = called
    return False


HELPER_DEPTH = 3


def functions_by_name(facts: FileFacts) -> dict[str, list[ast.AST]]:
    """The file's functions by name."""
    table: dict[str, list[ast.AST]] = {}
    for node in ast.walk(facts.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            table.setdefault(node.name, []).append(node)
    return table


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
    """`lengths` of `lengths`, `lengths.cpu()`, `batch.lengths`, `batch["lengths"]`, `[f(t) for t in lengths]`."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        elif isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            node = node.generators[0].iter  # `[embed(t) for t in texts]`: in the order of `texts`
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
    `sort_within_batch=True`; a pack call's own `enforce_sorted` is no sort): its lengths may
    well arrive in decreasing order."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Call):
            name = called_name(node) or ""
            keywords = [(k.arg or "").lower() for k in node.keywords if k.arg != "enforce_sorted"]
            if "sort" in name.lower() or any("sort" in keyword for keyword in keywords):
                return True
    return False
