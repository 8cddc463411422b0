"""`packlint check --stdin-filename PATH -`: source from standard input, reported and configured as PATH."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_notebook import STANDARD

BAD = (
    "from torch import nn\n"
    "from torch.nn.utils.rnn import pack_padded_sequence\n"
    "rnn = nn.GRU(8, 16, batch_first=True)\n"
    "packed = pack_padded_sequence(x, lengths, enforce_sorted=False)\n"
    "_, h = rnn(packed)\n"
)
FIXED = BAD.replace("enforce_sorted=False)", "enforce_sorted=False, batch_first=True)")


def piped(data: str | bytes, *args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """`packlint ARGS` with `data` on standard input."""
    return subprocess.run(
        [sys.executable, "-m", "packlint", *args],
        input=data.encode("utf-8") if isinstance(data, str) else data,
        cwd=cwd,
        capture_output=True,
        timeout=300,
    )


def test_check_reports_under_the_given_path(tmp_path: Path) -> None:
    done = piped(BAD, "check", "--stdin-filename", "src/model.py", "-", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.decode().startswith("src/model.py:4:10: PKL112 ")
    without_dash = piped(BAD, "check", "--stdin-filename", "src/model.py", cwd=tmp_path)
    assert without_dash.stdout == done.stdout
    plain = piped(BAD, "check", "-", cwd=tmp_path)
    assert plain.stdout.decode().startswith("-:4:10: PKL112 ")


def test_config_and_per_file_ignores_are_resolved_for_the_given_path(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "legacy").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.packlint]\nignore = ["PKL104"]\n[tool.packlint.per-file-ignores]\n"legacy/*" = ["PKL112"]\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ignored = piped(BAD, "check", "--stdin-filename", str(project / "legacy" / "old.py"), "-", cwd=elsewhere)
    assert ignored.returncode == 0, ignored.stdout
    checked = piped(BAD, "check", "--stdin-filename", str(project / "new.py"), "-", cwd=elsewhere)
    assert checked.returncode == 1 and b"PKL112" in checked.stdout


def test_fix_writes_the_fixed_source_to_stdout_and_the_report_to_stderr(tmp_path: Path) -> None:
    done = piped(BAD, "check", "--fix", "--stdin-filename", "model.py", "-", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.decode() == FIXED
    assert "1 fixed" in done.stderr.decode()
    assert not (tmp_path / "model.py").exists()  # nothing is written to disk


def test_fix_echoes_the_source_byte_for_byte_when_nothing_changes(tmp_path: Path) -> None:
    source = "# cafe\u0301\r\nimport torch\r\nx = 1\r\n".encode()
    done = piped(source, "check", "--fix", "--stdin-filename", "clean.py", "-", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == source
    broken = b"def f(:\n    pack_padded_sequence\n"
    failed = piped(broken, "check", "--fix", "--stdin-filename", "broken.py", "-", cwd=tmp_path)
    assert failed.returncode == 2
    assert failed.stdout == broken
    assert b"broken.py: error: syntax error" in failed.stderr


def test_json_output_names_the_given_path(tmp_path: Path) -> None:
    done = piped(BAD, "check", "--output-format", "json", "--stdin-filename", "pkg/m.py", "-", cwd=tmp_path)
    (record,) = json.loads(done.stdout)
    assert record["filename"] == str(tmp_path / "pkg" / "m.py")


def test_notebooks_come_through_standard_input_too(tmp_path: Path) -> None:
    done = piped(STANDARD, "check", "--stdin-filename", "nb.ipynb", "-", cwd=tmp_path)
    assert done.stdout.decode().startswith("nb.ipynb:cell 5:1:10: PKL112 ")
    fixed = piped(STANDARD, "check", "--fix", "--stdin-filename", "nb.ipynb", "-", cwd=tmp_path)
    assert fixed.returncode == 0
    new = fixed.stdout.decode()
    assert new != STANDARD and json.loads(new)["metadata"] == json.loads(STANDARD)["metadata"]
    assert "enforce_sorted=False, batch_first=True)" in new


def test_diff_of_standard_input(tmp_path: Path) -> None:
    done = piped(BAD, "check", "--diff", "--stdin-filename", "m.py", "-", cwd=tmp_path)
    assert done.returncode == 1
    assert (
        "+packed = pack_padded_sequence(x, lengths, enforce_sorted=False, batch_first=True)\n" in done.stdout.decode()
    )


def test_force_exclude_skips_an_excluded_stdin_filename(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.packlint]\nextend-exclude = ["vendor"]\n', encoding="utf-8")
    args = ("check", "--force-exclude", "--stdin-filename", "vendor/m.py", "-")
    assert piped(BAD, *args, cwd=tmp_path).returncode == 0
    fixed = piped(BAD, *args[:1], "--fix", *args[1:], cwd=tmp_path)
    assert fixed.returncode == 0 and fixed.stdout.decode() == BAD
    assert piped(BAD, "check", "--stdin-filename", "vendor/m.py", "-", cwd=tmp_path).returncode == 1


def test_standard_input_and_paths_do_not_mix(tmp_path: Path) -> None:
    done = piped(BAD, "check", "--stdin-filename", "m.py", "other.py", cwd=tmp_path)
    assert done.returncode == 2 and b"cannot be checked together" in done.stderr
