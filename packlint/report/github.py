"""GitHub Actions workflow commands: one `::error` annotation per diagnostic."""

from __future__ import annotations

from packlint.report import Run


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(run: Run) -> str:
    """The annotations, one per line."""
    lines = []
    for result, d in run.diagnostics():
        # In a notebook, the annotation points at the .ipynb file's own lines; the message names the cell.
        start, end = (d.cell.file_location, d.cell.file_end_location) if d.cell else (d.location, d.end_location)
        where = f" (cell {d.cell.number}:{d.location.row}:{d.location.column})" if d.cell else ""
        props = ",".join(
            [
                f"title={_property(f'packlint ({d.code})')}",
                f"file={_property(result.path)}",
                f"line={start.row}",
                f"col={start.column}",
                f"endLine={end.row}",
                f"endColumn={end.column}",
            ]
        )
        lines.append(f"::error {props}::{_data(f'{d.code} {d.message}{where}')}")
    return "".join(line + "\n" for line in lines)
