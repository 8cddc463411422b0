"""The flake8 plugin reports the same (file, row, col, code) as `packlint check`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_packlint


def _flake8(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "PKL", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _rows(lines: list[str]) -> set[tuple[str, int, int, str]]:
    found = set()
    for line in lines:
        location, _, rest = line.partition(": ")
        path, row, col = location.rsplit(":", 2)
        found.add((path, int(row), int(col), rest.split()[0]))
    return found


def test_flake8_and_packlint_agree_on_fixtures() -> None:
    flake8 = _flake8("fixtures")
    assert flake8.returncode == 1, flake8.stderr
    assert "Traceback" not in flake8.stderr
    ours = run_packlint("-q", "--output-format", "concise", "fixtures")
    lines = [line for line in flake8.stdout.splitlines() if line.strip()]
    assert lines
    # flake8 reads Python files only; packlint's notebook fixtures have no flake8 counterpart. And flake8
    # runs no AST plugin on a file it cannot parse: PKL010's files (pasted invisible spaces) are
    # reported by `packlint check` only.
    python_only = [line for line in ours.stdout.splitlines() if ".ipynb:" not in line]
    unparsed = {str(p.relative_to(ROOT)) for p in (ROOT / "fixtures").rglob("*.py") if not _parses(p)}
    assert unparsed
    ours_rows = {row for row in _rows(python_only) if row[0] not in unparsed}
    assert {row for row in _rows(lines) if row[3].startswith("PKL")} == ours_rows


def _parses(path: Path) -> bool:
    try:
        ast.parse(path.read_bytes())
    except SyntaxError:
        return False
    return True


def test_flake8_noqa_is_honoured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.py"
    path.write_text(
        "from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence\n"
        "def f(batch):\n"
        "    lengths = [len(s) for s in batch]\n"
        "    return pack_padded_sequence(pad_sequence(batch), lengths)  # noqa: PKL104\n"
    )
    result = _flake8(str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_plugin_prefilters_without_parsing() -> None:
    from packlint.flake8_plugin import Plugin

    plugin = Plugin(None, "x.py", ["import os\n", "def broken(:\n"])
    assert list(plugin.run()) == []  # nothing parsed, so the syntax error is not even seen
