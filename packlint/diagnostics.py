"""The data a check produces: diagnostics, their locations and their fixes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Applicability(enum.Enum):
    """How sure a fix is, with ruff's names: `--fix` applies SAFE, `--unsafe-fixes` also UNSAFE."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "displayonly"


@dataclass(frozen=True, order=True)
class Location:
    """A position in a file: 1-based row, 1-based column in characters (as ruff and flake8 print)."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the text from `start` up to `end` (character offsets into the decoded source)."""

    start: int
    end: int
    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class Fix:
    """A titled group of edits applied together, or not at all."""

    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]

    @property
    def span(self) -> tuple[int, int]:
        """The smallest character range that holds every edit."""
        return min(e.start for e in self.edits), max(e.end for e in self.edits)


@dataclass(frozen=True)
class Cell:
    """Where a notebook's diagnostic lies: its cell (1-based among all cells, markdown too, as ruff
    counts) and its place in the `.ipynb` file's own lines (for reports that point into the file)."""

    number: int
    file_location: Location
    file_end_location: Location


@dataclass(frozen=True)
class Diagnostic:
    """One finding: what rule, where, what was seen, and how to fix it if we know."""

    code: str
    name: str
    message: str
    location: Location
    end_location: Location
    fix: Fix | None = None
    noqa_row: int = 0
    cell: Cell | None = None  # set for notebooks, where rows and columns are relative to the cell

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Order of diagnostics within one file."""
        return (self.location.row, self.location.column, self.code)


@dataclass(frozen=True)
class FileError:
    """A file that could not be checked or written, with the reason in words."""

    reason: str


@dataclass(frozen=True)
class FileResult:
    """Everything the engine learned about one file."""

    path: str
    diagnostics: tuple[Diagnostic, ...] = ()
    errors: tuple[FileError, ...] = ()
    fixed: int = 0
    new_source: bytes | None = None
    old_source: bytes | None = field(default=None, repr=False)
