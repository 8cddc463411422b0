"""From the paths on the command line to the files to check: Python files and Jupyter notebooks."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable, Iterator, Sequence
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
        prefix = self.directory.rstrip(os.sep) + os.sep
        if path.startswith(prefix) and self.directory not in ("", os.curdir):
            relative = path[len(prefix) :]
        else:
            relative = os.path.relpath(path, self.directory)
        relative = relative.replace(os.sep, "/")
        name = relative.rsplit("/", 1)[-1]
        by_name, by_path = self._matchers[is_dir]
        return bool(by_name and by_name(name)) or bool(by_path and by_path(relative))

    @functools.cached_property
    def _matchers(self) -> dict[bool, tuple[Callable[[str], object] | None, Callable[[str], object] | None]]:
        # For a file and for a directory: one expression for the patterns matched against the entry's name
        # and one for those (holding a `/`) matched against its path below this directory. A pattern
        # ending in `/` matches directories only.
        made = {}
        for is_dir in (False, True):
            names: list[str] = []
            paths: list[str] = []
            for pattern in self.patterns:
                if pattern.endswith("/"):
                    if not is_dir:
                        continue
                    pattern = pattern.rstrip("/")
                if "/" in pattern:
                    paths.append(_path_glob(pattern.lstrip("/")))
                else:
                    names.append(fnmatch.translate(pattern))
            made[is_dir] = (_any_of(names), _any_of(paths))
        return made


def _path_glob(pattern: str) -> str:
    """An expression for a .gitignore pattern matched against a path, as git matches it: `*` and `?` do not
    match `/`, `**/` matches any number of directories (none too), a trailing `/**` everything inside."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            members = pattern[i + 1 : end]
            negated = members[:1] in ("!", "^")
            members = members[1:] if negated else members
            out.append(f"[{'^/' if negated else ''}{members.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "(?s:" + "".join(out) + r")\Z"


def _any_of(expressions: list[str]) -> Callable[[str], object] | None:
    """A `match` for any of these `fnmatch.translate` expressions (each ends in `\\Z`), or None."""
    return re.compile("|".join(f"(?:{e})" for e in sorted(expressions))).match if expressions else None


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
