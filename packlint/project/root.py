"""Where a project starts: the nearest directory above a file that holds a project marker."""

from __future__ import annotations

import functools
import os

# What makes a directory a project root, as for ruff and pytest: its packaging or its version control.
MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


@functools.lru_cache(maxsize=256)
def find_root(directory: str) -> str:
    """The nearest directory at or above `directory` holding a marker; `directory` itself when none does.

    Without a marker only the file's own directory is the project: a folder of scripts that import each
    other (`from model import Net`) still resolves, and nothing above it is read."""
    start = os.path.realpath(directory)
    current = start
    while True:
        if any(os.path.exists(os.path.join(current, marker)) for marker in MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return start
        current = parent


def root_of(path: str) -> str:
    """The project root of the file at `path`."""
    return find_root(os.path.dirname(os.path.abspath(path)))


def inside(path: str, root: str) -> bool:
    """Whether `path` (resolved) lies in `root`: nothing outside the project is read."""
    real = os.path.realpath(path)
    return real == root or real.startswith(os.path.join(root, ""))
