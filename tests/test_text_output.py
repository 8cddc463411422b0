"""`full` (code frame, caret range, help, docs) and `concise` text output; colour only where it belongs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_packlint
from tests.fixture_marks import check_file, fixture_files
from tests.test_cli import BAD, write

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_full_is_the_default_with_frame_carets_help_and_docs(tmp_path: Path) -> None:
    path = write(tmp_path, "a.py", BAD)
    result = run_packlint(str(path))
    assert result.returncode == 1
    assert result.stdout == (
        f"{path}:6:12: PKL104 [*] `lengths` is not sorted descending but `enforce_sorted` is on; "
        "pass `enforce_sorted=False`\n"
        "  |\n"
        "4 | def collate(batch):\n"
        "5 |     lengths = [len(s) for s in batch]\n"
        "6 |     return pack_padded_sequence(pad_sequence(batch), lengths)\n"
        "  |            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ PKL104\n"
        "  |\n"
        "  = help: Pass `enforce_sorted=False`\n"
        "  = docs: https://github.com/packlint/packlint/blob/main/docs/rules/PKL104.md\n"
        "\n"
        "Found 1 error.\n"
        "[*] 1 fixable with the `--fix` option.\n"
    )
    assert ANSI.search(result.stdout) is None, "no colour when stdout is not a terminal"


def test_carets_cover_the_reported_range_of_every_fixture() -> None:
    # The caret line under the start row begins at the start column, as far as the range goes.
    for path in fixture_files("bad_*.py"):
        result = check_file(path)
        from packlint.report import Run
        from packlint.report.text import render

        run = Run((result,), sources={result.path: path.read_text(encoding="utf-8")})
        out = render(run, full=True)
        for d in result.diagnostics:
            line = path.read_text(encoding="utf-8").splitlines()[d.location.row - 1]
            shown = out.splitlines()
            frame_line = next(
                (
                    i
                    for i, text in enumerate(shown)
                    if re.fullmatch(rf" *{d.location.row} \| ?", text[: text.find("|") + 2])
                    and text[text.find("|") + 2 :] == line.rstrip().replace("\t", " ")
                    # Adjacent diagnostics show each other's rows as context: take the row carrying this
                    # diagnostic's carets (labelled with its code on a one-row range).
                    and i + 1 < len(shown)
                    and "^" in shown[i + 1]
                    and (d.end_location.row != d.location.row or shown[i + 1].endswith(d.code))
                ),
                None,
            )
            assert frame_line is not None, (path, d)
            prefix = shown[frame_line][: shown[frame_line].find("|") + 2]
            carets = out.splitlines()[frame_line + 1]
            start = carets.index("^")
            assert start - len(prefix) == d.location.column - 1, (path, d, carets)


def test_unsafe_fix_is_named_in_help(tmp_path: Path) -> None:
    unsafe = [
        p
        for p in fixture_files("bad_*.py")
        if any(d.fix and d.fix.applicability.value == "unsafe" for d in check_file(p).diagnostics)
    ]
    assert unsafe, "some fixture has an unsafe fix"
    path = unsafe[0]
    result = run_packlint("--extend-select", path.parent.name, str(path))
    assert "(unsafe fix available with `--unsafe-fixes`)" in result.stdout
    enabled = run_packlint("--unsafe-fixes", "--extend-select", path.parent.name, str(path))
    assert "(unsafe fix available" not in enabled.stdout and "(unsafe fix)" in enabled.stdout


def test_syntax_error_frame_points_at_the_error(tmp_path: Path) -> None:
    path = write(tmp_path, "s.py", "x = 1\ndef f(:\n    pass\n")
    result = run_packlint(str(path))
    assert "2 | def f(:\n  |       ^ PKL003\n" in result.stdout
    assert "= docs: https://github.com/packlint/packlint/blob/main/docs/errors.md#pkl003-syntax-error" in result.stdout


def test_concise_is_one_line_each(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    result = run_packlint("--output-format", "concise", str(tmp_path))
    assert result.stdout.splitlines()[0].startswith(f"{tmp_path}/a.py:6:12: PKL104 [*] ")
    assert len(result.stdout.splitlines()) == 3


def _run_in_terminal(args: list[str], env: dict[str, str]) -> str:
    """stdout of packlint when it writes to a pseudo-terminal."""
    import pty

    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "packlint", *args], stdout=follower, stderr=subprocess.DEVNULL, cwd=ROOT, env=full_env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode()


@pytest.mark.skipif(sys.platform == "win32", reason="pty")
def test_colour_on_a_terminal_and_its_switches(tmp_path: Path) -> None:
    path = str(write(tmp_path, "a.py", BAD))
    assert ANSI.search(_run_in_terminal([path], {})), "colour on a terminal"
    assert not ANSI.search(_run_in_terminal([path], {"NO_COLOR": "1"})), "NO_COLOR"
    assert not ANSI.search(_run_in_terminal(["--no-color", path], {})), "--no-color"
    forced = run_packlint(path)
    assert not ANSI.search(forced.stdout)
    env = {**os.environ, "FORCE_COLOR": "1"}
    piped = subprocess.run([sys.executable, "-m", "packlint", path], capture_output=True, text=True, env=env)
    assert ANSI.search(piped.stdout), "FORCE_COLOR colours a pipe"
    assert ANSI.sub("", piped.stdout) == forced.stdout


def test_every_message_says_what_to_write_instead() -> None:
    for path in fixture_files("bad_*.py"):
        for d in check_file(path).diagnostics:
            assert re.search(r"; [a-z]+ ", d.message), f"{d.code} in {path.name}: {d.message!r} gives no remedy"
