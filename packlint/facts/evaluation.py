"""Evaluation loops: a model put in `eval()` mode and then run, batch after batch, with autograd on."""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Union

from packlint.facts.loops import is_backward
from packlint.facts.nodes import Nodes
from packlint.facts.syntax import first_line, scopes

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_NO_GRAD = ("no_grad", "inference_mode")
Scope = Union[ast.Module, ast.FunctionDef, ast.AsyncFunctionDef]  # a run-time alias: Python 3.9


@dataclass(frozen=True)
class EvalLoop:
    """`model.eval()` then `for batch in loader: model(batch)` outside `torch.no_grad()`."""

    loop: ast.For | ast.AsyncFor
    forward: ast.Call  # the first call of the model in the loop
    eval_call: ast.Call  # `model.eval()`
    model: str  # the model as written: `model`, `self.net`
    function: ast.FunctionDef | ast.AsyncFunctionDef | None  # None at module level


def eval_loops(tree: ast.Module, nodes: Callable[[], Nodes], eval_lines: Sequence[int]) -> list[EvalLoop]:
    """Evaluation loops that build an autograd graph on every batch for nothing. `eval_lines`: the lines of
    the text where an attribute `eval` may be taken (`attribute_lines`: every `model.eval()` has its `.` on
    one); `nodes` gives the file's node index, built only when an answer needs the whole file."""
    if not eval_lines:
        return []
    found = [loop for scope, index in _candidate_scopes(tree, nodes, eval_lines) for loop in scope_loops(scope, index)]
    if not found:
        return []
    functions: list[Scope] = [tree, *nodes().walk(tree, ast.FunctionDef, ast.AsyncFunctionDef)]
    guarded = guarded_functions(tree, functions)
    return [loop for loop in found if loop.function is None or loop.function.name not in guarded]


def _candidate_scopes(
    tree: ast.Module, nodes: Callable[[], Nodes], lines: Sequence[int]
) -> Iterator[tuple[Scope, Nodes]]:
    # The scopes whose own code may hold a `model.eval()`, each with an index that covers it. A call's
    # `.eval` lies on a line of the statement around it: going down the statements to that line, the
    # innermost one holds the call, and the innermost function on the way is the only one whose own
    # code can (`scope_loops` reads only a scope's own calls); outside every function, the module's.
    # A function is indexed alone; the module, whose own code is every statement outside a definition,
    # takes the file's index.
    chosen: dict[int, Scope] = {}
    module = False
    starts: dict[int, list[int]] = {}  # per statement list, its statements' first lines
    for line in sorted(set(lines)):
        body: list[ast.stmt] = tree.body
        top: ast.stmt | None = None
        innermost: ast.FunctionDef | ast.AsyncFunctionDef | None = None
        deepest: ast.stmt | None = None
        while True:
            firsts = starts.get(id(body))
            if firsts is None:
                firsts = starts[id(body)] = [first_line(stmt) for stmt in body]
            stmt = _statement_at(body, firsts, line)
            if stmt is None:
                break
            top = top or stmt
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                innermost = stmt
            deepest = stmt
            body = _inner_statement_at(stmt, line)
            if not body:
                break
        if deepest is None or not any(is_eval_call(node) for node in ast.walk(deepest)):
            continue  # a comment, a string, or no `x.eval()` call there
        if innermost is not None:
            chosen.setdefault(id(innermost), innermost)
        elif not isinstance(top, _DEFS):
            module = True
    if module:
        yield tree, nodes()
    for scope in chosen.values():
        yield scope, Nodes(scope)


def _statement_at(body: list[ast.stmt], firsts: list[int], line: int) -> ast.stmt | None:
    """The statement of `body` (whose first lines are `firsts`) whose lines, decorators included, hold `line`."""
    at = bisect.bisect_right(firsts, line) - 1
    if at < 0:
        return None
    stmt = body[at]
    return stmt if line <= (stmt.end_lineno or stmt.lineno) else None


