"""Render a `packlint verify` run as a text table or as JSON (returned as strings; cli.py prints)."""

from __future__ import annotations

import json
import math

from packlint.runtime.verify import FileReport, VerifyRun


def _error(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.1e}"


def _row(r: FileReport) -> list[str]:
    configs = sum(1 for o in r.outcomes if o.verdict != "SKIP")
    status = "ok" if r.ok else "FAIL"
    note = r.problem if not r.ok else r.detail
    return [
        r.fixture,
        r.role,
        r.device,
        r.verdict,
        _error(r.error),
        f"{r.tolerance:g}",
        str(configs),
        f"{r.seconds:.2f}",
        f"{status}  {note}".rstrip(),
    ]


def render_text(run: VerifyRun) -> str:
    """A table: one row per file and role, then the fixtures that have no header, then a summary."""
    head = ["fixture", "role", "device", "verdict", "error", "tol", "configs", "seconds", "result"]
    rows = [head, *(_row(r) for r in run.reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    lines = [run.device]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    if run.static_only:
        lines.append(f"static only (no `# verify:` header): {len(run.static_only)} files")
        lines.extend(f"  {name}" for name in run.static_only)
    failed = sum(1 for r in run.reports if not r.ok)
    summary = (
        f"{len(run.reports)} runs, {failed} not as required" if failed else f"{len(run.reports)} runs, all as required"
    )
    lines.append(summary)
    return "\n".join(lines) + "\n"


def render_json(run: VerifyRun) -> str:
    """The same content as JSON: the device line, every report with its outcomes, the static files."""

    def number(value: float | None) -> float | str | None:
        return "inf" if value is not None and math.isinf(value) else value

    data = {
        "device": run.device,
        "ok": run.ok,
        "reports": [
            {
                "fixture": r.fixture,
                "role": r.role,
                "device": r.device,
                "dtype": r.dtype,
                "verdict": r.verdict,
                "error": number(r.error),
                "tolerance": r.tolerance,
                "seconds": round(r.seconds, 4),
                "ok": r.ok,
                "problem": r.problem,
                "outcomes": [
                    {"config": o.config, "verdict": o.verdict, "error": number(o.error), "detail": o.detail}
                    for o in r.outcomes
                ],
            }
            for r in run.reports
        ],
        "static_only": list(run.static_only),
    }
    return json.dumps(data, indent=2) + "\n"
