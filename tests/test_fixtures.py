"""The fixture tree is the specification: one parametrised test per file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from packlint.rules import BY_CODE
from tests.fixture_marks import FIXTURES, check_file, expected_marks, fixture_files

BAD = fixture_files("bad_*.py")
GOOD = fixture_files("good_*.py")
FIXED = fixture_files("bad_*.fixed.py")


def _id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


@pytest.mark.parametrize("path", BAD, ids=_id)
def test_bad_fixture_gives_exactly_its_marks(path: Path) -> None:
    marks = expected_marks(path.read_text(encoding="utf-8"))
    assert marks, "a bad_ fixture needs at least one `# error: CODE:COL` mark"
    assert all(col is not None for _, _, col in marks), "every mark needs its column: `# error: PKL101:12`"
    assert any(code == path.parent.name for code, _, _ in marks), "a bad_ fixture shows its directory's rule"
    result = check_file(path)
    assert not result.errors
    got = sorted((d.code, d.location.row, d.location.column) for d in result.diagnostics)
    assert got == sorted(marks)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", GOOD, ids=_id)
def test_good_fixture_is_clean(path: Path) -> None:
    result = check_file(path)
    assert not result.errors
    assert [(d.code, d.location.row, d.message) for d in result.diagnostics] == []


@pytest.mark.parametrize("path", BAD, ids=_id)
def test_fix_matches_golden_and_settles(path: Path) -> None:
    golden = path.with_name(path.stem + ".fixed.py")
    result = check_file(path, fix=True, unsafe_fixes=True)
    assert not result.errors
    if not golden.exists():
        assert result.new_source is None, f"fixes were applied but {golden.name} does not exist"
        return
    assert result.new_source is not None, "the golden exists but no fix was applied"
    assert result.new_source == golden.read_bytes()
    ast.parse(result.new_source)
    again = check_file(golden, fix=True, unsafe_fixes=True)
    assert again.new_source is None, "a second fix pass changed the file"


@pytest.mark.parametrize("path", FIXED, ids=_id)
def test_fixed_golden_is_clean(path: Path) -> None:
    result = check_file(path)
    assert [(d.code, d.location.row) for d in result.diagnostics] == []


@pytest.mark.parametrize("path", BAD, ids=_id)
def test_safe_mode_applies_only_safe_fixes(path: Path) -> None:
    unsafe = [d for d in check_file(path).diagnostics if d.fix and d.fix.applicability.value == "unsafe"]
    result = check_file(path, fix=True)
    if not unsafe:
        golden = path.with_name(path.stem + ".fixed.py")
        expected = golden.read_bytes() if golden.exists() else None
        assert result.new_source == expected
    else:
        remaining = {(d.code, d.location.row) for d in result.diagnostics}
        assert {(d.code, d.location.row) for d in unsafe} <= remaining


def test_every_rule_has_fixtures() -> None:
    for code in BY_CODE:
        directory = FIXTURES / code
        assert list(directory.glob("bad_*.py")), f"{code} has no bad_ fixture"
        goods = list(directory.glob("good_*.py"))
        assert len(goods) >= 3, f"{code} needs three good_ traps or more, has {len(goods)}"


def test_fixture_directories_are_rule_codes() -> None:
    for directory in FIXTURES.iterdir():
        if directory.is_dir() and directory.name != "project":  # project mode's multi-file fixtures
            assert directory.name in BY_CODE, f"fixtures/{directory.name} names no rule"


def test_fixtures_open_with_a_comment() -> None:
    for path in FIXTURES.glob("*/*.py"):
        assert path.read_text(encoding="utf-8").startswith("# "), f"{path} must open with a one-line comment"