def _inner_statement_at(stmt: ast.stmt, line: int) -> list[ast.stmt]:
    """The statement list inside `stmt` (a body, an `else`, a handler's or a case's body) that holds `line`."""
    lists: list[list[ast.stmt]] = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(stmt, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            lists.append(value)
    for holder in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
        lists.append(holder.body)
    for statements in lists:
        if statements and first_line(statements[0]) <= line <= (statements[-1].end_lineno or line):
            return statements
    return []


def attribute_lines(text: str, line_starts: Sequence[int], name: str) -> list[int]:
    """The 1-based lines of `text` where an attribute `name` may be taken: a `.` followed by `name`, with
    anything Python allows between them (spaces, a line break inside brackets, a backslash, a comment)."""
    # A comment runs to its line's end: matched so, a `#` banner cannot be split in exponentially many ways.
    pattern = re.compile(rf"\.(?:\s|\\|#[^\r\n]*(?=[\r\n]|\Z))*{re.escape(name)}(?!\w)")
    return sorted({bisect.bisect_right(line_starts, m.start()) for m in pattern.finditer(text)})


def is_eval_call(node: ast.AST) -> bool:
    """`model.eval()`: an attribute called `eval` with no arguments."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "eval"
        and not node.args
        and not node.keywords
    )


def own_nodes(scope: ast.AST) -> Iterator[tuple[ast.AST, tuple[ast.AST, ...]]]:
    """Nodes of `scope` outside nested definitions, each with its ancestors inside the scope."""
    stack: list[tuple[ast.AST, tuple[ast.AST, ...]]] = [(child, ()) for child in ast.iter_child_nodes(scope)]
    while stack:
        node, above = stack.pop()
        yield node, above
        if isinstance(node, _DEFS):
            continue
        stack.extend((child, (*above, node)) for child in ast.iter_child_nodes(node))


def turns_off_grad(node: ast.AST) -> bool:
    """`with torch.no_grad():`, `with torch.inference_mode():` (any alias), or `set_grad_enabled`."""
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return any(mentions(item.context_expr, (*_NO_GRAD, "set_grad_enabled")) for item in node.items)
    return False


def mentions(node: ast.AST, words: tuple[str, ...]) -> bool:
    text = ast.unparse(node)
    return any(word in text for word in words)


def guarded_functions(tree: ast.Module, functions: list[Scope] | None = None) -> set[str]:
    """Functions that run with autograd off: decorated so, or called here only from where it is off."""
    guarded: set[str] = set()
    calls: dict[str, list[bool]] = {}
    for scope in functions if functions is not None else scopes(tree):
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(mentions(d, _NO_GRAD) for d in scope.decorator_list):
                guarded.add(scope.name)
        # Whether autograd is off travels down with the walk: each `with` is read once, not once per
        # call beneath it (the ancestor chains of `own_nodes` made this quadratic in nesting).
        stack: list[tuple[ast.AST, bool]] = [(child, False) for child in ast.iter_child_nodes(scope)]
        while stack:
            node, off = stack.pop()
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if name is not None:
                    calls.setdefault(name, []).append(off)
            if isinstance(node, _DEFS):
                continue
            inner = off or turns_off_grad(node)
            stack.extend((child, inner) for child in ast.iter_child_nodes(node))
    # One call from a no_grad block is enough to say the author knew; we cannot see other files.
    guarded.update(name for name, offs in calls.items() if any(offs))
    return guarded


def scope_loops(scope: Scope, index: Nodes | None = None) -> list[EvalLoop]:
    """The evaluation loops of one scope (its own code, not nested functions)."""
    index = index if index is not None else Nodes(scope)
    calls = index.own(scope, ast.Call)
    if any(is_backward(n) for n in calls):
        return []  # the scope trains: its graph may be wanted
    if any(mentions(n.func, ("set_grad_enabled", "enable_grad")) for n in calls):
        return []
    evals: list[tuple[ast.Call, str]] = []
    trains: list[tuple[int, str]] = []
    for node in calls:
        if isinstance(node.func, ast.Attribute) and not node.args:
            if node.func.attr == "eval" and not node.keywords:
                evals.append((node, ast.unparse(node.func.value)))
            elif node.func.attr == "train":
                trains.append((node.lineno, ast.unparse(node.func.value)))
    if not evals:
        return []
    found = []
    for loop in index.own(scope, ast.For, ast.AsyncFor):
        above = index.above(loop, scope)
        if any(isinstance(a, (ast.For, ast.AsyncFor)) for a in above):
            continue  # outermost loops only: one report per evaluation pass
        if any(turns_off_grad(a) for a in above):
            continue
        for eval_call, model in evals:
            if eval_call.lineno >= loop.lineno:
                continue
            if any(model == m and eval_call.lineno < line < loop.end_lineno for line, m in trains):  # type: ignore[operator]
                continue  # back to training mode before (or inside) the loop
            forward = first_forward(loop, model)
            if forward is not None:
                function = scope if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
                found.append(EvalLoop(loop, forward, eval_call, model, function))
                break
    return found


def first_forward(loop: ast.For | ast.AsyncFor, model: str) -> ast.Call | None:
    """The first `model(...)` in the loop that no `no_grad` block inside the loop covers."""
    for node, above in sorted(own_nodes(loop), key=lambda pair: (getattr(pair[0], "lineno", 0), id(pair[0]))):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == model:
            if not any(turns_off_grad(a) for a in above):
                return node
    return None
