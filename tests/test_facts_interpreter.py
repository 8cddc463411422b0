"""The shared statement interpreter (packlint.facts.interpreter): its joins, what loops forget, its cost.

A toy analysis follows integer literals: `x = 1` binds 1, a name reads its binding, anything else is
unknown, and `seen(x)` records what `x` holds at that point. Then the two real analyses built on the
interpreter (tensors: what reaches an RNN; padding: softmax over padded steps) are shown to obey
the same joins on code they follow.
"""

from __future__ import annotations

import ast
import textwrap

import pytest

from packlint.facts import analyse, padded_reductions, rnn_inputs
from packlint.facts.interpreter import Interpreter


class Literals(Interpreter[int]):
    """Integer literals through names; `seen(e)` records the value of `e`."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int | None] = []
        self.visits = 0

    def stmt(self, stmt: ast.stmt) -> None:
        self.visits += 1
        super().stmt(stmt)

    def eval(self, node: ast.expr | None) -> int | None:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "seen":
            self.seen.append(self.eval(node.args[0]))
            return None
        for child in ast.iter_child_nodes(node) if node is not None else ():
            if isinstance(child, ast.expr):
                self.eval(child)
        return None


def run(code: str) -> Literals:
    walker = Literals()
    walker.walk(ast.parse(textwrap.dedent(code)).body)
    return walker


# ---------------------------------------------------------------------------------------- branches
def test_a_branch_keeps_only_what_every_path_binds_equally() -> None:
    walker = run(
        """
        if c:
            same = 1
            differs = 1
            one_side = 1
        else:
            same = 1
            differs = 2
        """
    )
    assert walker.env == {"same": 1}


def test_an_if_without_else_joins_with_the_path_that_skips_it() -> None:
    walker = run(
        """
        x = 1
        kept = 3
        if c:
            x = 2
        seen(x)
        seen(kept)
        """
    )
    assert walker.seen == [None, 3]


def test_each_branch_starts_from_the_state_before_the_if() -> None:
    walker = run(
        """
        x = 1
        if c:
            x = 2
        else:
            seen(x)
        """
    )
    assert walker.seen == [1]


# ---------------------------------------------------------------------------------------- loops
@pytest.mark.parametrize("header", ["for i in items:", "async for i in items:", "while going:"])
def test_a_loop_forgets_what_its_body_binds_before_the_body_runs(header: str) -> None:
    code = f"""
        x = 1
        untouched = 5
        {header}
            seen(x)  # a later iteration sees the 2 bound below
            x = 2
        seen(x)  # the loop may not have run, or may have
        seen(untouched)
        """
    if header.startswith("async"):
        code = "async def f():\n" + textwrap.indent(textwrap.dedent(code), "    ")
        walker = Literals()
        walker.walk(ast.parse(code).body[0].body)  # type: ignore[attr-defined]
    else:
        walker = run(code)
    assert walker.seen == [None, None, 5]


def test_a_loop_forgets_its_target_and_what_its_else_binds() -> None:
    walker = run(
        """
        i = 1
        y = 1
        for i in items:
            pass
        else:
            y = 2
        seen(i)
        seen(y)
        """
    )
    assert walker.seen == [None, None]


def test_a_loop_body_that_binds_a_name_leaves_it_unknown_even_with_the_same_value() -> None:
    # Forgotten before the body, bound on one path only: the join with the path that skips the loop
    # drops it (precision is kept by quiet, never by guessing that the loop ran).
    walker = run(
        """
        x = 1
        for i in items:
            x = 1
        seen(x)
        """
    )
    assert walker.seen == [None]


def test_nested_loops_forget_at_every_level() -> None:
    walker = run(
        """
        x = 1
        for a in items:
            for b in items:
                seen(x)
            x = 2
        """
    )
    assert walker.seen == [None]


# ---------------------------------------------------------------------------------------- try, with
def test_try_joins_the_body_with_each_handler_and_always_walks_finally() -> None:
    walker = run(
        """
        try:
            x = 1
            agreed = 1
        except ValueError:
            x = 2
            agreed = 1
        finally:
            last = 3
        """
    )
    assert walker.env == {"agreed": 1, "last": 3}


def test_try_else_belongs_to_the_path_without_an_exception() -> None:
    walker = run(
        """
        try:
            pass
        except ValueError:
            x = 1
        else:
            x = 1
        try:
            y = 1
        except ValueError:
            pass
        """
    )
    assert walker.env == {"x": 1}


def test_with_forgets_what_it_binds_and_walks_its_body_in_order() -> None:
    walker = run(
        """
        f = 1
        with open(p) as f, lock as (g, h):
            inside = 4
        """
    )
    assert walker.env == {"inside": 4}


# ---------------------------------------------------------------------------------------- other statements
@pytest.mark.parametrize(
    "statement",
    [
        "def x(): pass",
        "class x: pass",
        "del x",
        "x += 1",
        "x: int",
        "(x := unknown)",
        "match v:\n    case [y]:\n        x = 2",
        "import x",
        "import x.y",
        "from m import y as x",
        "match v:\n    case [x]:\n        pass",
        "match v:\n    case [*x]:\n        pass",
        "match v:\n    case {**x}:\n        pass",
        "for i in items:\n    try:\n        pass\n    except E as x:\n        pass",
    ],
)
def test_a_statement_that_rebinds_a_name_without_a_known_value_forgets_it(statement: str) -> None:
    walker = run("x = 1\nkept = 2\n" + statement + "\n")
    assert walker.env.get("x") is None
    assert walker.env["kept"] == 2


def test_annotated_and_chained_assignments_bind_every_target() -> None:
    walker = run("a: int = 1\nb = c = 2\n(d, e) = 3\n")
    assert walker.env == {"a": 1, "b": 2, "c": 2}


class Anywhere(Literals):
    """Another analysis on the same walk: what some path binds (a join by union), loops forget nothing."""

    def join(self, ends: list[dict[str, int]]) -> dict[str, int]:
        return {name: value for end in reversed(ends) for name, value in end.items()}  # the first path wins

    def loop_forgets(self, stmt: ast.For | ast.AsyncFor | ast.While) -> set[str]:
        return set()


def test_the_join_and_loop_hooks_are_the_analysis_s_own() -> None:
    walker = Anywhere()
    source = "x = 1\nfor i in items:\n    seen(x)\n    x = 2\nif c:\n    y = 3\ntry:\n    pass\nexcept E:\n    z = 4\n"
    walker.walk(ast.parse(source).body)
    assert walker.seen == [1]
    assert walker.env == {"x": 2, "y": 3, "z": 4}


# ---------------------------------------------------------------------------------------- cost
def nested_loops(depth: int) -> str:
    lines = ["total = 0"]
    for level in range(depth):
        pad = "    " * level
        lines += [f"{pad}for x{level} in batches:", f"{pad}    y{level} = total"]
    lines.append("    " * depth + "total = 1")
    return "\n".join(lines) + "\n"


def test_each_statement_is_visited_once_however_deep_the_loops_nest() -> None:
    # Walking each loop body twice (to learn what it binds, then again) would visit the innermost
    # statements 2**depth times: 65536 here.
    source = nested_loops(16)
    statements = sum(isinstance(node, ast.stmt) for node in ast.walk(ast.parse(source)))
    assert run(source).visits == statements


def test_the_real_walkers_visit_each_statement_once_too() -> None:
    # Both analyses walk through the interpreter; a nested loop that rebinds what reaches an RNN.
    depth = 14
    body = textwrap.indent(nested_loops(depth), "    ")
    source = (
        "import torch\nfrom torch import nn\nrnn = nn.LSTM(3, 4)\n"
        "def f(batches):\n" + body + "    " * (depth + 1) + "rnn(y0)\n"
    )
    tree = ast.parse(source)
    statements = sum(isinstance(node, ast.stmt) for node in ast.walk(tree))
    counted: list[int] = []
    original = Interpreter.stmt

    def counting(self: Interpreter[object], stmt: ast.stmt) -> None:
        counted.append(1)
        original(self, stmt)

    Interpreter.stmt = counting  # type: ignore[method-assign]
    try:
        facts = analyse(tree)
        assert rnn_inputs(facts)
        padded_reductions(facts)
    finally:
        Interpreter.stmt = original  # type: ignore[method-assign]
    # The module body and the function are each a scope of their own: the function's statements are
    # walked in both, but once per scope.
    assert 0 < len(counted) <= 2 * statements


# ---------------------------------------------------------------------------------------- the analyses
TENSORS = """\
import torch
from torch import nn
rnn = nn.LSTM(3, 4)
def f(c, items):
    x = torch.tensor([[1, 2], [3, 4]])
{code}
    rnn(x)
