"""PKL304's evaluation loops are searched only in the scopes whose lines hold the word `eval`: the same
loops as searching every scope of the file with the whole file's index."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from packlint.facts.evaluation import attribute_lines, eval_loops, guarded_functions, scope_loops
from packlint.facts.nodes import Nodes
from packlint.source import Source
from tests.fixture_marks import FIXTURES

NESTED = """
import torch

def outer(model, loader):
    if True:
        def inner(model, loader):
            model.eval()
            for batch in loader:
                model(batch)
        inner(model, loader)

class Runner:
    @staticmethod
    def run(model, loader):  # eval in a comment
        try:
            pass
        except ValueError:
            model.eval()
            for batch in loader:
                model(batch)

def cased(model, loader, how):
    match how:
        case "x":
            model.eval()
            for batch in loader:
                model(batch)

def guarded_caller(model, loader):
    with torch.no_grad():
        guarded(model, loader)

def guarded(model, loader):
    model.eval()
    for batch in loader:
        model(batch)

def two(model, loader): model.eval(); [model(b) for b in loader]

try:
    import missing
except ImportError:
    def fallback(model, loader):
        model.eval()
        for batch in loader:
            model(batch)

match sys.platform:
    case "linux":
        def on_linux(model, loader):
            model.eval()
            for batch in loader:
                model(batch)

if __name__ == "__main__":
    net.eval()
    for batch in data:
        net(batch)
    def late(model, loader):
        model \\
            .eval()
        for batch in loader:
            model(batch)
"""


def _every_scope(tree: ast.Module) -> list[tuple[int, int]]:
    # The search the candidates replace: the module and every function, each with the whole file's index.
    nodes = Nodes(tree)
    functions = [tree, *nodes.walk(tree, ast.FunctionDef, ast.AsyncFunctionDef)]
    found = [loop for scope in functions for loop in scope_loops(scope, nodes)]
    guarded = guarded_functions(tree, functions)
    kept = [loop for loop in found if loop.function is None or loop.function.name not in guarded]
    return sorted((loop.loop.lineno, loop.eval_call.lineno) for loop in kept)


def _candidates(text: str) -> list[tuple[int, int]]:
    source = Source.from_text(text)
    tree = ast.parse(text)
    loops = eval_loops(tree, lambda: Nodes(tree), attribute_lines(text, source.line_starts, "eval"))
    return sorted((loop.loop.lineno, loop.eval_call.lineno) for loop in loops)


def test_loops_nested_in_branches_handlers_cases_and_classes_are_found() -> None:
    found = _candidates(NESTED)
    assert found == _every_scope(ast.parse(NESTED))
    # inner, run, cased, fallback, on_linux, the module's loop and late; guarded is called under no_grad
    assert len(found) == 7


@pytest.mark.parametrize("path", sorted(FIXTURES.rglob("*.py")), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixtures_give_the_loops_every_scope_gives(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return
    assert _candidates(text) == _every_scope(tree)


def test_an_attribute_is_found_on_the_line_of_its_dot_whatever_separates_them() -> None:
    text = "a = 1\nmodel.eval()\nevaluate()\n# eval\nx.eval_mode\n(m .  # why\n  eval)()\nm.\\\n eval()\neval(s)\n"
    assert attribute_lines(text, Source.from_text(text).line_starts, "eval") == [2, 6, 8]


def test_a_comment_banner_after_a_dot_is_read_once() -> None:
    # Under `(?:\s|#[^\n]*)*` the banner splits into pieces in exponentially many ways before failing.
    text = "x = a.  " + "#" * 40 + "\n"
    assert attribute_lines(text, Source.from_text(text).line_starts, "eval") == []
