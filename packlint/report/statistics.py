"""`--statistics`: how many diagnostics each rule gave, as ruff prints it."""

from __future__ import annotations

from collections import Counter

from packlint.report import Run


def render(run: Run) -> str:
    """One line per code: count, code, fixability and name."""
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    fixable: dict[str, bool] = {}
    for _, d in run.diagnostics():
        counts[d.code] += 1
        names[d.code] = d.name
        fixable[d.code] = fixable.get(d.code, True) and run.fixable(d)
    if not counts:
        return ""
    width = max(len(str(n)) for n in counts.values())
    lines = [
        f"{counts[code]:>{width}}\t{code}\t{'[*] ' if fixable[code] else '[ ] '}{names[code]}"
        for code in sorted(counts, key=lambda c: (-counts[c], c))
    ]
    return "\n".join(lines) + "\n"
