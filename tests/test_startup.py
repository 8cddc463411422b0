"""A plain check imports only what it uses: no difflib, tempfile or libcst."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixture_marks import FIXTURES

PROBE = """
import sys
from packlint.cli import main
try:
    main(["check", "--no-cache", "--select", "ALL", sys.argv[1]])
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""
UNUSED = ("difflib", "tempfile", "libcst")  # (inspect: dataclasses imports it)


def _modules(path: Path, cwd: Path) -> set[str]:
    run = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, cwd=cwd)
    return set(run.stderr.splitlines()[-1].split())


@pytest.mark.parametrize("kind", ["clean", "diagnostics"])
def test_a_check_imports_no_diff_tempfile_or_libcst(kind: str, tmp_path: Path) -> None:
    if kind == "clean":
        path = tmp_path / "clean.py"
        path.write_text("import os\n\nprint(os.sep)\n")
    else:
        path = next(FIXTURES.glob("PKL104/bad_*.py"))
    modules = _modules(path, tmp_path)
    assert "packlint.engine" in modules  # the probe really checked
    assert [m for m in UNUSED if m in modules] == []


def test_a_check_whose_files_are_all_turned_away_loads_no_rule_and_no_analysis(tmp_path: Path) -> None:
    # The rule selection and the prefilter read `rules.triggers.ADMISSION`, not the rules themselves.
    path = tmp_path / "clean.py"
    path.write_text("import os\n\nprint(os.sep)\n")
    modules = _modules(path, tmp_path)
    assert "packlint.engine" in modules and "packlint.rules.triggers" in modules  # the probe really checked
    loaded = sorted(m for m in modules if m.startswith(("packlint.facts", "packlint.rules.", "packlint.project")))
    assert loaded == ["packlint.rules.triggers"]


def test_a_plain_check_never_loads_project_mode(tmp_path: Path) -> None:
    modules = _modules(next(FIXTURES.glob("PKL104/bad_*.py")), tmp_path)
    assert "packlint.rules.pkl104_unsorted_enforce_sorted" in modules  # the rules did run
    assert not [m for m in modules if m.startswith("packlint.project")]
