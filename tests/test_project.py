"""Project mode: the fixture projects give their marked diagnostics with `--project`, and the per-file
ones without it; imports resolve in every form the issue names; the cache re-checks an importer."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from packlint import cli
from packlint.project import ProjectView, root_of
from packlint.project.resolve import Resolver
from tests.conftest import ROOT

PROJECTS = ROOT / "fixtures" / "project"
# `# error: PKL111:43`: expected in project mode; `per-file: PKL301:5`: expected without it.
MARKS = {"project": re.compile(r"# error: (PKL\d{3}):(\d+)"), "per-file": re.compile(r"per-file: (PKL\d{3}):(\d+)")}


def invoke(*args: str) -> tuple[int, str]:
    """`packlint check ARGS` in this process."""
    result = CliRunner().invoke(cli.main, ["check", "-j", "1", *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def reported(directory: Path, *args: str) -> set[tuple[str, str, int, int]]:
    """(file relative to the project, code, row, column) of every diagnostic."""
    code, out = invoke("--no-cache", "--output-format", "json", *args, str(directory))
    assert code in (0, 1), out
    return {
        (rel(d["filename"], directory), d["code"], d["location"]["row"], d["location"]["column"])
        for d in json.loads(out)
    }


def rel(filename: str, directory: Path) -> str:
    return Path(filename).resolve().relative_to(directory.resolve()).as_posix()


def marked(directory: Path, mode: str) -> set[tuple[str, str, int, int]]:
    found = set()
    for path in sorted(directory.rglob("*.py")):
        for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in MARKS[mode].finditer(line):
                found.add((path.relative_to(directory).as_posix(), match.group(1), row, int(match.group(2))))
    return found


NAMES = sorted(p.name for p in PROJECTS.iterdir() if p.is_dir())


def test_every_pattern_and_trap_has_a_project() -> None:
    assert {
        "bad_lengths_to_gpu",
        "good_lengths_stay_on_cpu",
        "good_forward_resets",
        "good_helper_resets",
        "bad_forward_does_not_reset",
        "good_unsort_helper",
        "good_collate_sorts_descending",
    } <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_project_mode_reports_exactly_the_marks(name: str) -> None:
    directory = PROJECTS / name
    assert reported(directory, "--project") == marked(directory, "project")


@pytest.mark.parametrize("name", NAMES)
def test_per_file_mode_is_unchanged(name: str) -> None:
    directory = PROJECTS / name
    assert reported(directory, "--no-project") == marked(directory, "per-file")
    assert reported(directory) == marked(directory, "per-file")  # off unless asked for


@pytest.mark.parametrize("name", NAMES)
def test_project_prefilter_changes_nothing(name: str) -> None:
    from packlint.config import Settings
    from packlint.engine import check_paths

    files = sorted(str(p) for p in (PROJECTS / name).rglob("*.py"))
    settings = Settings(root=str(PROJECTS / name), project=True, strict=True)
    on = check_paths(files, settings, jobs=1)
    off = check_paths(files, settings.but(prefilter=False), jobs=1)
    assert [(r.path, r.diagnostics) for r in on] == [(r.path, r.diagnostics) for r in off]


def test_message_names_the_other_file_and_line() -> None:
    _, out = invoke("--no-cache", "--project", "--output-format", "json", str(PROJECTS / "bad_lengths_to_gpu"))
    messages = {d["message"] for d in json.loads(out)}
    assert any("`tagger/model.py:13`" in m and "`Tagger.forward`" in m for m in messages), messages
    assert all(d["fix"] is None for d in json.loads(out))  # no fix across files


def test_config_key_turns_project_mode_on(tmp_path: Path) -> None:
    shutil.copytree(PROJECTS / "good_forward_resets", tmp_path / "p")
    (tmp_path / "p" / "pyproject.toml").write_text("[tool.packlint]\nproject = true\n")
    code, out = invoke("--no-cache", str(tmp_path / "p"))
    assert code == 0, out
    (tmp_path / "p" / "pyproject.toml").write_text("[tool.packlint]\nproject = 1\n")
    result = CliRunner().invoke(cli.main, ["check", "--no-cache", str(tmp_path / "p")])
    assert result.exit_code == 2 and "`project` must be true or false" in result.stderr


# -- import resolution ------------------------------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_root_is_the_nearest_marker(tmp_path: Path) -> None:
    write(tmp_path, {"repo/pyproject.toml": "", "repo/pkg/deep/mod.py": "", "loose/script.py": ""})
    assert root_of(str(tmp_path / "repo/pkg/deep/mod.py")) == str((tmp_path / "repo").resolve())
    (tmp_path / "repo2/.git").mkdir(parents=True)
    write(tmp_path, {"repo2/a.py": ""})
    assert root_of(str(tmp_path / "repo2/a.py")) == str((tmp_path / "repo2").resolve())


def test_import_forms_resolve(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "setup.py": "",
            "src/pkg/__init__.py": "from .model import Net\n",
            "src/pkg/model.py": "class Net:\n    def forward(self, x):\n        self.zero_grad()\n",
            "src/pkg/data.py": "def collate(b):\n    return b\n",
            "src/pkg/sub/__init__.py": "",
            "src/pkg/sub/train.py": "",
            "scripts/utils.py": "def helper():\n    pass\n__all__ = ['helper']\ndef hidden():\n    pass\n",
            "scripts/run.py": "",
        },
    )
    root = str(tmp_path.resolve())
    train = str(tmp_path / "src/pkg/sub/train.py")
    resolver = Resolver(root, train)
    assert resolver.module("pkg.model") == str(tmp_path / "src/pkg/model.py")  # src/ layout
    assert resolver.module("model", level=2) == str(tmp_path / "src/pkg/model.py")  # from ..model
    assert resolver.module("", level=2) == str(tmp_path / "src/pkg/__init__.py")  # from .. import x
    assert resolver.module("numpy") is None  # not the project's
    run = Resolver(root, str(tmp_path / "scripts/run.py"))
    assert run.module("utils") == str(tmp_path / "scripts/utils.py")
    assert run.module("pkg.model") == str(tmp_path / "src/pkg/model.py")  # a script outside src/
    # A script inside a package run as `python src/pkg/sub/train.py` imports its siblings by plain name.
    write(tmp_path, {"src/pkg/sub/layers.py": ""})
    assert resolver.module("layers") == str(tmp_path / "src/pkg/sub/layers.py")
    import ast

    code = (
        "from pkg import Net\nimport pkg.data as D\nfrom pkg import data\nfrom ..model import Net as N2\n"
        "from ... import os\n"
    )
    view = ProjectView(train, ast.parse(code), root)
    assert view.resolve(ast.parse("Net", mode="eval").body) is not None  # through the package's re-export
    assert view.resolve(ast.parse("N2", mode="eval").body) is not None
    assert view.resolve(ast.parse("D.collate", mode="eval").body) is not None
    assert view.resolve(ast.parse("data.collate", mode="eval").body) is not None
    star = ProjectView(str(tmp_path / "scripts/run.py"), ast.parse("from utils import *\n"), root)
    assert set(star.bindings) == {"helper"}  # `__all__` decides
    (tmp_path.parent / "elsewhere.py").write_text("def f():\n    pass\n")  # outside the root: never read
    away = ProjectView(
        str(tmp_path / "scripts/run.py"), ast.parse("from .. import elsewhere\nimport elsewhere\n"), root
    )
    assert away.bindings == {} and not away.read


# -- caching --------------------------------------------------------------------------------------------


def test_editing_the_imported_file_rechecks_the_importer(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "good_forward_resets", project)
    cache_dir = str(tmp_path / "cache")
    code, out = invoke("--project", "--cache-dir", cache_dir, "--output-format", "concise", str(project))
    assert code == 0, out
    model = project / "model.py"
    model.write_text(model.read_text().replace("self.zero_grad()", "pass"))
    code, out = invoke("--project", "--cache-dir", cache_dir, "--output-format", "concise", str(project / "train.py"))
    assert code == 1 and "train.py:9:5: PKL301" in out, out
    model.write_text(model.read_text().replace("pass", "self.zero_grad()"))
    code, out = invoke("--project", "--cache-dir", cache_dir, "--output-format", "concise", str(project / "train.py"))
    assert code == 0, out


def test_a_module_that_appears_rechecks_the_importer(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "good_helper_resets", project)
    helpers = project / "lib" / "helpers.py"
    text = helpers.read_text()
    helpers.unlink()
    cache_dir = str(tmp_path / "cache")
    train = str(project / "scripts" / "train.py")
    code, out = invoke("--project", "--cache-dir", cache_dir, "--output-format", "concise", train)
    assert code == 1 and "PKL301" in out, out
    helpers.write_text(text)
    code, out = invoke("--project", "--cache-dir", cache_dir, "--output-format", "concise", train)
    assert code == 0, out


# -- editors and flake8 -----------------------------------------------------------------------------------


def test_stdin_filename_resolves_from_the_path() -> None:
    train = PROJECTS / "good_forward_resets" / "train.py"
    text = train.read_text()
    result = CliRunner().invoke(
        cli.main, ["check", "--project", "--stdin-filename", str(train), "--output-format", "concise"], input=text
    )
    assert result.exit_code == 0, result.stdout
    result = CliRunner().invoke(
        cli.main, ["check", "--stdin-filename", str(train), "--output-format", "concise"], input=text
    )
    assert result.exit_code == 1 and "PKL301" in result.stdout


def test_flake8_plugin_resolves_from_the_path(tmp_path: Path) -> None:
    from packlint.flake8_plugin import Plugin

    for name, config, expected in (("off", "", ["PKL301"]), ("on", "[tool.packlint]\nproject = true\n", [])):
        project = tmp_path / name
        shutil.copytree(PROJECTS / "good_forward_resets", project)
        (project / "pyproject.toml").write_text(config)
        train = project / "train.py"
        lines = train.read_text().splitlines(keepends=True)
        assert [m.split()[0] for _, _, m, _ in Plugin(None, str(train), lines).run()] == expected
