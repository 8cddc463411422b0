"""PKL301: a training loop that steps the optimizer but never resets the gradients."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import replace

from packlint.diagnostics import Applicability, Diagnostic, Fix
from packlint.facts import (
    LOOPS,
    LoopFacts,
    TrainingLoop,
    called_name,
    dotted,
    is_reset,
    training_loops,
)
from packlint.fixes.changes import insert_first, insert_statement
from packlint.fixes.edits import short_text_of, text_of
from packlint.rules.base import Context, Rule
from packlint.source import Source


class MissingZeroGrad(Rule):
    """
    ## What it does
    Reports a loop that calls `.backward()` and an optimizer step (`opt.step()`,
    `scaler.step(opt)`) but never resets the gradients: no `opt.zero_grad()`, `model.zero_grad()`,
    `p.grad = None` or `p.grad.zero_()` anywhere in the loop, nor in a helper of the same file
    that the loop calls. The loop reported is the innermost one holding both the backward and the step.
    In project mode (`--project`) a reset in another file of the project also counts: a helper the
    loop calls, or the `forward` of a model class imported from the project (`self.zero_grad()`).

    ## Why is this bad?
    `backward()` adds to `.grad`; it does not overwrite it. Without a reset every step applies
    the sum of all gradients since the start of training, and the model diverges or stalls, silently.
    With AMP's `GradScaler` the first non-finite gradient (routine in fp16 at start-up) is never
    cleared, so every later `scaler.step` is skipped and training silently stops.

    ## Example
    ```python
    def train(model, optimizer, loader, loss_fn):
        for inputs, targets in loader:
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
    ```

    ## Use instead
    ```python
    def train(model, optimizer, loader, loss_fn):
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
    ```

    ## Fix safety
    Safe when the loop steps exactly one optimizer, on every iteration, and no loop around it
    resets gradients. The reset goes where the step's gradients are used up: as the first statement
    of the loop when the backward pass comes before the step (forward, backward, step), and right
    after the step when the step comes first (step, forward, backward), where a reset at the top
    would run between each backward and its step and stop training. With several optimizers, or a
    step taken only on some iterations (gradient accumulation), where the reset belongs is a
    decision for the reader, and no fix is offered. When an outer loop already resets (once per
    epoch, say), the inner loop may accumulate on purpose: the fix is unsafe.
    """

    code = "PKL301"
    name = "missing-zero-grad"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        if ctx.project is not None:
            from packlint.project import reset_elsewhere  # project mode only: a plain check never loads it
        for loop in training_loops(ctx.loops):
            if loop.resets or any(step.closure for step in loop.steps):
                continue  # `opt.step(closure)`: the closure is where LBFGS-style code resets
            if ctx.project is not None and reset_elsewhere(ctx.project, loop.node) is not None:
                continue  # a helper, or the model's `forward`, in another file of the project resets
            backward = short_text_of(ctx.source, loop.backward)
            step = short_text_of(ctx.source, loop.steps[0].call)
            message = (
                f"This loop calls `{backward}` and `{step}` but never resets the gradients; "
                "call `zero_grad()` on the optimizer once per iteration"
            )
            fix = self._fix(ctx.source, loop)
            if fix is not None and outer_loop_resets(ctx.loops, loop.node):
                fix = replace(fix, applicability=Applicability.UNSAFE)  # the inner loop may accumulate on purpose
            yield self.diagnostic(ctx, loop.node, message, fix)

    def _fix(self, source: Source, loop: TrainingLoop) -> Fix | None:
        keys = {step.key for step in loop.steps}
        if len(keys) != 1 or not all(loop.unconditional):
            return None
        optimizer = loop.steps[0].optimizer
        if dotted(optimizer) is None or _names(optimizer) & loop.bound:
            return None  # `opt` made inside the loop, or `opts[i]`: no single object to reset up front
        if step_precedes_backward(loop):
            return self._fix_after_step(source, loop)
        text = f"{text_of(source, optimizer)}.zero_grad()"
        return self.safe_fix(f"Insert `{text}` at the start of the loop", insert_first(source, loop.node, text))

    def _fix_after_step(self, source: Source, loop: TrainingLoop) -> Fix | None:
        """`step; forward; backward`: the reset right after the step statement."""
        step = loop.steps[0]
        statement = step_statement(loop, step.call)
        if statement is None:
            return None
        text = f"{text_of(source, step.optimizer)}.zero_grad()"
        message = f"Insert `{text}` after `{short_text_of(source, step.call)}`"
        return self.safe_fix(message, insert_statement(source, statement, text, after=True))


def outer_loop_resets(facts: LoopFacts, loop: ast.AST) -> bool:
    """Whether a loop around `loop` (in the same function) resets gradients somewhere."""
    parents = facts.index.parents
    helpers = facts.resetting
    node = parents.get(id(loop))
    while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        if isinstance(node, LOOPS) and any(is_reset(n) or called_name(n) in helpers for n in ast.walk(node)):
            return True
        node = parents.get(id(node))
    return False


def step_precedes_backward(loop: TrainingLoop) -> bool:
    """Whether the step comes before the first backward pass in the loop's text."""
    step = loop.steps[0].call
    return (step.lineno, step.col_offset) < (loop.backward.lineno, loop.backward.col_offset)


def step_statement(loop: TrainingLoop, call: ast.Call) -> ast.stmt | None:
    """The statement `opt.step()` that is the step call itself, in a block of the loop."""
    for node in ast.walk(loop.node):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                for stmt in block:
                    if isinstance(stmt, ast.Expr) and stmt.value is call:
                        return stmt
    return None


def _names(node: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
