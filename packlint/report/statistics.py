"""`--statistics`: how many diagnostics (and failures) each code gave, as ruff prints it."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from packlint.report import Run


@dataclass(frozen=True)
class Row:
    """One code's count and how many of those `--fix` would fix."""

    code: str
    name: str
    count: int
    fixable_count: int


def rows(run: Run) -> list[Row]:
    """One row per code, most frequent first."""
    counts: Counter[str] = Counter()
    fixable: Counter[str] = Counter()
    names: dict[str, str] = {}
    for _, d in run.diagnostics():
        counts[d.code] += 1
        names[d.code] = d.name
        fixable[d.code] += run.fixable(d)
    for _, e in run.failures():
        counts[e.code] += 1
        names[e.code] = e.name
    return [Row(c, names[c], counts[c], fixable[c]) for c in sorted(counts, key=lambda c: (-counts[c], c))]


def render(run: Run) -> str:
    """One line per code: count, code, fixability (`[*]` all, `[~]` some, `[ ]` none) and name."""
    found = rows(run)
    if not found:
        return ""
    width = max(len(str(r.count)) for r in found)
    marks = {True: "[*] ", False: "[ ] "}
    lines = [
        f"{r.count:>{width}}\t{r.code}\t"
        f"{'[~] ' if 0 < r.fixable_count < r.count else marks[r.fixable_count == r.count]}{r.name}"
        for r in found
    ]
    return "\n".join(lines) + "\n"


def render_json(run: Run) -> str:
    """The same rows as ruff's `--statistics --output-format json` (`fixable` kept for older readers)."""
    data = [
        {
            "code": r.code,
            "name": r.name,
            "count": r.count,
            "fixable": r.fixable_count == r.count,
            "fixable_count": r.fixable_count,
        }
        for r in rows(run)
    ]
    return json.dumps(data, indent=2) + "\n"
