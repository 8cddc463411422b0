"""`packlint verify`: run each fixture, packlint's own fix of each bad one, and judge the verdicts."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packlint.runtime.contract import ContractError, read_contract
from packlint.runtime.devices import Env, describe, one_thread
from packlint.runtime.execute import DEVIATE, ERROR, MATCH, RAISE, SKIP, Outcome, Runner

BAD, FIXED, GOOD = "bad", "fixed", "good"
GOOD_FIX = "good-fix"  # packlint --fix on a good file: there must be nothing to apply


@dataclass(frozen=True)
class FileReport:
    """The verdicts of one file (bad, fixed or good) on one device, and whether they are as required."""

    fixture: str
    role: str
    device: str
    dtype: str
    tolerance: float
    outcomes: tuple[Outcome, ...]
    seconds: float
    problem: str  # why the file fails verification; empty when its verdicts are as required

    @property
    def ok(self) -> bool:
        """Whether every verdict is as the role requires."""
        return not self.problem

    @property
    def verdict(self) -> str:
        """The verdict of every configuration, or the distinct verdicts joined (`RAISE/DEVIATE`)."""
        return "/".join(dict.fromkeys(o.verdict for o in self.outcomes)) or ERROR

    @property
    def error(self) -> float | None:
        """For a bad file the smallest deviation (it deviates by at least this); else the largest error."""
        errors = [o.error for o in self.outcomes if o.error is not None]
        if not errors:
            return None
        return min(errors) if self.role == BAD else max(errors)

    @property
    def detail(self) -> str:
        """The first exception or deviation note, for the table."""
        return next((o.detail for o in self.outcomes if o.detail), "")


@dataclass(frozen=True)
class VerifyRun:
    """Every report of one `packlint verify`, the device line, and the fixtures without a header."""

    device: str
    reports: tuple[FileReport, ...]
    static_only: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Exit 0 only if every verdict is as required."""
        return all(r.ok for r in self.reports)


# Multi-file projects for project mode (fixtures/project/<name>/): bad or good by their directory's name,
# read across files, and checked by tests/test_project.py; a directory walk leaves them out.
PROJECT_FIXTURES = "project"


def fixture_files(paths: Sequence[str]) -> list[Path]:
    """The files under `paths`; in a directory a `.fixed.py` is run through its bad file instead."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*.py"))
                if not p.name.endswith(".fixed.py") and PROJECT_FIXTURES not in p.relative_to(path).parts[:-1]
            )
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def role_of(path: Path) -> str:
    """`bad` for bad_X.py, `fixed` for a golden named on its own, `good` for anything else."""
    if path.name.endswith(".fixed.py"):
        return FIXED
    return BAD if path.name.startswith("bad_") else GOOD


def display(path: Path) -> str:
    """The path as the table shows it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def packlint_fix(path: Path, data: bytes) -> tuple[bytes | None, str]:
    """packlint's own fix of a bad file (safe and unsafe fixes, the directory's rule selected)."""
    from packlint.config import Settings
    from packlint.engine import check_source
    from packlint.rules import BY_CODE

    code = path.parent.name
    settings = Settings(extend_select=(code,) if code in BY_CODE else (), fix=True, unsafe_fixes=True)
    result = check_source(data, str(path), settings)
    if result.errors:
        return None, "packlint cannot fix it: " + "; ".join(e.reason for e in result.errors)
    return result.new_source, ""


def required(role: str, outcomes: Iterable[Outcome]) -> str:
    """Why these outcomes are not what the role requires ('' when they are)."""
    for o in outcomes:
        if o.verdict == SKIP:
            continue
        if o.verdict == ERROR:
            return f"contract error in {o.config}: {o.detail}"
        if role == BAD and o.verdict == MATCH:
            return f"demonstrates no bug: MATCH in {o.config}"
        if role != BAD and o.verdict in (RAISE, DEVIATE):
            return f"{o.verdict} in {o.config}: {o.detail}"
    return ""


def verify_paths(paths: Sequence[str], env: Env) -> VerifyRun:
    """Verify every executable fixture under `paths` on one device."""
    with one_thread():
        return _verify(paths, env)


def _verify(paths: Sequence[str], env: Env) -> VerifyRun:
    runner = Runner(env)
    reports: list[FileReport] = []
    static_only: list[str] = []
    for path in fixture_files(paths):
        data = path.read_bytes()
        role = role_of(path)
        name = display(path)
        if role == GOOD:
            unfixed = _check_good_unfixed(env, path, data)
            if unfixed is not None:
                reports.append(unfixed)
        report = _run_file(runner, env, name, role, data)
        if report is None:
            static_only.append(name)
            continue
        reports.append(report)
        if role == BAD:
            fixed = _run_fix(runner, env, path, data)
            if fixed is not None:
                reports.append(fixed)
    return VerifyRun(describe(env), tuple(reports), tuple(static_only))


def _run_file(runner: Runner, env: Env, name: str, role: str, data: bytes, problem: str = "") -> FileReport | None:
    text = data.decode("utf-8-sig", errors="replace")
    start = time.perf_counter()
    try:
        contract = read_contract(text)
    except ContractError as exc:
        outcomes: tuple[Outcome, ...] = (Outcome("-", ERROR, detail=f"header {exc}"),)
    else:
        if contract is None:
            return None
        outcomes = tuple(runner.run(text, name, contract))
    seconds = time.perf_counter() - start
    problem = problem or required(role, outcomes)
    return FileReport(name, role, env.kind, env.dtype_name, env.tolerance, outcomes, seconds, problem)


def _check_good_unfixed(env: Env, path: Path, data: bytes) -> FileReport | None:
    """A good file must get no fix at all (safe or unsafe): a report only when it does."""
    fixed, problem = packlint_fix(path, data)
    if fixed is None and not problem:
        return None
    problem = problem or "packlint changes a good file: a fix on correct code"
    outcome = Outcome("-", ERROR, detail=problem)
    return FileReport(display(path), GOOD_FIX, env.kind, env.dtype_name, env.tolerance, (outcome,), 0.0, problem)


def _run_fix(runner: Runner, env: Env, path: Path, data: bytes) -> FileReport | None:
    golden = path.with_name(path.stem + ".fixed.py")
    fixed, problem = packlint_fix(path, data)
    if fixed is None:
        if not golden.exists() and not problem:
            return None  # a rule without a fix: nothing to run
        problem = problem or f"{golden.name} exists but packlint offers no fix"
        outcome = Outcome("-", ERROR, detail=problem)
        return FileReport(display(path), FIXED, env.kind, env.dtype_name, env.tolerance, (outcome,), 0.0, problem)
    if not golden.exists():
        problem = f"packlint fixes it but {golden.name} does not exist"
    elif golden.read_bytes() != fixed:
        problem = f"packlint's fix differs from {golden.name}"
    report = _run_file(runner, env, display(path), FIXED, fixed, problem)
    if report is None:
        outcome = Outcome("-", ERROR, detail="the fixed file lost its `# verify:` header")
        return FileReport(display(path), FIXED, env.kind, env.dtype_name, env.tolerance, (outcome,), 0.0, "no header")
    return report
