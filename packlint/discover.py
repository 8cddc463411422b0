"""From the paths on the command line to the files to check: Python files and Jupyter notebooks."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from packlint.config import Settings


@dataclass(frozen=True)
class GitIgnore:
    """The patterns of one .gitignore file, relative to its directory (negations are not honoured)."""

    directory: str
    patterns: tuple[str, ...]

    @classmethod
    def read(cls, directory: str) -> GitIgnore | None:
        """The .gitignore in `directory`, if there is one we can read."""
        try:
            with open(os.path.join(directory, ".gitignore"), encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        patterns = tuple(line.strip() for line in lines if line.strip() and not line.startswith(("#", "!")))
        return cls(directory, patterns) if patterns else None

    def ignores(self, path: str, is_dir: bool) -> bool:
        """Whether `path` (below this file's directory) matches one of the patterns."""
        relative = os.path.relpath(path, self.directory).replace(os.sep, "/")
        name = relative.rsplit("/", 1)[-1]
        for pattern in self.patterns:
            if pattern.endswith("/"):
                if not is_dir:
                    continue
                pattern = pattern.rstrip("/")
            anchored = "/" in pattern
            pattern = pattern.lstrip("/")
            if anchored:
                if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(relative, pattern.replace("**/", "")):
                    return True
            elif fnmatch.fnmatchcase(name, pattern):
                return True
        return False


def discover(
    paths: Sequence[str], settings: Settings, force_exclude: bool = False
) -> tuple[list[str], list[tuple[str, str]]]:
    """Python files under `paths` and paths that do not exist; files given by name are kept even
    when excluded, unless `force_exclude` (as pre-commit needs, since it names every file)."""
    files: list[str] = []
    missing: list[tuple[str, str]] = []
    for path in paths or ["."]:
        if os.path.isfile(path):
            if not (force_exclude and excluded_by_name(path, settings)):
                files.append(os.path.normpath(path))
        elif os.path.isdir(path):
            files.extend(_walk(path, settings, []))
        else:
            missing.append((path, "no such file or directory"))
    return sorted(set(files)), missing


def excluded_by_name(path: str, settings: Settings) -> bool:
    """Whether a file, or a directory above it inside the project, is excluded."""
    from packlint.config import matches_pattern, relative_to_root

    relative = relative_to_root(path, settings.root)
    if relative.startswith("../"):
        return settings.excluded(path)
    return any(matches_pattern(relative, p) for p in (*settings.exclude, *settings.extend_exclude))


def _walk(directory: str, settings: Settings, ignores: list[GitIgnore]) -> Iterator[str]:
    own = GitIgnore.read(directory)
    ignores = [*ignores, own] if own is not None else ignores
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        is_dir = entry.is_dir(follow_symlinks=False)
        if not is_dir and not settings.included(entry.path):
            continue  # before the exclusion test: most entries of a package tree are not Python files
        path = os.path.normpath(entry.path)
        if settings.excluded(path) or any(g.ignores(path, is_dir) for g in ignores):
            continue
        if is_dir:
            yield from _walk(path, settings, ignores)
        elif entry.is_file():
            yield path
