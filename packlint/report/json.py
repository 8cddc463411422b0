"""JSON output in the shape of ruff's `--output-format json`, failures included as entries of their own."""

from __future__ import annotations

import json
import os
from typing import Any

from packlint import DOCS_URL
from packlint.diagnostics import Diagnostic, FileError, FileResult, Location
from packlint.report import Run, failure_url, position


def location(result: FileResult, where: Location) -> dict[str, int]:
    """A position as ruff writes it (the notebook layer adds the cell here)."""
    return {"column": where.column, "row": where.row}


def diagnostic_record(result: FileResult, d: Diagnostic) -> dict[str, Any]:
    """One diagnostic with ruff's field names."""
    fix = None
    if d.fix is not None:
        fix = {
            "applicability": d.fix.applicability.value,
            "edits": [
                {
                    "content": e.content,
                    "end_location": location(result, e.end_location),
                    "location": location(result, e.location),
                }
                for e in d.fix.edits
            ],
            "message": d.fix.message,
        }
    return {
        "cell": d.cell.number if d.cell is not None else None,
        "code": d.code,
        "end_location": location(result, d.end_location),
        "filename": os.path.abspath(result.path),
        "fix": fix,
        "location": location(result, d.location),
        "message": d.message,
        "name": d.name,
        "noqa_row": d.noqa_row,
        "url": DOCS_URL.format(code=d.code),
    }


def failure_record(result: FileResult, error: FileError) -> dict[str, Any]:
    """A file that could not be checked, as ruff writes an E902 or a syntax error (no fix, no noqa row)."""
    where = location(result, position(error))
    return {
        "cell": None,
        "code": error.code,
        "end_location": where,
        "filename": os.path.abspath(result.path),
        "fix": None,
        "location": where,
        "message": error.reason,
        "name": error.name,
        "noqa_row": None,
        "url": failure_url(error),
    }


def records(run: Run) -> list[dict[str, Any]]:
    """One object per diagnostic or failure, in path and position order."""
    out = []
    for result in run.results:
        for item in run.entries(result):
            if isinstance(item, FileError):
                out.append(failure_record(result, item))
            else:
                out.append(diagnostic_record(result, item))
    return out


def render(run: Run) -> str:
    """The JSON report."""
    return json.dumps(records(run), indent=2, sort_keys=True) + "\n"
