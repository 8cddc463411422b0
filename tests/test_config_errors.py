"""A configuration that cannot be used stops the run with its path and line (exit 2), never the defaults."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_packlint
from tests.test_cli import BAD, write


def test_invalid_toml_in_the_discovered_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    pyproject = write(tmp_path, "pyproject.toml", '[tool.packlint]\nselect = ["PKL1"\n')
    result = run_packlint(str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{pyproject}:3:1: invalid TOML" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_toml_without_a_packlint_table_is_still_an_error(tmp_path: Path) -> None:
    # It may be the table meant for us: using the defaults would check with settings nobody wrote.
    write(tmp_path, "a.py", BAD)
    pyproject = write(tmp_path, "pyproject.toml", "[project\nname = 'x'\n")
    result = run_packlint(str(tmp_path))
    assert result.returncode == 2
    assert f"{pyproject}:1:" in result.stderr


def test_unknown_key_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    pyproject = write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n\n[tool.packlint]\nselekt = ["PKL1"]\n')
    result = run_packlint(str(tmp_path))
    assert result.returncode == 2
    assert f"{pyproject}:5: unknown option `selekt` in [tool.packlint]" in result.stderr


def test_unknown_subtable_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    text = '[tool.packlint]\nselect = ["ALL"]\n[tool.packlint.per-file-ignore]\n"tests/*" = ["PKL104"]\n'
    pyproject = write(tmp_path, "pyproject.toml", text)
    result = run_packlint(str(tmp_path))
    assert result.returncode == 2
    assert f"{pyproject}:3: unknown option `per-file-ignore`" in result.stderr


def test_explicit_config_with_invalid_toml(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    config = write(tmp_path, "cfg/pyproject.toml", "[tool.packlint\n")
    result = run_packlint("--config", str(config), str(tmp_path))
    assert result.returncode == 2
    assert f"{config}:1:" in result.stderr and "invalid TOML" in result.stderr


def test_rule_names_select_like_codes(tmp_path: Path) -> None:
    write(tmp_path, "a.py", BAD)
    by_name = run_packlint("--output-format", "concise", "--select", "unsorted-enforce-sorted", str(tmp_path))
    assert by_name.returncode == 1, by_name.stderr
    assert "PKL104" in by_name.stdout
    assert run_packlint("--ignore", "unsorted-enforce-sorted", str(tmp_path)).returncode == 0
    write(tmp_path, "pyproject.toml", '[tool.packlint]\nignore = ["unsorted-enforce-sorted"]\n')
    assert run_packlint(str(tmp_path)).returncode == 0
    unknown = run_packlint("--select", "unsorted-enforced", str(tmp_path))
    assert unknown.returncode == 2 and "unknown rule selector `unsorted-enforced`" in unknown.stderr
