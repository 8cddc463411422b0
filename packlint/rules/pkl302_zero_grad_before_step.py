"""PKL302: gradients reset after `backward()` and before the optimizer step that needs them."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import LoopFacts, ResetBeforeStep, is_backward, key_of, resets_before_step, step_of
from packlint.fixes.changes import move_statement
from packlint.fixes.edits import short_text_of
from packlint.rules.base import Context, Rule


class ZeroGradBeforeStep(Rule):
    """
    ## What it does
    Reports a gradient reset (`opt.zero_grad()`, or `model.zero_grad()` on the model that optimizer
    updates) placed after `.backward()` and before that optimizer's `.step()` in the same block.

    ## Why is this bad?
    The reset throws away the gradients that `backward()` just computed, so the step has nothing
    to apply. Since torch 2.0 `zero_grad()` sets `.grad` to `None` by default and the optimizer skips
    every parameter: the loss never moves, and nothing raises.

    ## Example
    ```python
    def train(model, optimizer, loader, loss_fn):
        for inputs, targets in loader:
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.zero_grad()
            optimizer.step()
    ```

    ## Use instead
    ```python
    def train(model, optimizer, loader, loss_fn):
        for inputs, targets in loader:
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    ```

    ## Fix safety
    Safe: the fix moves the reset (with its comment) to just after the step, where it clears the
    gradients the step has used, before the next `backward()`; a reset and step that share a line
    trade places on it. Another optimizer's step between them is passed over (`opt_a.zero_grad()`
    moves behind `opt_a.step()`). When the reset is not the stepped optimizer's own
    (`model.zero_grad()`) and another step follows in the same block, that step may need the same
    gradients: no fix is offered.
    """

    code = "PKL302"
    name = "zero-grad-before-step"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for found in resets_before_step(ctx.loops):
            reset = short_text_of(ctx.source, found.reset.value)
            backward = short_text_of(ctx.source, found.backward)
            step = short_text_of(ctx.source, found.step.value)
            message = (
                f"`{reset}` runs between `{backward}` and `{step}`: the step sees no gradients; "
                f"move it after `{step}` or before `{backward}`"
            )
            yield self.diagnostic(ctx, found.reset.value, message, self._fix(ctx, found))

    def _fix(self, ctx: Context, found: ResetBeforeStep) -> Fix | None:
        source = ctx.source
        if not resets_only(found) and steps_follow(ctx.loops, found):
            return None  # `model.zero_grad()` may empty what a later `opt_b.step()` needs as well
        reset = short_text_of(source, found.reset.value)
        step = short_text_of(source, found.step.value)
        return self.safe_fix(f"Move `{reset}` after `{step}`", move_statement(source, found.reset, found.step))


def resets_only(found: ResetBeforeStep) -> bool:
    """Whether the reset is the stepped optimizer's own (`opt.zero_grad()` before `opt.step()`)."""
    call = found.reset.value
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
        return False
    return key_of(call.func.value) == found.optimizer.key


def steps_follow(facts: LoopFacts, found: ResetBeforeStep) -> bool:
    """Whether another optimizer step follows the step in its block before the next backward."""
    parent = facts.index.parents.get(id(found.step))
    for field in ("body", "orelse", "finalbody"):
        block = getattr(parent, field, None)
        if isinstance(block, list) and found.step in block:
            for stmt in block[block.index(found.step) + 1 :]:
                nodes = list(ast.walk(stmt))
                if any(is_backward(n) for n in nodes):
                    return False
                if any(step_of(n, facts.optimizers) is not None for n in nodes):
                    return True
    return False
