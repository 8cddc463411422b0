"""Small promises of the command line: versions, statistics as JSON, SARIF help text."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from packlint import __version__
from tests.conftest import ROOT, run_packlint
from tests.test_cli import BAD, write


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    result = run_packlint(flag)
    assert result.returncode == 0
    assert result.stdout == f"packlint {__version__}\n"


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_python_m_from_the_folder_holding_a_checkout_named_packlint(tmp_path: Path) -> None:
    # There, `packlint` is first found as the checkout folder itself, a namespace package without __version__.
    os.symlink(ROOT, tmp_path / "packlint")
    result = run_packlint("--version", cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0 and result.stdout == f"packlint {__version__}\n"
    check = run_packlint("--output-format", "concise", "packlint/fixtures/PKL104/bad_collate.py", cwd=tmp_path)
    assert check.returncode == 1, check.stderr
    assert "PKL104" in check.stdout


def test_statistics_text_and_json(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    write(tmp_path, "b.py", BAD)
    text = run_packlint("--statistics", str(tmp_path))
    assert text.stdout.split() == ["2", "PKL104", "[*]", "unsorted-enforce-sorted"]
    as_json = run_packlint("--statistics", "--output-format", "json", str(tmp_path))
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == [
        {"code": "PKL104", "name": "unsorted-enforce-sorted", "count": 2, "fixable": True, "fixable_count": 2}
    ]


def test_statistics_mark_partly_fixable_codes() -> None:
    from packlint.diagnostics import Applicability, Diagnostic, Edit, FileResult, Fix, Location
    from packlint.report import Run
    from packlint.report.statistics import render

    where = Location(1, 1)
    fix = Fix(Applicability.SAFE, "Do it", (Edit(0, 0, "x", where, where),))
    fixable = Diagnostic("PKL101", "lengths-list-indexed-by-tensor", "m", where, where, fix, 1)
    plain = Diagnostic("PKL101", "lengths-list-indexed-by-tensor", "m", where, where, None, 1)
    run = Run((FileResult("a.py", (fixable, plain)),))
    assert render(run) == "2\tPKL101\t[~] lengths-list-indexed-by-tensor\n"


def test_sarif_help_text_is_plain() -> None:
    sarif = json.loads(
        run_packlint("--output-format", "sarif", str(ROOT / "fixtures/PKL104/good_sorted_descending.py")).stdout
    )
    for rule in sarif["runs"][0]["tool"]["driver"]["rules"]:
        text = rule["help"]["text"]
        assert "`" not in text, rule["id"]
        assert not re.search(r"^(python|#+ )", text, re.M), rule["id"]
        assert "\nWhy is this bad?\n" in text and "\nUse instead:\n" in text
        assert rule["help"]["markdown"].startswith("## What it does")


def test_rule_explains_failure_codes() -> None:
    for query in ("PKL003", "syntax-error"):
        result = run_packlint("rule", query)
        assert result.returncode == 0
        assert result.stdout.startswith("# PKL003 (syntax-error)\n")
        assert "docs/errors.md#pkl003-syntax-error" in result.stdout
