"""`targets(change)`: the nodes each kind of change rewrites, which `engine.overlaps` compares with spans."""

from __future__ import annotations

from typing import get_args

from packlint.fixes.changes import (
    Change,
    InsertFirst,
    InsertStatement,
    MoveStatement,
    RemoveStatement,
    ReplaceExpression,
    SetKeyword,
    Target,
    WrapExpression,
    targets,
)

A = Target("call", 1, 0, 1, 5)
B = Target("expression", 2, 4, 2, 9)


def test_every_kind_of_change_names_its_nodes() -> None:
    cases: list[tuple[Change, tuple[Target, ...]]] = [
        (SetKeyword(A, "enforce_sorted", "False"), (A,)),
        (ReplaceExpression(A, "True"), (A,)),
        (WrapExpression(A, "torch.as_tensor({})"), (A,)),
        (WrapExpression(A, "f({})", inner=B), (A, B)),
        (InsertStatement(A, "opt.zero_grad()"), (A,)),
        (InsertFirst(A, "opt.zero_grad()"), (A,)),
        (RemoveStatement(A), (A,)),
        (MoveStatement(A, B), (A, B)),
    ]
    for change, expected in cases:
        assert targets(change) == expected, change
    assert {type(c) for c, _ in cases} == set(get_args(Change))  # a new kind of change needs a case here
