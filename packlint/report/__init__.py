"""Reports: each module renders a finished run in one output format."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from packlint.diagnostics import Applicability, Diagnostic, FileError, FileResult, Location

# Where the codes for files that could not be checked are explained (docs/errors.md, one heading each).
ERRORS_URL = "https://github.com/packlint/packlint/blob/main/docs/errors.md#{anchor}"


@dataclass(frozen=True)
class Run:
    """A finished run as the reports see it."""

    results: tuple[FileResult, ...]
    fix: bool = False
    unsafe_fixes: bool = False
    root: str = "."
    # Decoded text of files with something to show, for code frames (`full`); a missing path shows none.
    sources: Mapping[str, str] = field(default_factory=dict)

    def diagnostics(self) -> Iterator[tuple[FileResult, Diagnostic]]:
        """Every remaining diagnostic with its file, sorted by path, row and column."""
        for result in self.results:
            for diagnostic in result.diagnostics:
                yield result, diagnostic

    def failures(self) -> Iterator[tuple[FileResult, FileError]]:
        """Every file that could not be read, decoded, parsed, analysed or fixed, with why."""
        for result in self.results:
            for error in result.errors:
                yield result, error

    def entries(self, result: FileResult) -> list[FileError | Diagnostic]:
        """A file's failures and diagnostics in the order of their positions."""
        items: list[FileError | Diagnostic] = [*result.errors, *result.diagnostics]
        return sorted(items, key=_entry_order)

    def fixable(self, diagnostic: Diagnostic) -> bool:
        """Whether `--fix` (with this run's `--unsafe-fixes` setting) would fix it."""
        fix = diagnostic.fix
        if fix is None:
            return False
        return fix.applicability is Applicability.SAFE or (
            self.unsafe_fixes and fix.applicability is Applicability.UNSAFE
        )

    @property
    def count(self) -> int:
        """How many diagnostics remain."""
        return sum(len(r.diagnostics) for r in self.results)

    @property
    def fixed(self) -> int:
        """How many fixes were applied."""
        return sum(r.fixed for r in self.results)

    @property
    def unchecked(self) -> int:
        """How many files could not be checked (read, decoded, parsed or analysed)."""
        return sum(1 for r in self.results if any(not e.checked for e in r.errors))

    @property
    def unfixed(self) -> int:
        """How many files were checked but could not be fixed (the fix failed or could not be written)."""
        return sum(1 for r in self.results if r.errors and all(e.checked for e in r.errors))

    @property
    def failed(self) -> bool:
        """Whether anything could not be checked or fixed."""
        return any(r.errors for r in self.results)


def _entry_order(item: FileError | Diagnostic) -> tuple[int, Location, bool]:
    cell = item.cell if isinstance(item, Diagnostic) else None
    return (cell.number if cell is not None else 0, position(item), isinstance(item, Diagnostic))


def position(item: FileError | Diagnostic) -> Location:
    """Where a failure or diagnostic starts; a failure without a position is at the top of the file."""
    if isinstance(item, Diagnostic):
        return item.location
    return item.location or Location(1, 1)


def place(item: FileError | Diagnostic) -> str:
    """`row:col`, or `cell N:row:col` in a notebook (ruff's spelling)."""
    where = position(item)
    cell = item.cell if isinstance(item, Diagnostic) else None
    return f"cell {cell.number}:{where.row}:{where.column}" if cell is not None else f"{where.row}:{where.column}"


def failure_url(error: FileError) -> str:
    """The documentation of a failure's code."""
    return ERRORS_URL.format(anchor=f"{error.code.lower()}-{error.name}")


FORMATS = ("full", "concise", "json", "sarif", "github", "text")


def render(run: Run, output_format: str, color: bool = False, quiet: bool = False) -> str:
    """The run in `output_format` (`text` is the old name of `full`)."""
    if output_format == "json":
        from packlint.report import json

        return json.render(run)
    if output_format == "sarif":
        from packlint.report import sarif

        return sarif.render(run)
    if output_format == "github":
        from packlint.report import github

        return github.render(run)
    from packlint.report import text

    return text.render(run, full=output_format != "concise", color=color, quiet=quiet)
