"""The walk's cost grows linearly with loop nesting, counted in statement visits (not time)."""

from __future__ import annotations

import ast

from packlint.facts import analyse


def nested_loops(depth: int) -> str:
    """A training-style function with `depth` nested loops, each rebinding names the next one reads."""
    lines = ["def train(batches, model, opt):", "    total = 0"]
    for level in range(depth):
        pad = "    " * (level + 1)
        lines.append(f"{pad}for x{level} in batches:")
        lines.append(f"{pad}    y{level} = model(x{level}, total)")
    pad = "    " * (depth + 1)
    lines += [f"{pad}loss = y{depth - 1}.sum()", f"{pad}loss.backward()", f"{pad}opt.step()"]
    return "\n".join(lines) + "\n"


def visits(depth: int) -> tuple[int, int]:
    """(statement visits of the walk, statements in the source)."""
    tree = ast.parse(nested_loops(depth))
    statements = sum(isinstance(node, ast.stmt) for node in ast.walk(tree))
    return analyse(tree).statement_visits, statements


def test_deep_nesting_visits_each_statement_at_most_once_per_enclosing_loop() -> None:
    # Walking every loop body twice (a silent pass, then a recording one) at every level visits the
    # innermost statements 2**depth times: 2**16 = 65536 here.
    depth = 16
    walked, statements = visits(depth)
    assert walked <= 2 * (depth + 1) * statements


def test_cost_per_level_stays_flat() -> None:
    # Linear in nesting: each added level costs about as much as the one before, it does not double.
    costs = [visits(d)[0] for d in range(4, 12)]
    steps = [b - a for a, b in zip(costs, costs[1:])]
    assert max(steps) <= 2 * min(steps) + 8
