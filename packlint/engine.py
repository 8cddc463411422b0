"""check_source: one file's bytes to diagnostics and fixes; check_paths: many files, in parallel."""

from __future__ import annotations

import ast
import functools
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace

from packlint.config import Settings, matches_selector
from packlint.diagnostics import Applicability, Diagnostic, FileError, FileResult, Fix
from packlint.invisible import Repair, repair
from packlint.noqa import noqa_rows, skips_file, suppressed
from packlint.prefilter import Needle, may_match, needles
from packlint.source import Source, SourceError

MAX_FIX_PASSES = 10
# The pool pays for itself only past this much source to parse (bytes of the files that passed the
# prefilter): starting two workers costs 20-50 ms, and the analysis runs at about 0.5 MB/s per core
# (measured on 2 cores; docs/performance.md).
POOL_THRESHOLD = 256 * 1024
PASTED = "PKL001"  # pasted-invisible-whitespace: the one rule that runs on a file that did not parse


@dataclass(frozen=True)
class Plan:
    """The selected rule codes for a file and the fix mode, resolved once per run."""

    codes: frozenset[str]
    fix: bool
    unsafe_fixes: bool
    strict: bool
    prefilter: bool = True  # tests turn it off to prove it never changes a result

    @classmethod
    def from_settings(cls, settings: Settings, path: str | None = None) -> Plan:
        """The plan for `path` (per-file-ignores applied)."""
        codes = settings.codes()
        if path is not None:
            ignored = settings.ignored_for(path)
            codes = frozenset(c for c in codes if not any(matches_selector(c, s) for s in ignored))
        return cls(codes, settings.fix, settings.unsafe_fixes, settings.strict, settings.prefilter)

    @property
    def applicable(self) -> frozenset[Applicability]:
        """Which fixes this run writes."""
        if not self.fix:
            return frozenset()
        if self.unsafe_fixes:
            return frozenset({Applicability.SAFE, Applicability.UNSAFE})
        return frozenset({Applicability.SAFE})


@functools.lru_cache(maxsize=32)
def trigger_words(codes: frozenset[str]) -> tuple[Needle, ...]:
    """The prefilter's needles for these rules."""
    from packlint.rules import BY_CODE

    return needles(BY_CODE[code].triggers for code in codes if code in BY_CODE)


def lint_text(
    text: str, source: Source, codes: frozenset[str], strict: bool
) -> tuple[list[Diagnostic], list[FileError]]:
    """Parse once, analyse once, run the selected rules, drop what noqa suppresses."""
    from packlint.facts import analyse
    from packlint.rules import REGISTRY
    from packlint.rules.base import Context

    pasted: Repair | None = None
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        repaired = repair_pasted(text, codes)
        if repaired is None:
            where = f"{exc.lineno}:{(exc.offset or 0)}" if exc.lineno else "?"
            return [], [FileError(f"syntax error at {where}: {exc.msg}")]
        # Analyse the text as it will be once PKL001 is fixed: same offsets, so every position holds.
        text, tree, pasted = repaired.text, repaired.tree, repaired
        source = source.but(text=text)
    except (ValueError, RecursionError, MemoryError) as exc:
        return [], [FileError(f"cannot parse: {type(exc).__name__}: {exc}")]
    try:
        facts = analyse(tree)
    except RecursionError:
        return [], [FileError("internal error: analysis ran too deep (nesting too deep)")]
    except Exception as exc:
        if strict:
            raise
        return [], [FileError(f"internal error in the analysis: {type(exc).__name__}: {exc}")]
    ctx = Context(source, facts, pasted)
    found: list[Diagnostic] = []
    errors: list[FileError] = []
    for rule in REGISTRY:
        if rule.code not in codes:
            continue
        try:
            found.extend(rule().check(ctx))
        except Exception as exc:
            if strict:
                raise
            errors.append(FileError(f"internal error in {rule.code}: {type(exc).__name__}: {exc}"))
    if pasted:
        # A fix that overlaps one of PKL001's waits for the next pass, on text that parses: applied in the
        # same pass it could push that PKL001 fix out, and the file would not parse.
        spans = [d.fix.span for d in found if d.code == PASTED and d.fix is not None]
        found = [d if d.code == PASTED or not overlaps(d.fix, spans) else replace(d, fix=None) for d in found]
    rows = noqa_rows(text) if found else {}  # tokenizing costs as much as parsing: only when needed
    kept = sorted((d for d in found if not suppressed(d.code, d.noqa_row, rows)), key=lambda d: d.sort_key)
    return kept, errors


