"""`--diff` prints a patch that `patch -p0` and `git apply -p0` apply, giving exactly what `--fix` writes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from packlint.report.diff import unified_diff
from tests.conftest import ROOT, run_packlint
from tests.test_cli import BAD

TOOLS = [tool for tool in ("patch", "git") if shutil.which(tool)]
pytestmark = pytest.mark.skipif(len(TOOLS) < 2, reason="needs patch and git")


# The paths are the user's own, without git's a/ and b/: -p0 for both tools (plain `git apply` would strip
# the first directory of a nested path).
COMMANDS = {"patch -p0": ["patch", "-p0", "--quiet", "--batch"], "git apply -p0": ["git", "apply", "-p0"]}


def _apply(tool: str, patch: bytes, cwd: Path) -> None:
    command = COMMANDS[tool]
    result = subprocess.run(command, input=patch, cwd=cwd, capture_output=True)
    assert result.returncode == 0, (tool, result.stdout, result.stderr, patch.decode("utf-8", "replace"))


def _check_diff_applies(tmp_path: Path, tree: Path, *args: str) -> None:
    """--diff on a copy of `tree`, applied with each tool to further copies, equals --fix on another."""
    copies = {name: tmp_path / name.replace(" ", "_") for name in ("fixed", *COMMANDS)}
    for copy in copies.values():
        shutil.copytree(tree, copy)
    diff = subprocess.run([*run_args(), "--diff", *args, "."], cwd=copies["fixed"], capture_output=True, timeout=300)
    assert diff.returncode in (0, 1), diff.stderr
    fix = run_packlint("--fix", *args, ".", cwd=copies["fixed"])
    assert fix.returncode in (0, 1), fix.stdout + fix.stderr
    for tool in COMMANDS:
        if diff.stdout:
            _apply(tool, diff.stdout, copies[tool])
        for path in copies["fixed"].rglob("*.py"):
            relative = path.relative_to(copies["fixed"])
            assert (copies[tool] / relative).read_bytes() == path.read_bytes(), (tool, relative)


def run_args() -> list[str]:
    import sys

    return [sys.executable, "-m", "packlint", "--no-cache"]


@pytest.mark.parametrize(
    "directory", sorted(p.name for p in (ROOT / "fixtures").iterdir() if p.is_dir() and p.name != "project")
)
def test_diff_of_every_fixture_applies(tmp_path: Path, directory: str) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "fixtures" / directory, tree / directory)
    _check_diff_applies(tmp_path, tree, "--unsafe-fixes", "--extend-select", directory)


@pytest.mark.parametrize(
    "name, data",
    [
        ("no_final_newline.py", BAD.rstrip("\n").encode()),
        ("crlf.py", BAD.replace("\n", "\r\n").encode()),
        ("crlf_no_final_newline.py", BAD.rstrip("\n").replace("\n", "\r\n").encode()),
        ("bom.py", b"\xef\xbb\xbf" + BAD.encode()),
        ("latin1.py", ("# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD).encode("latin-1")),
        ("fix_on_first_line.py", BAD.splitlines()[0].encode() + b"\nx = pack_padded_sequence(p, [len(s) for s in b])"),
    ],
)
def test_diff_applies_to_awkward_files(tmp_path: Path, name: str, data: bytes) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / name).write_bytes(data)
    _check_diff_applies(tmp_path, tree)


def test_readme_first_command_diff_is_accepted_by_patch(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    diff = subprocess.run(
        [*run_args(), "fixtures/", "--diff", "--unsafe-fixes"], cwd=tmp_path, capture_output=True, timeout=300
    )
    assert diff.stdout.startswith(b"--- fixtures/")
    result = subprocess.run(["patch", "-p0", "--dry-run"], input=diff.stdout, cwd=tmp_path, capture_output=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_newline_marker_on_each_side() -> None:
    head = "--- x.py\n+++ x.py\n"
    diff = unified_diff(b"a\nb", b"a\nc", "x.py").decode()
    assert diff == head + "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
    added = unified_diff(b"a", b"a\n", "x.py").decode()
    assert added == head + "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n"
    assert unified_diff(b"same\n", b"same\n", "x.py") == b""
