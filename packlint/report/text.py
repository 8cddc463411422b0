"""Text output: `path:row:col: CODE [*] message` per diagnostic, then ruff's summary lines."""

from __future__ import annotations

from packlint.diagnostics import Applicability
from packlint.report import Run, position


def render(run: Run) -> str:
    """The text report."""
    lines = []
    for result, d in run.diagnostics():
        mark = "[*] " if run.fixable(d) else ""
        lines.append(f"{result.path}:{position(d)}: {d.code} {mark}{d.message}")
    lines.extend(summary(run))
    return "\n".join(lines) + "\n"


def summary(run: Run) -> list[str]:
    """`Found N errors.` and what `--fix` / `--unsafe-fixes` could still do."""
    count, fixed = run.count, run.fixed
    if count == 0 and fixed == 0:
        return ["All checks passed!"]
    noun = "error" if count + fixed == 1 else "errors"
    if fixed:
        lines = [f"Found {count + fixed} {noun} ({fixed} fixed, {count} remaining)."]
    else:
        lines = [f"Found {count} {noun}."]
    safe = sum(1 for _, d in run.diagnostics() if run.fixable(d))
    hidden = sum(
        1
        for _, d in run.diagnostics()
        if d.fix is not None and d.fix.applicability is Applicability.UNSAFE and not run.unsafe_fixes
    )
    if safe and not run.fix:
        tail = ""
        if hidden:
            tail = (
                f" ({hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the `--unsafe-fixes` option)"
            )
        lines.append(f"[*] {safe} fixable with the `--fix` option{tail}.")
    elif hidden:
        lines.append(
            f"No fixes available ({hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the "
            "`--unsafe-fixes` option)."
        )
    return lines
