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
        props = ",".join(
            [
                f"title={_property(f'packlint ({d.code})')}",
                f"file={_property(result.path)}",
                f"line={d.location.row}",
                f"col={d.location.column}",
                f"endLine={d.end_location.row}",
                f"endColumn={d.end_location.column}",
            ]
        )
        lines.append(f"::error {props}::{_data(f'{d.code} {d.message}')}")
    return "".join(line + "\n" for line in lines)
