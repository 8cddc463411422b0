"""The layers the design promises: rules read only the facts package's public names and never each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import packlint.facts

RULES = sorted((Path(__file__).parent.parent / "packlint" / "rules").glob("pkl*.py"))


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of each `from X import names` in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n.module or "", [a.name for a in n.names]) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.stem)
def test_rule_imports_only_public_facts_and_no_other_rule(path: Path) -> None:
    for module, names in imports_of(path):
        assert not module.startswith("packlint.facts."), f"{path.name} imports {module}: use packlint.facts"
        assert not module.startswith("packlint.rules.pkl"), f"{path.name} imports the rule {module}"
        if module == "packlint.facts":
            assert set(names) <= set(packlint.facts.__all__), f"{path.name}: {set(names) - set(packlint.facts.__all__)}"


def test_every_rule_module_is_checked() -> None:
    assert len(RULES) >= 20
