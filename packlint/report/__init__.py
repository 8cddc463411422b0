"""Reports: each module renders a finished run in one output format."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from packlint.diagnostics import Applicability, Diagnostic, FileResult


@dataclass(frozen=True)
class Run:
    """A finished run as the reports see it."""

    results: tuple[FileResult, ...]
    fix: bool = False
    unsafe_fixes: bool = False
    root: str = "."

    def diagnostics(self) -> Iterator[tuple[FileResult, Diagnostic]]:
        """Every remaining diagnostic with its file, sorted by path, row and column."""
        for result in self.results:
            for diagnostic in result.diagnostics:
                yield result, diagnostic

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


def position(diagnostic: Diagnostic) -> str:
    """`row:col`, or `cell N:row:col` in a notebook (ruff's spelling)."""
    where = f"{diagnostic.location.row}:{diagnostic.location.column}"
    return f"cell {diagnostic.cell.number}:{where}" if diagnostic.cell is not None else where


FORMATS = ("text", "json", "sarif", "github")


def render(run: Run, output_format: str) -> str:
    """The run in `output_format`."""
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

    return text.render(run)
