"""What the walk knows after branches, read from the branch fixtures (mutation checks for the join)."""

from __future__ import annotations

import ast
from pathlib import Path

from packlint.facts import FileFacts, Order, analyse

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def facts_of(name: str) -> FileFacts:
    path = FIXTURES / name
    return analyse(ast.parse(path.read_text(encoding="utf-8")))


def test_branches_that_agree_keep_the_fact() -> None:
    (call,) = facts_of("PKL104/bad_branches_agree_unsorted.py").pack_calls
    assert call.lengths.order is Order.UNSORTED


def test_branches_that_disagree_lose_it() -> None:
    # One path sorts (descending, reordered by the sort), the other does not: neither survives the join.
    # Keeping either branch's value instead of joining would make one of these known.
    (call,) = facts_of("PKL104/good_sort_on_one_branch.py").pack_calls
    assert call.lengths.order is Order.UNKNOWN
    assert call.lengths.perm is None
    assert call.input.perm is None


def test_an_if_without_else_joins_with_the_path_that_skips_it() -> None:
    source = (
        "def collate(batch, flag):\n"
        "    lengths = [len(s) for s in batch]\n"
        "    if flag:\n"
        "        lengths = sorted(lengths, reverse=True)\n"
        "    else:\n"
        "        pass\n"
        "    return lengths\n"
    )
    facts = analyse(ast.parse(source))
    (exit,) = facts.exits
    assert exit.values[0].order is Order.UNKNOWN
