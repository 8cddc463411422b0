"""PKL305: a model with dropout or batch norm evaluated after training without `model.eval()`."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.facts import TrainModeEval, train_mode_evals
from packlint.fixes.changes import insert_statement
from packlint.rules.base import Context, Rule

# Statements after which `model.train()` can follow as the next statement.
_SIMPLE = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.With, ast.AsyncWith)


class EvalWithoutModelEval(Rule):
    """
    ## What it does
    Reports an evaluation (a `with torch.no_grad():` or `torch.inference_mode()` block that runs the
    model, or a call of an `evaluate`/`validate`/`test`/`predict` function of this file that is given
    the model) after a loop that trains that model (`.backward()` and an optimizer step), when the
    model is built in the file from a class with `nn.Dropout`, `nn.BatchNorm*`, a transformer layer,
    `F.dropout(..., training=self.training)` or a multi-layer RNN's `dropout=`, and nothing in the
    file calls `.eval()`, `.train(False)` or sets `.training`.

    ## Why is this bad?
    A module is in training mode from its construction until `eval()` is called; `no_grad()` does
    not change that. Dropout keeps zeroing activations during the evaluation, so the scores are
    noisy and not the model's (torch 2.13, CPU, an LSTM 3→5 classifier with `nn.Dropout(0.5)` on a
    batch of 6: two evaluations under `no_grad` differ by up to 0.17 in the logits and from the
    eval-mode ones by 0.17, while eval mode repeats exactly), and batch norm normalises each
    evaluation batch by its own statistics (1.2 from the eval-mode logits with `nn.BatchNorm1d`) and
    folds the evaluation data into its running averages (one pass moved `running_mean` by 0.05).

    ## Example
    ```python
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))

        def forward(self, x):
            return self.body(x)

    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        scores = [model(x) for x, _ in test_loader]
    ```

    ## Use instead
    ```python
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))

        def forward(self, x):
            return self.body(x)

    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        scores = [model(x) for x, _ in test_loader]
    ```

    ## Fix safety
    Unsafe: the fix inserts `model.eval()` before the evaluation (and `model.train()` after it when a
    loop around it, or a later statement, trains the model again), which changes the scores: that is
    the point, but code that keeps dropout on at test time on purpose (Monte Carlo dropout) would lose
    it. Offered when the evaluation is a plain statement or a `with` block.
    """

    code = "PKL305"
    name = "eval-without-model-eval"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        for found in train_mode_evals(ctx.facts.tree, ctx.facts.nodes):
            what = "run with autograd off" if isinstance(found.site, (ast.With, ast.AsyncWith)) else "evaluated"
            yield self.diagnostic(
                ctx,
                found.site,
                f"`{found.model}` ({found.layer}) is {what} after training while still in training mode "
                f"(nothing in this file calls `{found.model}.eval()`); call `{found.model}.eval()` before evaluating",
                self.fix(ctx, found),
            )

    def fix(self, ctx: Context, found: TrainModeEval) -> Fix | None:
        statement = found.statement
        if not isinstance(statement, _SIMPLE):
            return None
        changes = [insert_statement(ctx.source, statement, f"{found.model}.eval()")]
        if found.back_to_training or found.retrains_after:
            changes.append(insert_statement(ctx.source, statement, f"{found.model}.train()", after=True))
        title = f"Call `{found.model}.eval()` before the evaluation"
        if len(changes) > 1:
            title += f" and `{found.model}.train()` after it"
        return self.unsafe_fix(title, *changes)
