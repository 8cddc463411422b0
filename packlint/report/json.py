"""JSON output in the shape of ruff's `--output-format json`."""

from __future__ import annotations

import json
import os
from typing import Any

from packlint import DOCS_URL
from packlint.diagnostics import Location
from packlint.report import Run


def _location(location: Location) -> dict[str, int]:
    return {"column": location.column, "row": location.row}


def records(run: Run) -> list[dict[str, Any]]:
    """One object per diagnostic, with ruff's field names."""
    out = []
    for result, d in run.diagnostics():
        fix = None
        if d.fix is not None:
            fix = {
                "applicability": d.fix.applicability.value,
                "edits": [
                    {"content": e.content, "end_location": _location(e.end_location), "location": _location(e.location)}
                    for e in d.fix.edits
                ],
                "message": d.fix.message,
            }
        out.append(
            {
                "cell": d.cell.number if d.cell is not None else None,
                "code": d.code,
                "end_location": _location(d.end_location),
                "filename": os.path.abspath(result.path),
                "fix": fix,
                "location": _location(d.location),
                "message": d.message,
                "noqa_row": d.noqa_row,
                "url": DOCS_URL.format(code=d.code),
            }
        )
    return out


def render(run: Run) -> str:
    """The JSON report."""
    return json.dumps(records(run), indent=2, sort_keys=True) + "\n"
