"""Text output: `full` (header, code frame, help) or `concise` (one line each), then ruff's summary."""

from __future__ import annotations

from collections.abc import Callable

import click

from packlint import DOCS_URL
from packlint.diagnostics import Applicability, Diagnostic, FileError, FileResult, Location
from packlint.report import Run, failure_url, place

CONTEXT = 2  # lines shown above and below the reported range, as ruff does
MAX_RANGE_ROWS = 6  # a longer range shows its first rows, then an ellipsis

Style = Callable[..., str]


def _plain(text: str, **_: object) -> str:
    return text


def render(run: Run, full: bool = True, color: bool = False, quiet: bool = False) -> str:
    """The text report; `quiet` leaves out the summary."""
    style: Style = click.style if color else _plain
    blocks: list[str] = []
    for result in run.results:
        text = run.sources.get(result.path)
        cells = _cell_sources(text) if full and text is not None and result.path.endswith(".ipynb") else {}
        for item in run.entries(result):
            header = _header(run, result, item, style)
            if not full:
                blocks.append(header)
                continue
            frame = _frame(_framed_text(text, cells, item), item, style)
            blocks.append("\n".join([header, *frame, *_help(run, item, style)]) + "\n")
    tail = "".join(line + "\n" for line in ([] if quiet else summary(run)))
    if not full:
        return "".join(b + "\n" for b in blocks) + tail
    # Blocks of several lines each, a blank line between them and before the summary.
    return "\n".join([*blocks, tail] if blocks and tail else blocks or [tail])


def _header(run: Run, result: FileResult, item: FileError | Diagnostic, style: Style) -> str:
    where = f"{style(result.path, bold=True)}:{place(item)}:"
    if isinstance(item, FileError):
        return f"{where} {style(item.code, fg='red', bold=True)} {item.reason}"
    mark = style("[*] ", fg="cyan") if run.fixable(item) else ""
    return f"{where} {style(item.code, fg='red', bold=True)} {mark}{item.message}"


def _cell_sources(text: str) -> dict[int, str]:
    """A notebook's cell sources by cell number (1-based among all cells, as `cell N` counts)."""
    from packlint.notebook import Notebook, NotebookError

    try:
        notebook = Notebook.parse(text.encode("utf-8"))
    except NotebookError:
        return {}
    return {cell.index + 1: cell.source for cell in notebook.cells}


def _framed_text(text: str | None, cells: dict[int, str], item: FileError | Diagnostic) -> str | None:
    # A notebook's diagnostic is framed in its cell, with the cell's own rows (as ruff shows them), not in
    # the file's JSON lines; a failure in a notebook has no place in a cell and gets no frame.
    if text is None or not cells:
        return text
    cell = item.cell if isinstance(item, Diagnostic) else None
    return cells.get(cell.number) if cell is not None else None


def _frame(text: str | None, item: FileError | Diagnostic, style: Style) -> list[str]:
    if text is None:
        return []
    if isinstance(item, FileError):
        if item.location is None:
            return []
        start = end = item.location
    else:
        start, end = item.location, item.end_location
    rows = text.splitlines()
    if not rows or start.row > len(rows):
        return []
    last = end.row - 1 if end.row > start.row and end.column == 1 else end.row  # range ends at a line start
    last = min(max(last, start.row), len(rows))
    first_shown = max(1, start.row - CONTEXT)
    last_shown = min(len(rows), last + CONTEXT)
    while first_shown < start.row and not rows[first_shown - 1].strip():
        first_shown += 1
    while last_shown > last and not rows[last_shown - 1].strip():
        last_shown -= 1
    width = len(str(last_shown))
    bar = style(" " * width + " |", fg="blue", bold=True)
    out = [bar]
    for row in range(first_shown, last_shown + 1):
        in_range = start.row <= row <= last
        if in_range and row - start.row == MAX_RANGE_ROWS - 1 and last - row > 1:
            out.append(style(" " * width + " ...", fg="blue", bold=True))
            continue
        if in_range and MAX_RANGE_ROWS - 1 < row - start.row and row != last:
            continue
        line = rows[row - 1].replace("\t", " ")  # one column per character, so carets line up
        out.append(f"{style(f'{row:>{width}} |', fg='blue', bold=True)} {line}".rstrip())
        if in_range:
            out.append(f"{bar} {_carets(line, row, start, end, last, item, style)}")
    out.append(bar)
    return out


def _carets(line: str, row: int, start: Location, end: Location, last: int, item: object, style: Style) -> str:
    lo = start.column if row == start.row else len(line) - len(line.lstrip()) + 1
    hi = end.column if row == end.row else len(line) + 1
    width = max(1, hi - lo)
    label = f" {item.code}" if row == last else ""  # type: ignore[attr-defined]
    return " " * (lo - 1) + style("^" * width + label, fg="red", bold=True)


def _help(run: Run, item: FileError | Diagnostic, style: Style) -> list[str]:
    pad = " " * 2
    if isinstance(item, FileError):
        return [f"{pad}= {style('docs', bold=True)}: {failure_url(item)}"]
    lines = []
    fix = item.fix
    if fix is not None:
        note = ""
        if fix.applicability is Applicability.UNSAFE and not run.unsafe_fixes:
            note = " (unsafe fix available with `--unsafe-fixes`)"
        elif fix.applicability is Applicability.UNSAFE:
            note = " (unsafe fix)"
        elif fix.applicability is Applicability.DISPLAY_ONLY:
            note = " (not applied automatically)"
        lines.append(f"{pad}= {style('help', fg='cyan', bold=True)}: {fix.message}{note}")
    lines.append(f"{pad}= {style('docs', bold=True)}: {DOCS_URL.format(code=item.code)}")
    return lines


def summary(run: Run) -> list[str]:
    """`Found N errors.`, what `--fix` / `--unsafe-fixes` could still do, and files not checked."""
    count, fixed = run.count, run.fixed
    lines: list[str] = []
    failures = _failures(run)
    if count == 0 and fixed == 0:
        if failures:
            return failures
        return ["All checks passed!"] if run.results else []
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
    return lines + failures


def _failures(run: Run) -> list[str]:
    lines = []
    if run.unchecked:
        lines.append(f"{run.unchecked} file{'s' if run.unchecked != 1 else ''} could not be checked.")
    if run.unfixed:
        lines.append(f"{run.unfixed} file{'s' if run.unfixed != 1 else ''} could not be fixed.")
    return lines