def repair_pasted(text: str, codes: frozenset[str]) -> Repair | None:
    """The repair of a file that only pasted invisible spaces stop from parsing, when PKL001 is selected."""
    if PASTED not in codes or text.isascii():
        return None
    return repair(text)


def overlaps(fix: Fix | None, spans: list[tuple[int, int]]) -> bool:
    """Whether `fix` touches one of `spans`."""
    if fix is None:
        return False
    lo, hi = fix.span
    return any(lo <= t_hi and t_lo <= hi for t_lo, t_hi in spans)


def apply_edits(text: str, fixes: Sequence[Fix]) -> tuple[str, int]:
    """Apply fixes whose edits do not overlap an earlier one; returns the text and how many applied."""
    chosen: list[Fix] = []
    taken: list[tuple[int, int]] = []
    for fix in sorted(fixes, key=lambda f: f.span):
        lo, hi = fix.span
        if any((lo < t_hi and t_lo < hi) or lo == t_lo for t_lo, t_hi in taken):
            continue
        chosen.append(fix)
        taken.append((lo, hi))
    edits = sorted((e for fix in chosen for e in fix.edits), key=lambda e: (e.start, e.end), reverse=True)
    for e in edits:
        text = text[: e.start] + e.content + text[e.end :]
    return text, len(chosen)


def check_source(data: bytes, path: str, settings: Settings, plan: Plan | None = None) -> FileResult:
    """Check one file's bytes (a notebook's code cells for `.ipynb`); with fixes on, also the fixed bytes."""
    if path.endswith(".ipynb"):
        from packlint.notebook import check_notebook

        return check_notebook(data, path, settings, plan or Plan.from_settings(settings, path))
    return check_python(data, path, settings, plan)


def check_python(data: bytes, path: str, settings: Settings, plan: Plan | None = None) -> FileResult:
    """Check one Python file's bytes; with fixes on, also compute the fixed bytes (not written here)."""
    plan = plan or Plan.from_settings(settings, path)
    if plan.prefilter and not may_match(data, trigger_words(plan.codes)):
        if not data.isascii():
            try:
                Source.decode(data)
            except SourceError as exc:
                return FileResult(path, errors=(FileError(str(exc)),))
        return FileResult(path)
    try:
        source = Source.decode(data)
    except SourceError as exc:
        return FileResult(path, errors=(FileError(str(exc)),))
    if skips_file(source.text):
        return FileResult(path)
    diagnostics, errors = lint_text(source.text, source, plan.codes, plan.strict)
    if errors or not plan.applicable:
        return FileResult(path, tuple(diagnostics), tuple(errors))
    return fix_source(path, source, diagnostics, plan)


