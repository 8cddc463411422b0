"""Facts that cross files: the questions rules ask about a file's calls into the rest of its project."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from packlint.facts import called_name, dotted
from packlint.project import gate
from packlint.project.summary import FunctionSummary
from packlint.project.view import ProjectView

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


@dataclass(frozen=True)
class ResetElsewhere:
    """Why a loop does reset gradients after all: what it calls resets, in another file."""

    call: ast.Call | None  # the call in the loop (None: any call of a model whose `forward` resets)
    function: str  # `Net.forward`
    where: str  # `model.py:16`


def reset_elsewhere(view: ProjectView, loop: ast.AST) -> ResetElsewhere | None:
    """A call in `loop` that runs project code resetting gradients (a helper, a method, a model's `forward`).

    As generous as the same-file check (facts.loops): a model class imported from the project whose
    `forward` resets makes any call in the loop a possible reset, since which call runs that model is
    not known."""
    calls = [n for n in ast.walk(loop) if isinstance(n, ast.Call)]
    if not calls:
        return None
    if not view.reaches(b"grad"):
        return _reset_two_deep(view, calls)
    for call in calls:
        callee = view.callee(call, b"grad")
        if callee is not None and callee.function.resets:
            return ResetElsewhere(call, callee.function.name, view.where(callee.file, callee.function.resets))
    classes = view.imported_classes(b"grad")
    names = {called_name(c) for c in calls}
    for klass, file in classes:
        for method in klass.methods:
            short = method.name.split(".")[-1]
            if method.resets and (short in ("forward", "__call__") or short in names):
                return ResetElsewhere(None, method.name, view.where(file, method.resets))
    return _reset_two_deep(view, calls)


def _reset_two_deep(view: ProjectView, calls: list[ast.Call]) -> ResetElsewhere | None:
    """A call in the loop that runs a project function of another file which itself calls, in a third
    file (or a second), a function that resets: `steps.begin(opt)` where `begin` calls `optim.clear(opt)`.
    Only a callee whose own file's imports hold `grad` is read further (the cheap text test first)."""
    for call in calls:
        callee = view.callee(call)
        if callee is None or callee.function.resets:
            continue
        inner_view = view.view_of(callee.file)
        if inner_view is None:
            continue
        node = inner_view.definition(callee.function.name) if inner_view.reaches(b"grad") else None
        found = None
        for inner in (n for n in ast.walk(node) if isinstance(n, ast.Call)) if node is not None else ():
            deeper = inner_view.callee(inner, b"grad")
            if deeper is not None and deeper.function.resets and deeper.file != callee.file:
                where = inner_view.where(deeper.file, deeper.function.resets)
                found = ResetElsewhere(call, f"{callee.function.name} -> {deeper.function.name}", where)
                break
        view.depend_on(inner_view)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class MovedIntoPack:
    """`model(x, lengths.cuda())` where the model's `forward` (another file) packs that parameter."""

    call: ast.Call  # the call into the project
    argument: ast.expr  # the value passed, on an accelerator
    moved: ast.expr  # the expression that moved it (the argument itself, or its assignment's value)
    function: str  # `Encoder.forward`
    parameter: str
    where: str  # `model.py:14`: the pack call


def moved_into_pack(view: ProjectView, tree: ast.Module) -> list[MovedIntoPack]:
    """Lengths moved to an accelerator here and packed by project code in another file."""
    found: list[MovedIntoPack] = []
    # Cheap tests first, the walk below costs more: a move (is_move) needs `cuda` or a device in the text,
    # and a report needs an imported function that packs one of its parameters.
    text = view.data
    if gate.NARROW and text is not None and b"cuda" not in text and b"device" not in text.lower():
        return found
    if not view.reaches(b"pack_padded_sequence", "packs_a_parameter"):
        return found
    # Only a call that passes a move, or a name some statement assigns a move, can pass moved lengths:
    # those are found first (one walk), and the project is consulted for them alone.
    calls: list[ast.Call] = []
    moved_names: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and (n.args or n.keywords):
            calls.append(n)
        elif isinstance(n, ast.Assign) and is_move(n.value):
            moved_names.update(t.id for t in n.targets if isinstance(t, ast.Name))
    candidates = [
        c
        for c in calls
        if any(
            is_move(a) or (isinstance(a, ast.Name) and a.id in moved_names)
            for a in [*c.args, *(k.value for k in c.keywords)]
        )
    ]
    if not candidates:
        return found
    parents: dict[int, ast.AST] | None = None
    for node in candidates:
        callee = view.callee(node, b"pack_padded_sequence")
        if callee is None or not callee.function.packs:
            continue
        if parents is None:
            parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        function = callee.function
        for parameter, line in function.packs:
            passed = passed_argument(node, function, callee.skipped, parameter)
            if passed is None:
                continue
            moved = passed if is_move(passed) else _moved_binding(passed, node, parents)
            if moved is not None:
                found.append(
                    MovedIntoPack(node, passed, moved, function.name, parameter, view.where(callee.file, line))
                )
    return found


def passed_argument(call: ast.Call, function: FunctionSummary, skipped: int, parameter: str) -> ast.expr | None:
    """The argument `call` gives `parameter`, if it is written (no `*args` before it)."""
    for kw in call.keywords:
        if kw.arg == parameter:
            return kw.value
    index = function.params.index(parameter) - skipped
    if 0 <= index < len(call.args) and index + skipped < function.positional:
        if not any(isinstance(a, ast.Starred) for a in call.args[: index + 1]):
            return call.args[index]
    return None


def is_move(node: ast.expr) -> bool:
    """`x.cuda()` or `x.to(device)` / `x.to("cuda")` (the test facts.tensors and PKL111 use for a device)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr == "cuda":
        return True
    if node.func.attr == "to" and node.args:
        target = node.args[0]
        text = dotted(target)
        if text is not None and "device" in text.split(".")[-1].lower():
            return True
        return isinstance(target, ast.Constant) and str(target.value).startswith("cuda")
    return False


def _moved_binding(node: ast.expr, call: ast.Call, parents: dict[int, ast.AST]) -> ast.expr | None:
    """The move that `node` (a name) holds at `call`: its last assignment before the call in the same
    function is `name = x.cuda()`, in a block the call runs in (so no branch skips it)."""
    if not isinstance(node, ast.Name):
        return None
    ancestors: list[ast.AST] = []
    current: ast.AST | None = parents.get(id(call))
    while current is not None:
        ancestors.append(current)
        if isinstance(current, _DEFS):
            break
        current = parents.get(id(current))
    scope = ancestors[-1] if ancestors else None
    if scope is None:
        return None
    last: ast.stmt | None = None
    for stmt in ast.walk(scope):
        if not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With)):
            continue
        if stmt.lineno >= call.lineno or _in_nested(stmt, scope, parents):
            continue
        if any(isinstance(n, ast.Name) and n.id == node.id and not isinstance(n.ctx, ast.Load) for n in _targets(stmt)):
            if last is None or (stmt.lineno, stmt.col_offset) > (last.lineno, last.col_offset):
                last = stmt
    if not isinstance(last, ast.Assign) or len(last.targets) != 1 or not is_move(last.value):
        return None
    if parents.get(id(last)) not in ancestors:
        return None  # assigned in a branch (or a loop) the call is not in
    return last.value


def _targets(stmt: ast.stmt) -> list[ast.AST]:
    if isinstance(stmt, ast.Assign):
        return [n for t in stmt.targets for n in ast.walk(t)]
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign, ast.For)):
        return list(ast.walk(stmt.target))
    if isinstance(stmt, ast.With):
        return [n for item in stmt.items if item.optional_vars is not None for n in ast.walk(item.optional_vars)]
    return []


def _in_nested(node: ast.AST, scope: ast.AST, parents: dict[int, ast.AST]) -> bool:
    current = parents.get(id(node))
    while current is not None and current is not scope:
        if isinstance(current, _DEFS):
            return True
        current = parents.get(id(current))
    return False
