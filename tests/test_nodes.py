"""facts.nodes.Nodes answers what `ast.walk` and `own_nodes` did, in the same order, on real trees."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from packlint.facts.evaluation import own_nodes
from packlint.facts.nodes import Nodes

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(p for p in (ROOT / "fixtures").rglob("*.py"))
# Operators and contexts are shared singletons that the index leaves out on purpose.
SHARED = (ast.expr_context, ast.operator, ast.cmpop, ast.boolop, ast.unaryop)
KINDS = [(ast.Call,), (ast.Call, ast.Name), (ast.expr,), (ast.stmt, ast.arg), (ast.AST,), (ast.For, ast.While)]
SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.With, ast.Lambda)


def trees() -> list[tuple[str, ast.Module]]:
    found = []
    for path in FIXTURES:
        try:
            found.append((path.name, ast.parse(path.read_text(encoding="utf-8"))))
        except SyntaxError:
            continue  # PKL010's pasted spaces
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.submodule_search_locations:
        torch = Path(next(iter(spec.submodule_search_locations)))
        for name in ("nn/modules/rnn.py", "nn/utils/rnn.py", "optim/optimizer.py"):
            found.append((name, ast.parse((torch / name).read_text(encoding="utf-8"))))
    return found


TREES = trees()


def walked(node: ast.AST, kinds: tuple[type, ...]) -> list[ast.AST]:
    return [n for n in ast.walk(node) if isinstance(n, kinds) and not isinstance(n, SHARED)]


@pytest.mark.parametrize(("name", "tree"), TREES, ids=[name for name, _ in TREES])
def test_walk_inside_subtree_and_parent_agree_with_ast(name: str, tree: ast.Module) -> None:
    nodes = Nodes(tree)
    every = walked(tree, (ast.AST,))
    assert len(nodes.order) == len(every)
    for node in every[:: max(1, len(every) // 150)]:
        for kinds in KINDS:
            expected = walked(node, kinds)
            assert nodes.walk(node, *kinds) == expected  # the same nodes in ast.walk's order
            assert sorted(map(id, nodes.inside(node, *kinds))) == sorted(map(id, expected))
        assert sorted(map(id, nodes.subtree(node))) == sorted(map(id, walked(node, (ast.AST,))))
        parent = nodes.parent(node)
        assert (parent is None) == (node is tree)
        assert parent is None or any(child is node for child in ast.iter_child_nodes(parent))


@pytest.mark.parametrize(("name", "tree"), TREES, ids=[name for name, _ in TREES])
def test_own_and_above_agree_with_own_nodes(name: str, tree: ast.Module) -> None:
    nodes = Nodes(tree)
    kinds = (ast.Call, ast.For, ast.With, ast.Assign, ast.Lambda, ast.FunctionDef, ast.ClassDef)
    for scope in [n for n in ast.walk(tree) if isinstance(n, SCOPES)]:
        expected = [(n, above) for n, above in own_nodes(scope) if isinstance(n, kinds)]
        assert nodes.own(scope, *kinds) == [n for n, _ in expected]
        for node, above in expected:
            assert nodes.above(node, scope) == above


def test_has_finds_positions_only_inside_the_subtree() -> None:
    tree = ast.parse("def f():\n    a()\n\ndef g():\n    b()\n")
    nodes = Nodes(tree)
    f, g = tree.body
    calls = [nodes.positions[id(c)] for c in nodes.inside(tree, ast.Call)]
    b_only = [nodes.positions[id(c)] for c in nodes.inside(g, ast.Call)]
    assert nodes.has(f, calls) and nodes.has(g, calls)
    assert not nodes.has(f, b_only) and nodes.has(g, b_only)
    assert nodes.inside(ast.parse("x()"), ast.Call)  # a node from another tree: walked, not looked up
