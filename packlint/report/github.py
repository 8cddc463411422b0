"""GitHub Actions workflow commands: one `::error` annotation per diagnostic or failed file."""

from __future__ import annotations

from packlint.diagnostics import FileError
from packlint.report import Run, position


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(run: Run) -> str:
    """The annotations, one per line."""
    lines = []
    for result in run.results:
        for item in run.entries(result):
            props = [f"title={_property(f'packlint ({item.code})')}", f"file={_property(result.path)}"]
            if isinstance(item, FileError):
                message = item.reason
                if item.location is not None:
                    props += [f"line={item.location.row}", f"col={item.location.column}"]
            else:
                message = item.message
                # In a notebook, the annotation points at the .ipynb file's own lines; the message names the cell.
                if item.cell is not None:
                    start, end = item.cell.file_location, item.cell.file_end_location
                    message += f" (cell {item.cell.number}:{item.location.row}:{item.location.column})"
                else:
                    start, end = position(item), item.end_location
                props += [f"line={start.row}", f"col={start.column}"]
                props += [f"endLine={end.row}", f"endColumn={end.column}"]
            lines.append(f"::error {','.join(props)}::{_data(f'{item.code} {message}')}")
    return "".join(line + "\n" for line in lines)
