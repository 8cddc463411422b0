"""Shared helpers: run the CLI in-process or as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_packlint(*args: str, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """`packlint ARGS` as a user runs it, in a subprocess (with `input` on its standard input)."""
    return subprocess.run(
        [sys.executable, "-m", "packlint", *args],
        cwd=cwd or ROOT,
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def packlint_cli():  # type: ignore[no-untyped-def]
    """The subprocess runner, as a fixture."""
    return run_packlint
