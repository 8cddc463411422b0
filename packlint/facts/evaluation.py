"""Evaluation loops: a model put in `eval()` mode and then run, batch after batch, with autograd on."""

from __future__ import annotations

import ast
import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

from packlint.facts.loops import is_backward
from packlint.facts.nodes import Nodes

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


def eval_loops(tree: ast.Module, nodes: Nodes | None = None) -> list[EvalLoop]:
    """Evaluation loops that build an autograd graph on every batch for nothing."""
    nodes = nodes if nodes is not None else Nodes(tree)
    lines = sorted(node.lineno for node in nodes.inside(tree, ast.Call) if is_eval_call(node))
    if not lines:
        return []  # most files that say `eval(` call the builtin, or no model at all
    # The module, then every function in `ast.walk` order (`scopes`).
    functions: list[Scope] = [tree, *nodes.walk(tree, ast.FunctionDef, ast.AsyncFunctionDef)]
    # Only a scope whose lines hold a `model.eval()` can have an evaluation loop (scope_loops asks for one).
    found = [loop for scope in functions if _spans(scope, lines) for loop in scope_loops(scope, nodes)]
    if not found:
        return []
    guarded = guarded_functions(tree, functions)
    return [loop for loop in found if loop.function is None or loop.function.name not in guarded]


def _spans(scope: Scope, lines: list[int]) -> bool:
    if isinstance(scope, ast.Module):
        return True
    at = bisect.bisect_left(lines, scope.lineno)
    return at < len(lines) and lines[at] <= (scope.end_lineno or scope.lineno)


def is_eval_call(node: ast.AST) -> bool:
    """`model.eval()`: an attribute called `eval` with no arguments."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "eval"
        and not node.args
        and not node.keywords
    )


def scopes(tree: ast.Module) -> Iterator[Scope]:
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


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
