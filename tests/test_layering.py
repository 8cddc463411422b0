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


PACKAGE = Path(__file__).parent.parent / "packlint"
# Project mode's modules that must not load the facts package (the prefilter reaches the gate).
PROJECT_WITHOUT_FACTS = ("gate", "resolve", "root", "view")


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports (`import X`, `from X import ...`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    found |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return found


@pytest.mark.parametrize("name", PROJECT_WITHOUT_FACTS)
def test_project_modules_read_names_without_the_facts_package(name: str) -> None:
    imports = imported_modules(PACKAGE / "project" / f"{name}.py")
    assert not {m for m in imports if m == "packlint.facts" or m.startswith("packlint.facts.")}, name


def test_dotted_lives_outside_facts_and_facts_reexports_it() -> None:
    import packlint.facts.syntax
    import packlint.names

    # The module imports nothing of packlint, so reading it loads no other part of the linter.
    assert not {m for m in imported_modules(PACKAGE / "names.py") if m.startswith("packlint")}
    assert packlint.facts.dotted is packlint.names.dotted
    assert packlint.facts.syntax.dotted is packlint.names.dotted
    # One definition: neither facts nor project mode keeps its own copy.
    for path in [*PACKAGE.glob("facts/*.py"), *PACKAGE.glob("project/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert not defined & {"dotted", "_text"}, path.name
