"""PKL302: gradients reset after `backward()` and before the optimizer step that needs them."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts.loops import ResetBeforeStep, resets_before_step
from packlint.fixes.changes import move_statement
from packlint.fixes.edits import short_text_of
from packlint.rules.base import Context, Rule
from packlint.rules.triggers import TRAINING
from packlint.source import Source


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
    Safe: the fix moves the reset to just after the step, where it clears the gradients the step
    has used, before the next `backward()`. No fix is offered when the reset or the step shares its
    line with another statement.
    """

    code = "PKL302"
    name = "zero-grad-before-step"
    triggers = TRAINING
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for found in resets_before_step(ctx.loops):
            reset = short_text_of(ctx.source, found.reset.value)
            backward = short_text_of(ctx.source, found.backward)
            step = short_text_of(ctx.source, found.step.value)
            message = f"`{reset}` runs between `{backward}` and `{step}`: the step sees no gradients"
            yield self.diagnostic(ctx, found.reset.value, message, self._fix(ctx.source, found))

    def _fix(self, source: Source, found: ResetBeforeStep) -> Fix | None:
        reset = short_text_of(source, found.reset.value)
        step = short_text_of(source, found.step.value)
        return self.safe_fix(f"Move `{reset}` after `{step}`", move_statement(source, found.reset, found.step))
