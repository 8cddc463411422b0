"""Baselines: the diagnostics a project already had, keyed so that moving code does not revive them."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from packlint.config import ConfigError
from packlint.diagnostics import Diagnostic, FileResult

VERSION = 1

# (code, path relative to the baseline's folder with forward slashes, the reported line's text, stripped)
Key = tuple[str, str, str]


def _relative(path: str, base: str) -> str:
    try:
        return os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")
    except ValueError:  # another drive on Windows
        return os.path.abspath(path).replace(os.sep, "/")


def _line_text(text: str | None, row: int) -> str:
    if text is None:
        return ""
    lines = text.splitlines()
    return lines[row - 1].strip() if 0 < row <= len(lines) else ""


def keys(result: FileResult, text: str | None, base: str) -> list[tuple[Key, Diagnostic]]:
    """Each diagnostic of a file with its baseline key (the line's text, not its number)."""
    path = _relative(result.path, base)
    return [((d.code, path, _line_text(text, d.location.row)), d) for d in result.diagnostics]


def write_baseline(path: Path, results: Iterable[FileResult], read: Callable[[FileResult], str | None]) -> int:
    """Write every diagnostic of `results` to `path`; returns how many."""
    base = os.path.dirname(os.path.abspath(path))
    entries: list[dict[str, str]] = []
    for result in results:
        if not result.diagnostics:
            continue
        text = read(result)
        entries.extend({"code": k[0], "path": k[1], "line": k[2]} for k, _ in keys(result, text, base))
    entries.sort(key=lambda e: (e["path"], e["code"], e["line"]))
    data = {"version": VERSION, "tool": "packlint", "diagnostics": entries}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return len(entries)


@dataclass(frozen=True)
class Baseline:
    """The known diagnostics, as a multiset of keys (two identical lines with the same finding count twice)."""

    base: str  # the folder holding the baseline file: paths in it are relative to it
    known: Counter[Key]


def read_baseline(path: Path) -> Baseline:
    """The baseline at `path`; a file that is not one is a configuration error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["diagnostics"]
        known = Counter((str(e["code"]), str(e["path"]), str(e["line"])) for e in entries)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the baseline: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a packlint baseline: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ConfigError(f"{path}: baseline version {data.get('version')!r} is not {VERSION}")
    return Baseline(os.path.dirname(os.path.abspath(path)), known)


def apply_baseline(
    results: Iterable[FileResult], baseline: Baseline, read: Callable[[FileResult], str | None]
) -> list[FileResult]:
    """`results` without the diagnostics that the baseline lists (each entry hides one diagnostic)."""
    left = Counter(baseline.known)  # keys hold the path, so files never compete for an entry
    out = []
    for result in results:
        if not result.diagnostics:
            out.append(result)
            continue
        kept = []
        for key, d in keys(result, read(result), baseline.base):
            if left[key] > 0:
                left[key] -= 1
            else:
                kept.append(d)
        out.append(replace(result, diagnostics=tuple(kept)))
    return out
