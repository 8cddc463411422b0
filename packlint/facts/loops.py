"""Training-loop facts: where gradients are computed, applied and reset."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

_OPTIMIZER_NAME = re.compile(r"optim|(^|_)opt($|_|[A-Z0-9])|^opt[A-Z_0-9]|optimi[sz]er", re.I)
_NOT_OPTIMIZER = re.compile(r"sched|(^|_)lr($|_)|warmup", re.I)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
LOOPS = (ast.For, ast.AsyncFor, ast.While)


@dataclass(frozen=True)
class Step:
    """`opt.step()` or `scaler.step(opt)`: an optimizer step, and whether every iteration takes it."""

    call: ast.Call
    optimizer: str  # source text of the optimizer: `opt`, `self.optimizer`
    unconditional: bool


@dataclass(frozen=True)
class TrainingLoop:
    """The innermost loop that holds both a backward pass and an optimizer step."""

    node: ast.For | ast.AsyncFor | ast.While
    steps: tuple[Step, ...]
    resets: bool  # a gradient reset anywhere inside, or in a same-file helper called inside


@dataclass(frozen=True)
class ResetBeforeStep:
    """`loss.backward(); opt.zero_grad(); opt.step()` in one block."""

    reset: ast.Expr
    step: ast.stmt
    optimizer: str


def _walk_code(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes that run when `node` runs: not the bodies of nested functions or classes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, _DEFS):
            stack.extend(ast.iter_child_nodes(child))


def _text(node: ast.expr) -> str:
    return ast.unparse(node)


def is_backward(node: ast.AST) -> bool:
    """`loss.backward()`, `scaler.scale(loss).backward()`, `accelerator.backward(loss)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("backward", "manual_backward")
    )


def is_reset(node: ast.AST) -> bool:
    """`opt.zero_grad()`, `model.zero_grad()`, `p.grad = None`, `p.grad.zero_()`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "zero_grad":
            return True
        if node.func.attr in ("zero_", "detach_"):
            inner = node.func.value
            if isinstance(inner, ast.Attribute) and inner.attr == "data":
                inner = inner.value
            return isinstance(inner, ast.Attribute) and inner.attr == "grad"
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Attribute) and t.attr == "grad" for t in node.targets)
    return False


def optimizer_names(tree: ast.Module) -> dict[str, str | None]:
    """Names assigned a `torch.optim` optimizer in this file, with the model whose parameters it gets."""
    found: dict[str, str | None] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
            continue
        func = node.value.func
        name = _text(func)
        if "optim" in name and isinstance(func, ast.Attribute) and func.attr[:1].isupper():
            model = None
            first = node.value.args[0] if node.value.args else None
            if isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute):
                if first.func.attr == "parameters":
                    model = _text(first.func.value)
            for target in node.targets:
                found[_text(target)] = model
    return found


def step_of(node: ast.AST, optimizers: dict[str, str | None]) -> str | None:
    """The optimizer that `node` steps, if it is an optimizer step."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    receiver = node.func.value
    if node.func.attr == "step":
        if node.args and (_looks_like_optimizer(node.args[0], optimizers)):
            return _text(node.args[0])  # `scaler.step(opt)`
        if not node.args and _looks_like_optimizer(receiver, optimizers):
            return _text(receiver)
        if node.args and _looks_like_optimizer(receiver, optimizers) and not isinstance(node.args[0], ast.Constant):
            return _text(receiver)  # `opt.step(closure)`
    if node.func.attr == "optimizer_step" and node.args and _looks_like_optimizer(node.args[0], optimizers):
        return _text(node.args[0])  # torch_xla's `xm.optimizer_step(opt)`
    return None


def _looks_like_optimizer(node: ast.expr, optimizers: dict[str, str | None]) -> bool:
    text = _text(node)
    if text in optimizers:
        return True
    last = text.split(".")[-1]
    if isinstance(node, ast.Subscript):
        return False
    return bool(_OPTIMIZER_NAME.search(last)) and not _NOT_OPTIMIZER.search(last)


def resetting_functions(tree: ast.Module) -> set[str]:
    """Names of functions defined in this file that reset gradients, directly or through another."""
    bodies: dict[str, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bodies.setdefault(node.name, node)
    resetting = {name for name, body in bodies.items() if any(is_reset(n) for n in ast.walk(body))}
    changed = True
    while changed:
        changed = False
        for name, body in bodies.items():
            if name not in resetting and any(_called_name(n) in resetting for n in ast.walk(body)):
                resetting.add(name)
                changed = True
    return resetting


def _called_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
    return None


def _unconditional(loop: ast.AST, call: ast.Call, parents: dict[int, ast.AST]) -> bool:
    node: ast.AST = call
    while id(node) in parents:
        node = parents[id(node)]
        if node is loop:
            return True
        if isinstance(node, (ast.If, ast.Try, ast.IfExp, ast.BoolOp, *LOOPS, *_DEFS)) or type(node).__name__ in (
            "Match",
            "TryStar",
        ):
            return False
    return False


def training_loops(tree: ast.Module) -> list[TrainingLoop]:
    """Innermost loops with a backward and a step, and whether they reset gradients."""
    optimizers = optimizer_names(tree)
    helpers = resetting_functions(tree)
    parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    found: list[TrainingLoop] = []
    for loop in ast.walk(tree):
        if not isinstance(loop, LOOPS):
            continue
        code = list(_walk_code(loop))
        if not any(is_backward(n) for n in code):
            continue
        steps = [(n, step_of(n, optimizers)) for n in code]
        steps = [(n, o) for n, o in steps if o is not None]
        if not steps:
            continue
        inner = [n for n in code if isinstance(n, LOOPS)]
        if any(
            any(is_backward(m) for m in _walk_code(i)) and any(step_of(m, optimizers) for m in _walk_code(i))
            for i in inner
        ):
            continue  # reported on the inner loop
        everything = list(ast.walk(loop))
        resets = any(is_reset(n) for n in everything) or any(
            _called_name(n) in helpers or (_called_name(n) or "").endswith("zero_grad") for n in everything
        )
        found.append(
            TrainingLoop(
                loop,
                tuple(Step(n, o, _unconditional(loop, n, parents)) for n, o in steps),  # type: ignore[arg-type]
                resets,
            )
        )
    return found


def resets_before_step(tree: ast.Module) -> list[ResetBeforeStep]:
    """Resets between a backward and the step of the same optimizer in one block."""
    optimizers = optimizer_names(tree)
    found: list[ResetBeforeStep] = []
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                found.extend(_scan_block(block, optimizers))
    return found


def _scan_block(block: list[ast.stmt], optimizers: dict[str, str | None]) -> Iterator[ResetBeforeStep]:
    def backward_in(stmt: ast.stmt) -> bool:
        return any(is_backward(n) for n in [stmt, *_walk_code(stmt)])

    for b, stmt in enumerate(block):
        if not backward_in(stmt):
            continue
        for r in range(b + 1, len(block)):
            reset = block[r]
            if backward_in(reset):
                break
            if not (isinstance(reset, ast.Expr) and is_reset(reset.value) and isinstance(reset.value, ast.Call)):
                continue
            receiver = _text(reset.value.func.value)  # type: ignore[attr-defined]
            for s in range(r + 1, len(block)):
                later = block[s]
                if backward_in(later):
                    break
                stepped = next((o for n in [later, *_walk_code(later)] if (o := step_of(n, optimizers))), None)
                if stepped is None:
                    continue
                if receiver == stepped or (receiver and optimizers.get(stepped) == receiver):
                    if isinstance(later, ast.Expr):
                        yield ResetBeforeStep(reset, later, stepped)
                break
            break
