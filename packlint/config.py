"""Settings: `[tool.packlint]` in the nearest pyproject.toml, merged with the command line."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 and older
    import tomli as tomllib

DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv",
    ".vscode", "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages",
    "venv", ".packlint_cache",
)  # fmt: skip


# Which files discovery picks up when walking directories (ruff's `include`): notebooks too, as ruff
# does since 0.6. `extend-exclude = ["*.ipynb"]` (or `include = ["*.py"]`) turns notebooks off.
DEFAULT_INCLUDE = ("*.py", "*.ipynb")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Settings:
    """Everything that decides which rules run on which files and what happens to fixes."""

    select: tuple[str, ...] | None = None  # None: the default selection
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = DEFAULT_INCLUDE
    extend_include: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fix: bool = False
    unsafe_fixes: bool = False
    root: str = field(default_factory=os.getcwd)
    strict: bool = False  # tests: let a rule's exception propagate instead of reporting it
    prefilter: bool = True  # tests: False parses every file, to prove the prefilter changes nothing
    gating: bool = True  # tests: False walks every function, to prove facts gating changes nothing
    fix_edits: bool = False  # JSON and SARIF: every fix's text edits, made through libcst
    project: bool = False  # project mode: rules follow calls into the project's other files (docs/project-mode.md)

    def but(self, **changes: object) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def codes(self) -> frozenset[str]:
        """The codes of the rules this run checks."""
        from packlint.rules.triggers import ADMISSION  # not the rules themselves: choosing them loads none

        return select_codes(
            [(code, rule.default) for code, rule in ADMISSION.items()], self.select, self.extend_select, self.ignore
        )

    def ignored_for(self, path: str) -> tuple[str, ...]:
        """Selectors that `per-file-ignores` turns off for `path`."""
        relative = relative_to_root(path, self.root)
        found: list[str] = []
        for pattern, codes in self.per_file_ignores:
            if matches_pattern(relative, pattern):
                found.extend(codes)
        return tuple(found)

    def excluded(self, path: str) -> bool:
        """Whether a path met while walking directories is excluded (by its name, or its path
        relative to the project root); directories above the path being walked do not count."""
        name = os.path.basename(path)
        relative = relative_to_root(path, self.root)
        inside = not relative.startswith("../")
        patterns = _any_of((*self.exclude, *self.extend_exclude))
        return patterns.match(name) is not None or (inside and patterns.match(relative) is not None)

    def included(self, path: str) -> bool:
        """Whether discovery takes a file met while walking (by its name, or its path relative to the root)."""
        patterns = (*self.include, *self.extend_include)
        suffixes = _suffixes(patterns)
        if suffixes is not None:
            return path.endswith(suffixes)
        relative = relative_to_root(path, self.root)
        matcher = _any_of(patterns)
        return matcher.match(os.path.basename(path)) is not None or matcher.match(relative) is not None


@functools.lru_cache(maxsize=16)
def _suffixes(patterns: tuple[str, ...]) -> tuple[str, ...] | None:
    # `*.py`-style patterns (all there usually are) need only a suffix test, the cheapest walk.
    if all(p.startswith("*.") and not any(c in p[1:] for c in "*?[/") for p in patterns):
        return tuple(p[1:] for p in patterns)
    return None


@functools.lru_cache(maxsize=16)
def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str]:
    # One regex for the lot: it matches exactly where `fnmatchcase` matches one of them, at a fraction of
    # the cost when walking a tree of thousands of entries.
    return re.compile("|".join(fnmatch.translate(p.rstrip("/")) for p in patterns) or "(?!)")


@functools.lru_cache(maxsize=16)
def _root_prefix(root: str) -> str:
    return os.path.join(os.path.abspath(root), "")


def relative_to_root(path: str, root: str) -> str:
    """`path` relative to the project root, with forward slashes."""
    absolute = os.path.abspath(path)
    prefix = _root_prefix(root)
    if absolute.startswith(prefix):  # the usual case, and what relpath gives for it
        return absolute[len(prefix) :].replace(os.sep, "/")
    try:
        rel = os.path.relpath(absolute, root)
    except ValueError:  # another drive on Windows
        rel = path
    return rel.replace(os.sep, "/")


def matches_pattern(relative: str, pattern: str) -> bool:
    """ruff-style matching: a pattern matches the file name, the relative path, or a parent."""
    pattern = pattern.rstrip("/")
    name = relative.rsplit("/", 1)[-1]
    if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(relative, pattern):
        return True
    parts = relative.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts)))


def matches_selector(code: str, selector: str) -> bool:
    """`ALL`, a prefix such as `PKL1`, or a full code."""
    selector = selector.strip().upper()
    return selector == "ALL" or code.startswith(selector)


def select_codes(
    rules: Iterable[tuple[str, bool]],
    select: Iterable[str] | None,
    extend_select: Iterable[str],
    ignore: Iterable[str],
) -> frozenset[str]:
    """The selected codes: `select` (or the defaults), plus `extend-select`, minus `ignore`."""
    rules = list(rules)
    if select is None:
        chosen = {code for code, default in rules if default}
    else:
        chosen = {code for code, _ in rules if any(matches_selector(code, s) for s in select)}
    chosen |= {code for code, _ in rules if any(matches_selector(code, s) for s in extend_select)}
    return frozenset(code for code in chosen if not any(matches_selector(code, s) for s in ignore))


@functools.lru_cache(maxsize=1)
def rule_names() -> dict[str, str]:
    """Every rule's code and kebab-case name, read from the rule modules' names (`pkl104_unsorted_enforce_sorted.py`)
    without importing them (a run served from the cache never imports the rules)."""
    directory = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rules")
    names = sorted(n for n in os.listdir(directory) if n.startswith("pkl") and n.endswith(".py"))
    return {f"PKL{n[3:6]}": n[7:-3].replace("_", "-") for n in names if n[3:6].isdigit() and n[6:7] == "_"}


def known_codes() -> tuple[str, ...]:
    """Every rule's code, read from the rule modules' names without importing them."""
    return tuple(sorted(rule_names()))


def resolve_names(selectors: Iterable[str] | None) -> tuple[str, ...] | None:
    """Selectors with rule names (`unsorted-enforce-sorted`) replaced by their codes, as `packlint rule` takes."""
    if selectors is None:
        return None
    by_name = {name: code for code, name in rule_names().items()}
    return tuple(by_name.get(s.strip().lower(), s) for s in selectors)


def validate_selectors(selectors: Iterable[str], known: Iterable[str], where: str) -> None:
    """Reject selectors that match no rule (a typo should not silently select nothing)."""
    known = list(known)
    for selector in selectors:
        if not any(matches_selector(code, selector) for code in known):
            raise ConfigError(f"{where}: unknown rule selector `{selector}`")


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a `[tool.packlint]` table."""
    start = start.resolve()
    for directory in [start, *start.parents] if start.is_dir() else start.parents:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            # A pyproject.toml that cannot be read is an error, as in ruff: it may be the one meant for us,
            # and silently using the defaults would check with settings nobody wrote.
            data = _read_toml(candidate)
            tool = data.get("tool", {})
            if isinstance(tool, dict) and "packlint" in tool:
                return candidate
    return None


