"""Reading fixtures: `# error: PKL101:12` marks, the code each directory is for, the selection to use."""

from __future__ import annotations

import re
from pathlib import Path

from packlint.config import Settings
from packlint.diagnostics import FileResult
from packlint.engine import check_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
MARK = re.compile(r"# error: (PKL\d{3})(?::(\d+))?")


def expected_marks(text: str) -> list[tuple[str, int, int | None]]:
    """(code, row, column) for every mark; column is None where a mark gives none."""
    found = []
    for row, line in enumerate(text.splitlines(), start=1):
        for match in MARK.finditer(line):
            found.append((match.group(1), row, int(match.group(2)) if match.group(2) else None))
    return found


def fixture_settings(path: Path, **changes: object) -> Settings:
    """The default selection plus the code the fixture's directory is named for (opt-in rules too)."""
    code = path.parent.name
    return Settings(extend_select=(code,), root=str(ROOT), strict=True).but(**changes)


def check_file(path: Path, **changes: object) -> FileResult:
    """Check one fixture strictly (an exception in a rule fails the test)."""
    return check_source(path.read_bytes(), str(path), fixture_settings(path, **changes))


def fixture_files(pattern: str) -> list[Path]:
    """Fixture files matching `pattern`, excluding fixed goldens unless asked for."""
    files = sorted(FIXTURES.glob(f"*/{pattern}"))
    if not pattern.endswith(".fixed.py"):
        files = [f for f in files if not f.name.endswith(".fixed.py")]
    return files
