"""The data a check produces: diagnostics, their locations and their fixes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packlint.fixes.changes import Change


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
    """A titled group of changes applied together, or not at all.

    A rule states `changes` (what to rewrite, by node); `edits` are the text edits that libcst's
    rewrite of them comes to, filled in only when a fix is materialised (packlint.fixes.apply).
    """

    applicability: Applicability
    message: str
    edits: tuple[Edit, ...] = ()
    changes: tuple[Change, ...] = field(default=(), compare=False)

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


# Codes for files that could not be checked or fixed, with kebab-case names like the rules' (ruff's
# E902 and `invalid-syntax`). They are always reported: no selection or noqa comment hides them.
IO_ERROR = "PKL001"
DECODE_ERROR = "PKL002"
SYNTAX_ERROR = "PKL003"
INTERNAL_ERROR = "PKL004"
FIX_ERROR = "PKL005"
FAILURE_NAMES = {
    IO_ERROR: "io-error",
    DECODE_ERROR: "undecodable-file",
    SYNTAX_ERROR: "syntax-error",
    INTERNAL_ERROR: "internal-error",
    FIX_ERROR: "fix-failed",
}


@dataclass(frozen=True)
class FileError:
    """A file that could not be checked or written, with the reason in words and where, if known."""

    reason: str
    code: str = INTERNAL_ERROR
    location: Location | None = None

    @property
    def name(self) -> str:
        """The kebab-case name of the failure's code."""
        return FAILURE_NAMES.get(self.code, "internal-error")

    @property
    def checked(self) -> bool:
        """Whether the file was still checked (only a fix or its write failed)."""
        return self.code == FIX_ERROR


@dataclass(frozen=True)
class FileResult:
    """Everything the engine learned about one file."""

    path: str
    diagnostics: tuple[Diagnostic, ...] = ()
    errors: tuple[FileError, ...] = ()
    fixed: int = 0
    new_source: bytes | None = None
    old_source: bytes | None = field(default=None, repr=False)
    # Project mode: (path, content digest) of the other files whose summaries the result used, and
    # (path, "") for each looked for and absent; the cache re-checks the file when one changes.
    depends: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)