"""


@pytest.mark.parametrize(
    "code, integer",
    [
        ("    pass", True),
        ("    if c:\n        x = torch.randn(2, 2)", None),  # a float on one path: unknown, quiet
        ("    if c:\n        x = x.long()\n    else:\n        x = x.cuda()", True),  # both still integers
        ("    for i in items:\n        x = x.float()", None),
        ("    try:\n        pass\n    except ValueError:\n        x = x.float()", None),
        ("    with open(p) as x:\n        pass", None),
    ],
)
def test_what_reaches_an_rnn_follows_the_joins(code: str, integer: bool | None) -> None:
    (found,) = rnn_inputs(analyse(ast.parse(TENSORS.format(code=code))))
    assert (found.shape.integer if found.shape is not None else None) is integer


PADDING = """\
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 5, batch_first=True)
    def forward(self, x, lengths, c, items):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
{code}
        return torch.softmax(out.sum(-1), dim=1)
"""


@pytest.mark.parametrize(
    "code, reported",
    [
        ("        pass", True),
        ("        if c:\n            out = out.masked_fill(m, 0)", False),
        ("        if c:\n            out = out.cuda()\n        else:\n            out = out.contiguous()", True),
        ("        if c:\n            out = out.tanh()\n        else:\n            out = out.relu()", False),
        ("        for i in items:\n            out = out * lengths", False),
        ("        try:\n            pass\n        except ValueError:\n            out = out[lengths]", False),
    ],
)
def test_a_softmax_over_padding_follows_the_joins(code: str, reported: bool) -> None:
    found = padded_reductions(analyse(ast.parse(PADDING.format(code=code))))
    assert bool(found) is reported
