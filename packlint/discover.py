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
    """The patterns of one .gitignore file, relative to its directory, in order (`!` re-includes)."""

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
        patterns = tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
        return cls(directory, patterns) if patterns else None

    def ignores(self, path: str, is_dir: bool) -> bool:
        """Whether this file's patterns leave `path` (below its directory) ignored."""
        return self.verdict(path, is_dir) is True

    def verdict(self, path: str, is_dir: bool) -> bool | None:
        """True if the last pattern matching `path` ignores it, False if that pattern re-includes it
        (`!name`), None if no pattern matches (a .gitignore further up decides)."""
        prefix = self.directory.rstrip(os.sep) + os.sep
        if path.startswith(prefix) and self.directory not in ("", os.curdir):
            relative = path[len(prefix) :]
        else:
            relative = os.path.relpath(path, self.directory)
        relative = relative.replace(os.sep, "/")
        name = relative.rsplit("/", 1)[-1]
        ordered = self._ordered[is_dir]
        if ordered is None:  # no `!` pattern: any match ignores
            by_name, by_path = self._matchers[is_dir]
            return True if (by_name and by_name(name)) or (by_path and by_path(relative)) else None
        for negated, on_path, match in reversed(ordered):
            if match(relative if on_path else name):
                return not negated
        return None

    @functools.cached_property
    def _matchers(self) -> dict[bool, tuple[Callable[[str], object] | None, Callable[[str], object] | None]]:
        # For a file and for a directory: one expression for the patterns matched against the entry's name
        # and one for those (holding a `/`) matched against its path below this directory.
        made = {}
        for is_dir in (False, True):
            expressions = self._expressions(is_dir)
            names = [e for _, on_path, e in expressions if not on_path]
            paths = [e for _, on_path, e in expressions if on_path]
            made[is_dir] = (_any_of(names), _any_of(paths))
        return made

    @functools.cached_property
    def _ordered(self) -> dict[bool, list[tuple[bool, bool, Callable[[str], object]]] | None]:
        # With a `!` pattern the last match decides: each pattern on its own, in order.
        if not any(p.startswith("!") for p in self.patterns):
            return {False: None, True: None}
        return {
            is_dir: [(negated, on_path, re.compile(e).match) for negated, on_path, e in self._expressions(is_dir)]
            for is_dir in (False, True)
        }

    def _expressions(self, is_dir: bool) -> list[tuple[bool, bool, str]]:
        # (re-includes, matched against the path rather than the name, expression) per pattern, in order.
        # A pattern ending in `/` matches directories only; `\!` and `\#` begin a pattern with that character.
        found = []
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            pattern = pattern[1:] if negated else pattern
            if pattern.startswith(("\\!", "\\#")):
                pattern = pattern[1:]
            if pattern.endswith("/"):
                if not is_dir:
                    continue
                pattern = pattern.rstrip("/")
            if not pattern:
                continue
            if "/" in pattern:
                found.append((negated, True, _path_glob(pattern.lstrip("/"))))
            else:
                found.append((negated, False, fnmatch.translate(pattern)))
        return found


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
        if settings.excluded(path) or _ignored(ignores, path, is_dir):
            continue
        if is_dir:
            yield from _walk(path, settings, ignores)
        elif entry.is_file():
            yield path


def _ignored(ignores: list[GitIgnore], path: str, is_dir: bool) -> bool:
    # The deepest .gitignore with a pattern that matches decides, as in git.
    for ignore in reversed(ignores):
        verdict = ignore.verdict(path, is_dir)
        if verdict is not None:
            return verdict
    return False
