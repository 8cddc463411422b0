"""PKL301: a training loop that steps the optimizer but never resets the gradients."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import TrainingLoop, dotted, training_loops
from packlint.fixes.edits import edit, indentation, short_text_of, text_of
from packlint.rules.base import Context, Rule
from packlint.rules.triggers import BACKWARD_AND_STEP
from packlint.source import Source


class MissingZeroGrad(Rule):
    """
    ## What it does
    Reports a loop that calls `.backward()` and an optimizer step (`opt.step()`,
    `scaler.step(opt)`) but never resets the gradients: no `opt.zero_grad()`, `model.zero_grad()`,
    `p.grad = None` or `p.grad.zero_()` anywhere in the loop, nor in a helper of the same file
    that the loop calls. The loop reported is the innermost one holding both the backward and the step.

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
    Safe: the fix inserts `<optimizer>.zero_grad()` as the first statement of the loop, and is offered
    only when the loop steps exactly one optimizer on every iteration. With several optimizers,
    or a step taken only on some iterations (gradient accumulation), where the reset belongs is a
    decision for the reader, and no fix is offered.
    """

    code = "PKL301"
    name = "missing-zero-grad"
    triggers = BACKWARD_AND_STEP
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for loop in training_loops(ctx.loops):
            if loop.resets or any(step.closure for step in loop.steps):
                continue  # `opt.step(closure)`: the closure is where LBFGS-style code resets
            backward = short_text_of(ctx.source, loop.backward)
            step = short_text_of(ctx.source, loop.steps[0].call)
            message = (
                f"This loop calls `{backward}` and `{step}` but never resets the gradients; "
                "call `zero_grad()` on the optimizer once per iteration"
            )
            yield self.diagnostic(ctx, loop.node, message, self._fix(ctx.source, loop))

    def _fix(self, source: Source, loop: TrainingLoop) -> Fix | None:
        keys = {step.key for step in loop.steps}
        if len(keys) != 1 or not all(loop.unconditional):
            return None
        optimizer = loop.steps[0].optimizer
        if dotted(optimizer) is None or _names(optimizer) & loop.bound:
            return None  # `opt` made inside the loop, or `opts[i]`: no single object to reset up front
        first = loop.node.body[0]
        decorators = getattr(first, "decorator_list", [])
        row = min([first.lineno, *(d.lineno for d in decorators)])
        start = source.line_starts[row - 1]
        own_line = (
            source.line(row).lstrip().startswith("@")
            if decorators
            else not source.text[start : source.offset(row, first.col_offset)].strip()
        )
        if not own_line:
            return None  # `for x in xs: loss.backward(); opt.step()` on one line
        text = f"{text_of(source, optimizer)}.zero_grad()"
        insert = f"{indentation(source, first)}{text}{source.newline}"
        return self.safe_fix(f"Insert `{text}` at the start of the loop", edit(source, start, start, insert))


def _names(node: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
