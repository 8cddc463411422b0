"""packlint over torch's own installed sources: thousands of files written by others.

Every file is checked with the prefilter bypassed, so the analysis also meets code it would normally never
see. Nothing may crash or report an internal error, every fix offered must re-parse on its own, all fixes
together must re-parse, and a second fix pass must change nothing. And the prefilter is conservative here:
every diagnostic is in a file that passes the prefilter for its rule selected alone (the sharpest
needles), so turning the prefilter on, for any selection, changes no result. Run with `-s` to see the counts.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from packlint.config import Settings
from packlint.engine import Plan, apply_edits, check_source, fix_source, lint_text, trigger_words
from packlint.fixes.apply import materialise
from packlint.noqa import skips_file
from packlint.prefilter import may_match
from packlint.source import Source, SourceError

SETTINGS = Settings(select=("ALL",), fix=True, unsafe_fixes=True, strict=False)
# Reasons a file may fairly fail to be checked: it is not Python this interpreter parses.
FAIR_ERRORS = ("syntax error", "cannot parse", "not valid", "binary file", "cannot determine encoding", "unknown")


@dataclass
class Outcome:
    """What checking one file showed."""

    path: str
    codes: list[str] = field(default_factory=list)
    fixes: int = 0
    problems: list[str] = field(default_factory=list)


def torch_sources() -> Path | None:
    """Where torch is installed, found without importing it."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def corpus(root: Path) -> tuple[list[Path], list[Path]]:
    """Files that pass the prefilter for all rules, and the others."""
    words = trigger_words(Plan.from_settings(SETTINGS).codes)
    passing: list[Path] = []
    others: list[Path] = []
    for path in sorted(root.rglob("*.py")):
        (passing if may_match(path.read_bytes(), words) else others).append(path)
    return passing, others


def check_one(path: Path) -> Outcome:
    """Check one file with every rule and fixes on; record anything that went wrong."""
    outcome = Outcome(str(path))
    data = path.read_bytes()
    try:
        source = Source.decode(data)
    except SourceError:
        return outcome
    if skips_file(source.text):
        return outcome
    plan = Plan.from_settings(SETTINGS)
    try:
        diagnostics, errors = lint_text(source.text, source, plan.codes, plan.strict)
        outcome.codes = [d.code for d in diagnostics]
        outcome.problems += [e.reason for e in errors if not e.reason.startswith(FAIR_ERRORS)]
        for code in sorted(set(outcome.codes)):
            if not may_match(data, trigger_words(frozenset({code}))):
                outcome.problems.append(f"{code} reported, but the prefilter for {code} turns the file away")
        if errors:
            return outcome
        for d in diagnostics:
            if d.fix is None:
                continue
            outcome.fixes += 1
            (made,) = materialise(source, [d.fix])
            if made.error is not None:
                outcome.problems.append(f"{d.code} fix at {d.location.row}:{d.location.column}: {made.error}")
                continue
            alone, _ = apply_edits(source.text, [made.fix])
            try:
                ast.parse(alone)
            except SyntaxError as exc:
                outcome.problems.append(f"{d.code} fix at {d.location.row}:{d.location.column} breaks parsing: {exc}")
        result = fix_source(str(path), source, diagnostics, plan)
        outcome.problems += [e.reason for e in result.errors]
        if result.new_source is not None:
            ast.parse(result.new_source)
            again = check_source(result.new_source, str(path), SETTINGS)
            outcome.problems += [e.reason for e in again.errors]
            if again.new_source is not None:
                outcome.problems.append("a second fix pass changed the file")
    except Exception as exc:  # the test exists to catch exactly these
        outcome.problems.append(f"crash: {type(exc).__name__}: {exc}")
    return outcome


def test_torch_sources_check_and_fix_cleanly() -> None:
    root = torch_sources()
    if root is None:
        pytest.skip("torch is not installed")
    passing, others = corpus(root)
    files = passing + others
    with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        outcomes = list(pool.map(check_one, files, chunksize=8))
    counts = Counter(code for outcome in outcomes for code in outcome.codes)
    fixes = sum(outcome.fixes for outcome in outcomes)
    print(
        f"\ntorch corpus: {len(passing)} files past the prefilter + {len(others)} others; "
        f"{sum(counts.values())} diagnostics {dict(sorted(counts.items()))}, {fixes} fixes offered"
    )
    problems = [f"{o.path}: {p}" for o in outcomes for p in o.problems]
    assert problems == []
