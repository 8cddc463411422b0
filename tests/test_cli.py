"""The command line: default command, options, exit codes, fixes, diff, config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ROOT, run_packlint

BAD = """\
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence


def collate(batch):
    lengths = [len(s) for s in batch]
    return pack_padded_sequence(pad_sequence(batch), lengths)
"""
CLEAN = "import os\n"


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_bare_paths_mean_check(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    bare = run_packlint(str(tmp_path))
    explicit = run_packlint("check", str(tmp_path))
    assert bare.returncode == explicit.returncode == 1
    assert bare.stdout == explicit.stdout
    assert f"{tmp_path}/a.py:6:12: PKL104 [*]" in bare.stdout
    assert "Found 1 error." in bare.stdout


def test_no_path_means_current_directory(tmp_path: Path) -> None:
    write(tmp_path, "pkg/a.py", BAD)
    result = run_packlint(cwd=tmp_path)
    assert result.returncode == 1
    assert "pkg/a.py:6:12: PKL104" in result.stdout


def test_clean_exit_zero(tmp_path: Path) -> None:
    write(tmp_path, "a.py", CLEAN)
    result = run_packlint(str(tmp_path))
    assert result.returncode == 0
    assert result.stdout == "All checks passed!\n"


def test_exit_zero_flag(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    assert run_packlint("--exit-zero", str(tmp_path)).returncode == 0


def test_fix_writes_and_second_run_is_clean(tmp_path: Path) -> None:
    bad = write(tmp_path, "a.py", BAD)
    clean = write(tmp_path, "b.py", CLEAN)
    before = clean.read_bytes()
    result = run_packlint("--fix", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "enforce_sorted=False" in bad.read_text()
    assert "Found 1 error (1 fixed, 0 remaining)." in result.stdout
    assert clean.read_bytes() == before
    again = run_packlint("--fix", str(tmp_path))
    assert again.returncode == 0 and "All checks passed!" in again.stdout


def test_diff_writes_nothing(tmp_path: Path) -> None:
    bad = write(tmp_path, "a.py", BAD)
    result = run_packlint("--diff", str(tmp_path))
    assert result.returncode == 1
    assert "+    return pack_padded_sequence(pad_sequence(batch), lengths, enforce_sorted=False)" in result.stdout
    assert "Would fix 1 error." in result.stderr
    assert bad.read_text() == BAD


def test_select_ignore_and_unknown_selector(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    assert run_packlint("--ignore", "PKL104", str(tmp_path)).returncode == 0
    assert run_packlint("--select", "PKL101", str(tmp_path)).returncode == 0
    assert run_packlint("--select", "PKL1", str(tmp_path)).returncode == 1
    unknown = run_packlint("--select", "XYZ9", str(tmp_path))
    assert unknown.returncode == 2
    assert "unknown rule selector `XYZ9`" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_usage_error_exits_two(tmp_path: Path) -> None:
    result = run_packlint("--output-format", "xml", str(tmp_path))
    assert result.returncode == 2


def test_pyproject_config(tmp_path: Path) -> None:
    write(tmp_path, "pkg/a.py", BAD)
    write(tmp_path, "tests/test_a.py", BAD)
    write(tmp_path, "vendored/b.py", BAD)
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.packlint]\nextend-exclude = ["vendored"]\n[tool.packlint.per-file-ignores]\n"tests/*" = ["PKL104"]\n',
    )
    result = run_packlint(str(tmp_path))
    assert "pkg/a.py" in result.stdout
    assert "tests/test_a.py" not in result.stdout
    assert "vendored" not in result.stdout
    write(tmp_path, "pyproject.toml", '[tool.packlint]\nignore = ["PKL104"]\n')
    assert run_packlint(str(tmp_path)).returncode == 0


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    write(tmp_path, "pyproject.toml", '[tool.packlint]\nselekt = ["PKL1"]\n')
    result = run_packlint(str(tmp_path))
    assert result.returncode == 2
    assert "unknown option `selekt`" in result.stderr
    assert "Traceback" not in result.stderr


def test_noqa_and_skip_file(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD.replace("lengths)\n", "lengths)  # noqa: PKL104\n"))
    write(tmp_path, "b.py", BAD.replace("lengths)\n", "lengths)  # noqa\n"))
    write(tmp_path, "c.py", "# packlint: skip-file\n" + BAD)
    write(tmp_path, "d.py", BAD.replace("lengths)\n", "lengths)  # noqa: PKL101\n"))
    result = run_packlint("--output-format", "concise", str(tmp_path))
    assert result.returncode == 1
    assert [line.split(":")[0].rsplit("/", 1)[-1] for line in result.stdout.splitlines()[:-2]] == ["d.py"]


def test_statistics(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    write(tmp_path, "b.py", BAD)
    result = run_packlint("--statistics", str(tmp_path))
    assert result.stdout.split() == ["2", "PKL104", "[*]", "unsorted-enforce-sorted"]


def test_fixtures_fix_matches_goldens_and_leaves_the_rest_alone(tmp_path: Path) -> None:
    copy = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", copy)
    before = {p: p.read_bytes() for p in copy.rglob("*.py")}
    # Fixtures are written for the default selection plus their directory's rule (opt-in ones too).
    for directory in sorted(p for p in copy.iterdir() if p.is_dir() and p.name != "project"):
        run_packlint("--fix", "--unsafe-fixes", "--extend-select", directory.name, str(directory))
    for path, data in before.items():
        golden = path.with_name(path.stem + ".fixed.py")
        if path.name.startswith("bad_") and not path.name.endswith(".fixed.py") and golden.exists():
            assert path.read_bytes() == golden.read_bytes(), path
        elif not path.name.startswith("bad_") or not golden.exists():
            if path.name.startswith("bad_") and not path.name.endswith(".fixed.py"):
                continue  # a bad file without a golden has no fix; may still be unchanged
            assert path.read_bytes() == data, f"{path} changed"
    for directory in sorted(p for p in copy.iterdir() if p.is_dir() and p.name != "project"):
        second = run_packlint("--diff", "--unsafe-fixes", "--extend-select", directory.name, str(directory))
        assert "No errors would be fixed." in second.stderr, second.stdout


def test_rule_command() -> None:
    page = run_packlint("rule", "PKL104")
    assert page.returncode == 0
    assert page.stdout == (ROOT / "docs/rules/PKL104.md").read_text()
    by_name = run_packlint("rule", "unsorted-enforce-sorted")
    assert by_name.stdout == page.stdout
    listing = run_packlint("rule", "--all")
    assert "PKL101\tlengths-list-indexed-by-tensor\t(default" in listing.stdout
    assert run_packlint("rule", "PKL999").returncode == 2


def test_json_output_shape(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    result = run_packlint("--output-format", "json", str(tmp_path))
    records = json.loads(result.stdout)
    assert len(records) == 1
    record = records[0]
    assert set(record) == {
        "cell", "code", "end_location", "filename", "fix", "location", "message", "name", "noqa_row", "url"
    }  # fmt: skip
    assert record["name"] == "unsorted-enforce-sorted"
    assert record["code"] == "PKL104"
    assert record["location"] == {"row": 6, "column": 12}
    assert record["noqa_row"] == 6
    assert record["fix"]["applicability"] == "safe"
    edit = record["fix"]["edits"][0]
    assert edit["content"] == ", enforce_sorted=False"
    assert edit["location"] == edit["end_location"] == {"row": 6, "column": 61}
    assert record["filename"] == str(tmp_path / "a.py")


def test_github_output(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    result = run_packlint("--output-format", "github", str(tmp_path))
    assert result.stdout == (
        f"::error title=packlint (PKL104),file={tmp_path}/a.py,line=6,col=12,endLine=6,endColumn=62::"
        "PKL104 `lengths` is not sorted descending but `enforce_sorted` is on; pass `enforce_sorted=False`\n"
    )