def _read_toml(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_toml_place(path, exc, text)}: invalid TOML: {_toml_message(exc)}") from None


def _toml_place(path: Path, exc: Exception, text: str) -> str:
    # Python 3.14 gives lineno/colno; before, the position is only in the message: "(at line 2, column 5)".
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if line is None:
        found = re.search(r"at line (\d+), column (\d+)", str(exc))
        if found:
            line, column = int(found.group(1)), int(found.group(2))
        elif "end of document" in str(exc):
            line, column = text.count("\n") + 1, 1
    return f"{path}:{line}:{column}" if line is not None else str(path)


def _toml_message(exc: Exception) -> str:
    return str(getattr(exc, "msg", None) or re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", str(exc)))


def key_line(path: str, key: str) -> int | None:
    """The line of `key = ...` in a TOML file, for errors that name a key (None if it cannot be found)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    in_packlint = not path.endswith("pyproject.toml")
    for number, line in enumerate(lines, 1):
        header = re.match(r"^\s*\[+\s*([^\]]+?)\s*\]", line)
        if header:
            in_packlint = header.group(1) == "tool.packlint" or header.group(1).startswith("tool.packlint.")
            if header.group(1) == f"tool.packlint.{key}":
                return number
        elif in_packlint and pattern.match(line):
            return number
    return None


def load_settings(config: Path | None, start: Path) -> Settings:
    """Settings from an explicit config file, or the nearest pyproject.toml, or the defaults."""
    path = config if config is not None else find_pyproject(start)
    if path is None:
        return Settings()  # the project root is then the working directory, as for ruff
    data = _read_toml(path)
    table: object = data
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("packlint", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.packlint] must be a table")
    return settings_from_table(table, str(path), str(path.resolve().parent))


def _strings(table: Mapping[str, object], key: str, where: str) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of strings")
    return tuple(value)


def settings_from_table(table: Mapping[str, object], where: str, root: str) -> Settings:
    """Settings from a `[tool.packlint]` table."""
    known = {
        "select", "extend-select", "ignore", "exclude", "extend-exclude", "include", "extend-include",
        "per-file-ignores", "project",
    }  # fmt: skip
    for key in table:
        if key not in known:
            line = key_line(where, key)
            place = f"{where}:{line}" if line is not None else where
            raise ConfigError(f"{place}: unknown option `{key}` in [tool.packlint] (known: {', '.join(sorted(known))})")
    codes = known_codes()
    select = resolve_names(_strings(table, "select", where))
    extend = resolve_names(_strings(table, "extend-select", where)) or ()
    ignore = resolve_names(_strings(table, "ignore", where)) or ()
    validate_selectors([*(select or ()), *extend, *ignore], codes, where)
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise ConfigError(f"{where}: `per-file-ignores` must be a table of pattern = [codes]")
    pfi: list[tuple[str, tuple[str, ...]]] = []
    for pattern, value in per_file.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: per-file-ignores `{pattern}` must be a list of codes")
        validate_selectors(value, codes, where)
        pfi.append((pattern, tuple(value)))
    exclude = _strings(table, "exclude", where)
    include = _strings(table, "include", where)
    project = table.get("project", False)
    if not isinstance(project, bool):
        raise ConfigError(f"{where}: `project` must be true or false")
    return Settings(
        select=select,
        extend_select=extend,
        ignore=ignore,
        exclude=DEFAULT_EXCLUDE if exclude is None else exclude,
        extend_exclude=_strings(table, "extend-exclude", where) or (),
        include=DEFAULT_INCLUDE if include is None else include,
        extend_include=_strings(table, "extend-include", where) or (),
        per_file_ignores=tuple(pfi),
        root=root,
        project=project,
    )
