"""Adopting packlint on existing code: --show-fixes, --add-noqa, --baseline / --write-baseline."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_packlint
from tests.test_cli import BAD, write

FIXED_LINE = "    return pack_padded_sequence(pad_sequence(batch), lengths, enforce_sorted=False)\n"


def test_show_fixes_lists_what_was_fixed(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    write(tmp_path, "b.py", BAD)
    result = run_packlint("--fix", "--show-fixes", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith(
        "Fixed 2 errors:\n- a.py:\n    1 \u00d7 PKL104 (unsorted-enforce-sorted)\n"
        "- b.py:\n    1 \u00d7 PKL104 (unsorted-enforce-sorted)\n"
    )
    again = run_packlint("--fix", "--show-fixes", ".", cwd=tmp_path)
    assert again.stdout.endswith("No errors fixed.\n")


def test_add_noqa_suppresses_each_reported_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.py", BAD)
    result = run_packlint("--add-noqa", str(path))
    assert result.returncode == 0, result.stderr
    assert "Added 1 noqa directive." in result.stderr
    assert path.read_text() == BAD.replace("lengths)\n", "lengths)  # noqa: PKL104\n")
    assert run_packlint(str(path)).returncode == 0
    again = run_packlint("--add-noqa", str(path))
    assert "Added 0 noqa directives." in again.stderr
    assert path.read_text() == BAD.replace("lengths)\n", "lengths)  # noqa: PKL104\n")


def test_add_noqa_keeps_comments_and_merges_codes(tmp_path: Path) -> None:
    commented = write(tmp_path, "c.py", BAD.replace("lengths)\n", "lengths)  # why: legacy\n"))
    merged = write(tmp_path, "m.py", BAD.replace("lengths)\n", "lengths)  # noqa: E501 -- long\n"))
    crlf = tmp_path / "crlf.py"
    crlf.write_bytes(b"\xef\xbb\xbf" + BAD.replace("\n", "\r\n").encode())
    result = run_packlint("--add-noqa", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert commented.read_text() == BAD.replace("lengths)\n", "lengths)  # why: legacy  # noqa: PKL104\n")
    assert merged.read_text() == BAD.replace("lengths)\n", "lengths)  # noqa: E501, PKL104 -- long\n")
    expected = BAD.replace("lengths)\n", "lengths)  # noqa: PKL104\n").replace("\n", "\r\n")
    assert crlf.read_bytes() == b"\xef\xbb\xbf" + expected.encode()
    assert run_packlint(str(tmp_path)).returncode == 0


def test_add_noqa_never_writes_into_a_string_or_after_a_backslash(tmp_path: Path) -> None:
    text = (
        "from torch.nn.utils.rnn import pack_padded_sequence\n"
        "def f(p, b):\n"
        "    lengths = [len(s) for s in b]\n"
        '    return pack_padded_sequence(p, lengths, batch_first={"a": """\n'
        '"""}["a"] == "")\n'
    )
    path = write(tmp_path, "s.py", text)
    continued = text.replace('batch_first={"a": """\n"""}["a"] == "")', "\\\n        batch_first=True)")
    other = write(tmp_path, "t.py", continued)
    result = run_packlint("--add-noqa", str(tmp_path))
    assert path.read_text() == text
    assert other.read_text() == continued
    assert result.returncode == 1
    assert "packlint: warning: 2 diagnostics start on a line that cannot end in a comment" in result.stderr


def test_baseline_hides_known_findings_even_when_lines_move(tmp_path: Path) -> None:
    path = write(tmp_path, "pkg/a.py", BAD)
    baseline = tmp_path / "packlint-baseline.json"
    written = run_packlint("--write-baseline", str(baseline), ".", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    data = json.loads(baseline.read_text())
    assert data["diagnostics"] == [
        {
            "code": "PKL104",
            "path": "pkg/a.py",
            "line": "return pack_padded_sequence(pad_sequence(batch), lengths)",
        }
    ]
    assert run_packlint("--baseline", str(baseline), ".", cwd=tmp_path).stdout == "All checks passed!\n"
    # Lines inserted above the finding: its row changes, its text does not.
    path.write_text("import os\nimport sys\n\n" + BAD)
    moved = run_packlint("--baseline", str(baseline), ".", cwd=tmp_path)
    assert moved.returncode == 0, moved.stdout
    # A new finding is reported, the known one still hidden.
    path.write_text(BAD + "\n\ndef again(batch):\n    lengths = [len(s) for s in batch]\n"
                    "    return pack_padded_sequence(pad_sequence(batch), lengths, batch_first=False)\n")  # fmt: skip
    new = run_packlint("--baseline", str(baseline), "--output-format", "concise", ".", cwd=tmp_path)
    assert new.returncode == 1
    assert [line.split(":")[:2] for line in new.stdout.splitlines()[:-2]] == [["pkg/a.py", "11"]]


def test_baseline_counts_identical_lines(tmp_path: Path) -> None:
    # Two findings on identical lines: a baseline of one hides one of them, not both.
    write(tmp_path, "a.py", BAD)
    baseline = tmp_path / "base.json"
    run_packlint("--write-baseline", str(baseline), ".", cwd=tmp_path)
    write(tmp_path, "a.py", BAD + "\n\n" + BAD.split("\n\n\n", 1)[1].replace("collate", "collate2"))
    result = run_packlint("--baseline", str(baseline), "--output-format", "concise", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("PKL104") == 1


def test_a_file_that_is_not_a_baseline_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    bad = write(tmp_path, "base.json", "{not json")
    result = run_packlint("--baseline", str(bad), ".", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a packlint baseline" in result.stderr and "Traceback" not in result.stderr
    missing = run_packlint("--baseline", str(tmp_path / "nope.json"), ".", cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read the baseline" in missing.stderr


def test_failures_are_never_baselined(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "def f(:\n    pack_padded_sequence\n")
    baseline = tmp_path / "base.json"
    assert run_packlint("--write-baseline", str(baseline), ".", cwd=tmp_path).returncode == 2
    assert run_packlint("--baseline", str(baseline), ".", cwd=tmp_path).returncode == 2
