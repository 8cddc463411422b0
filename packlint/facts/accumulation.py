"""Losses kept across training steps with their autograd graph: `total += loss`, `losses.append(loss)`."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from packlint.facts.loops import LoopFacts, is_backward, training_loops

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)


@dataclass(frozen=True)
class Accumulation:
    """`total += loss` (or `total = total + loss`, `losses.append(loss)`) in a training loop."""

    node: ast.stmt
    holder: ast.expr  # `total`, `self.losses`
    loss: ast.Name  # the loss as read in the accumulated value
    value: ast.expr  # the accumulated expression, where `.detach()` goes
    kind: str  # "add" or "append"


def accumulations(facts: LoopFacts) -> list[Accumulation]:
    """Each place a training loop keeps the tensor it calls `.backward()` on, graph attached."""
    found: list[Accumulation] = []
    seen: set[int] = set()
    backward_texts: set[str] | None = None  # computed once, for the first accumulation found
    for loop in training_loops(facts):
        losses = {name for call in backward_calls(loop.node) if (name := loss_name(call)) is not None}
        if not losses:
            continue
        body = list(statements(loop.node.body))
        assigned = assignment_counts(body)
        for stmt in body:
            if id(stmt) in seen:
                continue
            hit = accumulation(stmt, losses)
            if hit is None:
                continue
            holder_text = ast.unparse(hit.holder)
            if hit.loss.id in assigned and assigned[hit.loss.id] > 1:
                continue  # `loss = loss.item()` somewhere in the loop: which value is kept is unclear
            if root_name(hit.holder) in assigned and hit.kind == "append":
                continue  # a list made inside the loop lives one iteration
            if (
                hit.kind == "add"
                and isinstance(hit.holder, ast.Name)
                and assigned.get(hit.holder.id, 0) > (1 if isinstance(stmt, ast.Assign) else 0)
            ):
                continue  # reset inside the loop: `running = 0` every so many steps
            if backward_texts is None:
                backward_texts = {ast.unparse(n) for n in ast.walk(facts.tree) if is_backward(n) or is_grad_call(n)}
            if any(holder_text in text for text in backward_texts):
                continue  # the sum is backwarded later: keeping the graph is the point
            seen.add(id(stmt))
            found.append(hit)
    return found


def is_grad_call(node: ast.AST) -> bool:
    """`torch.autograd.grad(...)` / `autograd.grad(...)`: a use of the graph as much as backward."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "grad"


def backward_calls(loop: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(loop):
        if isinstance(node, ast.Call) and is_backward(node):
            yield node


def loss_name(call: ast.Call) -> str | None:
    """`loss` of `loss.backward()`, `scaler.scale(loss).backward()`, `accelerator.backward(loss)`."""
    assert isinstance(call.func, ast.Attribute)
    receiver = call.func.value
    if isinstance(receiver, ast.Name) and not call.args:
        return receiver.id
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute) and receiver.func.attr == "scale":
        if len(receiver.args) == 1 and isinstance(receiver.args[0], ast.Name):
            return receiver.args[0].id
    if call.args and isinstance(call.args[0], ast.Name):
        return call.args[0].id
    return None


def statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a loop body, nested blocks included, not inside nested definitions."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, _DEFS):
            continue
        for name in ("body", "orelse", "finalbody", "handlers"):
            for child in getattr(stmt, name, ()):
                if isinstance(child, ast.ExceptHandler):
                    yield from statements(child.body)
                elif isinstance(child, ast.stmt):
                    yield from statements([child])


def assignment_counts(body: list[ast.stmt]) -> dict[str, int]:
    """How often each plain name is bound by `=` (or as a loop or `with` target) in the loop."""
    counts: dict[str, int] = {}
    for stmt in body:
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets = [stmt.target]
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            targets = [stmt.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    counts[node.id] = counts.get(node.id, 0) + 1
    return counts


def accumulation(stmt: ast.stmt, losses: set[str]) -> Accumulation | None:
    """The accumulation `stmt` makes of one of `losses`, if it is one."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add):
        loss = carried(stmt.value, losses)
        if loss is not None and isinstance(stmt.target, (ast.Name, ast.Attribute, ast.Subscript)):
            return Accumulation(stmt, stmt.target, loss, stmt.value, "add")
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.BinOp):
        target, value = stmt.targets[0], stmt.value
        if isinstance(target, ast.Name) and isinstance(value.op, ast.Add):
            for mine, other in ((value.left, value.right), (value.right, value.left)):
                if isinstance(mine, ast.Name) and mine.id == target.id:
                    loss = carried(other, losses)
                    if loss is not None:
                        return Accumulation(stmt, target, loss, other, "add")
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        if isinstance(call.func, ast.Attribute) and call.func.attr == "append" and len(call.args) == 1:
            loss = carried(call.args[0], losses)
            if loss is not None and isinstance(call.func.value, (ast.Name, ast.Attribute)):
                return Accumulation(stmt, call.func.value, loss, call.args[0], "append")
    return None


def carried(node: ast.expr, losses: set[str]) -> ast.Name | None:
    """The loss `node` computes with, graph attached: `loss`, `loss * x.size(0)`; not `loss.item()`."""
    if isinstance(node, ast.Name):
        return node if node.id in losses else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC):
        return carried(node.left, losses) or carried(node.right, losses)
    return None


def root_name(node: ast.expr) -> str | None:
    """`losses` of `losses`, None for `self.losses` (state that outlives the loop)."""
    return node.id if isinstance(node, ast.Name) else None