def fix_source(path: str, source: Source, diagnostics: list[Diagnostic], plan: Plan) -> FileResult:
    """Apply fixes until none is left, checking after each pass that the code parses and settles."""
    text = source.text
    seen = {text}
    fixed = 0
    current = source
    for _ in range(MAX_FIX_PASSES):
        fixes = [d.fix for d in diagnostics if d.fix is not None and d.fix.applicability in plan.applicable]
        if not fixes:
            break
        new_text, applied = apply_edits(text, fixes)
        try:
            ast.parse(new_text)
        except SyntaxError as exc:
            codes = ", ".join(sorted({d.code for d in diagnostics if d.fix in fixes}))
            message = f"fix for {codes} produced invalid code ({exc.msg}); file left unchanged"
            return FileResult(path, tuple(diagnostics), (FileError(message),))
        if new_text in seen:
            return FileResult(path, tuple(diagnostics), (FileError("fixes do not settle; file left unchanged"),))
        seen.add(new_text)
        text, fixed = new_text, fixed + applied
        current = Source.decode(source.encode(text))
        diagnostics, errors = lint_text(text, current, plan.codes, plan.strict)
        if errors:
            return FileResult(path, tuple(diagnostics), tuple(errors))
    else:
        if any(d.fix is not None and d.fix.applicability in plan.applicable for d in diagnostics):
            return FileResult(path, tuple(diagnostics), (FileError("fixes do not settle; file left unchanged"),))
    if text == source.text:
        return FileResult(path, tuple(diagnostics))
    return FileResult(path, tuple(diagnostics), fixed=fixed, new_source=source.encode(text))


def write_atomic(path: str, data: bytes) -> None:
    """Replace a file's content all at once, keeping its permissions."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o7777
    fd, temp = tempfile.mkstemp(prefix=".packlint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def unreadable(path: str, exc: OSError) -> FileResult:
    """The result for a file that cannot be read."""
    return FileResult(path, errors=(FileError(f"cannot read: {exc.strerror or exc}"),))


def check_paths(paths: Sequence[str], settings: Settings, jobs: int | None = None) -> list[FileResult]:
    """Check files, sorted by path; a process pool parses only files that pass the prefilter."""
    results: list[FileResult] = []
    items: list[tuple[str, bytes]] = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                items.append((path, handle.read()))
        except OSError as exc:
            results.append(unreadable(path, exc))
    results.extend(result for result, _ in check_items(items, settings, jobs))
    return sorted(results, key=lambda r: r.path)


def check_items(
    items: Sequence[tuple[str, bytes]], settings: Settings, jobs: int | None = None
) -> list[tuple[FileResult, bool]]:
    """Check files already read, each result paired with whether the file passed the prefilter."""
    results: list[tuple[FileResult, bool]] = []
    pending: list[tuple[str, bytes, Plan]] = []
    base = Plan.from_settings(settings)
    for path, data in items:
        plan = Plan.from_settings(settings, path) if settings.per_file_ignores else base
        if not plan.prefilter or may_match(data, trigger_words(plan.codes)):
            # Known to pass: check_source need not scan the bytes a second time.
            pending.append((path, data, replace(plan, prefilter=False)))
        else:
            results.append((check_source(data, path, settings, plan), False))
    jobs = jobs or usable_cores()
    if jobs <= 1 or len(pending) < 2 or sum(len(data) for _, data, _ in pending) < POOL_THRESHOLD:
        checked = [check_source(data, path, settings, plan) for path, data, plan in pending]
    else:
        checked = _check_in_pool(pending, settings, jobs)
    originals = {path: data for path, data, _ in pending}
    results.extend((replace(r, old_source=originals[r.path]) if r.new_source is not None else r, True) for r in checked)
    return results


def usable_cores() -> int:
    """The cores this process may run on (an affinity mask or a container can allow fewer than exist)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _check_batch(batch: list[tuple[str, bytes, Plan]], settings: Settings) -> list[FileResult]:
    return [check_source(data, path, settings, plan) for path, data, plan in batch]


def _check_in_pool(pending: list[tuple[str, bytes, Plan]], settings: Settings, jobs: int) -> list[FileResult]:
    from concurrent.futures import ProcessPoolExecutor

    # Import the analysis before the workers fork, so that each does not import it again.
    import packlint.facts
    import packlint.rules  # noqa: F401

    # Largest files first, in small batches, so that no worker is left with a long tail.
    ordered = sorted(pending, key=lambda item: len(item[1]), reverse=True)
    size = max(1, len(ordered) // (jobs * 8))
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    checked: list[FileResult] = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(batches))) as pool:
        for batch in pool.map(_check_batch, batches, [settings] * len(batches)):
            checked.extend(batch)
    return checked
