"""`pre-commit try-repo` runs our hooks: the check fails on a bad file and passes after the fix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli import BAD


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_hooks_fail_then_fix_then_pass(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    (project / "model.py").write_text(BAD)
    _git(project, "add", "model.py")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    # try-repo clones the repository's HEAD plus uncommitted changes; pre-commit then installs the
    # package into its own environment, which needs only click from PyPI.
    repo = tmp_path / "packlint-repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".git", "*.egg-info", ".venv", "__pycache__", ".*cache"))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    subprocess.run(["git", "commit", "-qm", "snapshot"], cwd=repo, check=True, env=env, capture_output=True)

    def try_repo(hook: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(repo), hook, "--all-files"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    check = try_repo("packlint")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "PKL104" in check.stdout
    fix = try_repo("packlint-fix")
    assert fix.returncode == 1, fix.stdout + fix.stderr  # pre-commit fails a hook that changed files
    assert "enforce_sorted=False" in (project / "model.py").read_text()
    again = try_repo("packlint")
    assert again.returncode == 0, again.stdout + again.stderr
