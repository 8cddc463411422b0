"""Bad input gets a clear `path: error: reason`, the run goes on, and nothing is lost."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from packlint.engine import PYTHON
from tests.conftest import run_packlint
from tests.test_cli import BAD


def test_each_bad_file_is_reported_and_the_others_still_checked(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(BAD)
    (tmp_path / "syntax.py").write_text("def f(:\n    pack_padded_sequence\n")
    (tmp_path / "latin.py").write_bytes(b"# pack_padded_sequence\nname = '\xe9t\xe9'\n")
    (tmp_path / "binary.py").write_bytes(b"\x00\x01pack_sequence\x00")
    result = run_packlint("--output-format", "concise", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines() == [
        f"{tmp_path}/binary.py:1:1: PKL002 binary file (contains NUL bytes)",
        f"{tmp_path}/good.py:6:12: PKL104 [*] `lengths` is not sorted descending but `enforce_sorted` is on; "
        "pass `enforce_sorted=False`",
        f"{tmp_path}/latin.py:1:1: PKL002 not valid UTF-8: byte 31 cannot be decoded",
        f"{tmp_path}/syntax.py:1:7: PKL003 syntax error: invalid syntax (Python {PYTHON})",
        "Found 1 error.",
        "[*] 1 fixable with the `--fix` option.",
        "3 files could not be checked.",
    ]
    # Machine formats keep stdout for the tool; the terminal still hears what failed.
    machine = run_packlint("--output-format", "json", str(tmp_path))
    assert f"{tmp_path}/syntax.py: error: PKL003 syntax error: invalid syntax" in machine.stderr


def test_declared_encoding_is_honoured_and_kept(tmp_path: Path) -> None:
    source = "# -*- coding: latin-1 -*-\n" + BAD.replace("def collate", "# caf\xe9\ndef collate")
    path = tmp_path / "declared.py"
    path.write_bytes(source.encode("latin-1"))
    result = run_packlint("--fix", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == source.replace("lengths)\n", "lengths, enforce_sorted=False)\n").encode("latin-1")


def test_bom_and_crlf_survive_a_fix(tmp_path: Path) -> None:
    path = tmp_path / "crlf.py"
    path.write_bytes(b"\xef\xbb\xbf" + BAD.replace("\n", "\r\n").encode())
    assert run_packlint("--fix", str(tmp_path)).returncode == 0
    expected = BAD.replace("lengths)\n", "lengths, enforce_sorted=False)\n").replace("\n", "\r\n")
    assert path.read_bytes() == b"\xef\xbb\xbf" + expected.encode()


def test_missing_path(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD)
    result = run_packlint(str(tmp_path / "nope"), str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path}/nope:1:1: PKL001 no such file or directory" in result.stdout
    assert "a.py:6:12: PKL104" in result.stdout


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.py"
    path.write_text(BAD)
    path.chmod(0)
    (tmp_path / "b.py").write_text(BAD)
    result = run_packlint(str(tmp_path))
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert result.returncode == 2
    assert f"{path}:1:1: PKL001 cannot read: Permission denied" in result.stdout
    assert "b.py:6:12: PKL104" in result.stdout


def test_unreadable_paths_in_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root reads mode-0 files, so make reading fail in ways root cannot bypass."""
    from packlint.config import Settings
    from packlint.engine import check_paths

    (tmp_path / "dir.py").mkdir()
    good = tmp_path / "good.py"
    good.write_text(BAD)
    locked = tmp_path / "locked.py"
    locked.write_text(BAD)
    real_open = open

    def guarded_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    results = check_paths([str(tmp_path / "dir.py"), str(good), str(locked)], Settings(root=str(tmp_path)), jobs=1)
    by_name = {Path(r.path).name: r for r in results}
    assert [e.reason for e in by_name["dir.py"].errors] == ["cannot read: Is a directory"]
    assert [e.reason for e in by_name["locked.py"].errors] == ["cannot read: Permission denied"]
    assert [d.code for d in by_name["good.py"].diagnostics] == ["PKL104"]


def test_unwritable_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    path = directory / "a.py"
    path.write_text(BAD)
    (tmp_path / "b.py").write_text(BAD)
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)  # no new files: the atomic temp file cannot be made
    try:
        result = run_packlint("--fix", str(tmp_path))
    finally:
        directory.chmod(stat.S_IRWXU)
    if os.geteuid() == 0:
        pytest.skip("root can write into a read-only directory")
    assert result.returncode == 2
    assert f"{path}:1:1: PKL005 cannot write: Permission denied; file left unchanged" in result.stdout
    assert path.read_text() == BAD
    assert "enforce_sorted=False" in (tmp_path / "b.py").read_text()


def test_write_failure_as_root_via_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores permissions, so simulate a failing rename to prove nothing is lost."""
    from packlint import cli
    from packlint.diagnostics import FileResult

    path = tmp_path / "a.py"
    path.write_text(BAD)

    def failing_replace(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", failing_replace)
    result = cli._write(FileResult(str(path), new_source=b"broken", fixed=1))
    assert [e.reason for e in result.errors] == ["cannot write: Permission denied; file left unchanged"]
    assert result.fixed == 0
    assert path.read_text() == BAD
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"], "the temporary file was left behind"
