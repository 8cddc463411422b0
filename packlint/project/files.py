"""The project's Python files, for the questions that look for callers: who builds this class, who calls this
function. Listed through the resolver's directory listings (one `stat` per directory once listed), and
every directory walked is a dependency of the result (a file created anywhere in it re-checks)."""

from __future__ import annotations

import hashlib
import os

from packlint.project.resolve import listing

# Folders that hold no code of the project: version control, caches, virtual environments, installs.
SKIPPED = frozenset({"__pycache__", "node_modules", "site-packages", "venv", "env", "build", "dist"})
MAX_FILES = 20_000  # a tree larger than this is not searched: what it would say is unknown


def project_files(root: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(the `.py` files under `root`, the directories walked), or None when there are too many to search."""
    files: list[str] = []
    folders: list[str] = []
    stack = [root]
    while stack:
        directory = stack.pop()
        folders.append(directory)
        names, subdirectories = listing(directory)
        files.extend(os.path.join(directory, n) for n in sorted(names) if n.endswith(".py"))
        if len(files) > MAX_FILES:
            return None
        stack.extend(
            os.path.join(directory, d)
            for d in sorted(subdirectories, reverse=True)
            if not d.startswith(".") and d not in SKIPPED
        )
    return tuple(files), tuple(folders)


def listing_digest(directory: str) -> str:
    """What a dependency on a directory records: its `.py` files and folders (a digest prefixed `ls:`)."""
    names, subdirectories = listing(directory)
    entries = sorted(n for n in names if n.endswith(".py")) + sorted(f"{d}/" for d in subdirectories)
    return "ls:" + hashlib.sha256("\0".join(entries).encode("utf-8", "surrogateescape")).hexdigest()


def searched_files(root: str, listed: dict[str, str]) -> tuple[str, ...] | None:
    """The `.py` files under `root` for a search of the whole project, each directory walked recorded in
    `listed` with its listing digest (a dependency of the answer); None when there are too many."""
    found = project_files(root)
    if found is None:
        return None
    files, folders = found
    for folder in folders:
        listed[folder] = listing_digest(folder)
    return files
