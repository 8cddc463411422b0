"""check_source: one file's bytes to diagnostics and fixes; check_paths: many files, in parallel."""

from __future__ import annotations

import ast
import functools
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from packlint.config import Settings, matches_selector
from packlint.diagnostics import (
    DECODE_ERROR,
    FIX_ERROR,
    INTERNAL_ERROR,
    IO_ERROR,
    SYNTAX_ERROR,
    Applicability,
    Diagnostic,
    FileError,
    FileResult,
    Fix,
    Location,
)
from packlint.invisible import Repair, repair
from packlint.noqa import noqa_rows, skips_file, suppressed
from packlint.prefilter import Needle, Trigger, matching_groups, may_match, needles
from packlint.source import Source, SourceError, decode_text

if TYPE_CHECKING:
    from packlint.facts.gating import Gate

MAX_FIX_PASSES = 10
UNUSED_NOQA = "PKL900"  # reads the other rules' diagnostics, so the engine runs it last
PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
# The pool pays for itself only past this much source to parse (bytes of the files that passed the
# prefilter): starting two workers costs 20-50 ms, and the analysis runs at about 0.5 MB/s per core
# (measured on 2 cores; docs/performance.md).
POOL_THRESHOLD = 256 * 1024
PASTED = "PKL010"  # pasted-invisible-whitespace: the one rule that runs on a file that did not parse


@dataclass(frozen=True)
class Plan:
    """The selected rule codes for a file and the fix mode, resolved once per run."""

    codes: frozenset[str]
    fix: bool
    unsafe_fixes: bool
    strict: bool
    prefilter: bool = True  # tests turn it off to prove it never changes a result
    gating: bool = True  # walk only the functions the rules this file triggers can use (tests turn it off)
    fix_edits: bool = False  # compute every fix's text edits (JSON, SARIF) even when nothing is applied
    project: bool = False  # project mode: rules may read the summaries of the project's other files
    cross_file_only: bool = False  # only the rules' cross-file checks can report here (see `admission`)

    @classmethod
    def from_settings(cls, settings: Settings, path: str | None = None) -> Plan:
        """The plan for `path` (per-file-ignores applied)."""
        codes = settings.codes()
        if path is not None:
            ignored = settings.ignored_for(path)
            codes = frozenset(c for c in codes if not any(matches_selector(c, s) for s in ignored))
        return cls(
            codes, settings.fix, settings.unsafe_fixes, settings.strict, settings.prefilter,
            fix_edits=settings.fix_edits, gating=settings.gating, project=settings.project,
        )  # fmt: skip

    @property
    def applicable(self) -> frozenset[Applicability]:
        """Which fixes this run writes."""
        if not self.fix:
            return frozenset()
        if self.unsafe_fixes:
            return frozenset({Applicability.SAFE, Applicability.UNSAFE})
        return frozenset({Applicability.SAFE})


@functools.lru_cache(maxsize=32)
def trigger_words(codes: frozenset[str], project: bool = False) -> tuple[tuple[Needle, ...], ...]:
    """The prefilter's needles for these rules (with `project`, only what their cross-file checks need)."""
    from packlint.rules.triggers import ADMISSION

    rules = [ADMISSION[code] for code in codes if code in ADMISSION]
    return needles(r.project_triggers if project else r.triggers for r in rules)


@functools.lru_cache(maxsize=32)
def project_questions(codes: frozenset[str]) -> tuple[tuple[bytes, str | None], ...]:
    """Words one of which a module imported from the project must hold for a cross-file check to fire, each
    with the summary fact that check needs of that module (see gate)."""
    from packlint.rules.triggers import ADMISSION

    rules = [ADMISSION[code] for code in codes if code in ADMISSION]
    questions = {(w, r.project_fact) for r in rules for w in r.project_needs}
    return tuple(sorted(questions, key=lambda q: (q[0], q[1] or "")))


def admits(data: bytes, path: str, plan: Plan) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """The prefilter: whether a selected rule may report in this file, and (project mode) the other files
    that answer depended on."""
    admitted, depends, _ = admission(data, path, plan)
    return admitted, depends


def admission(data: bytes, path: str, plan: Plan) -> tuple[bool, tuple[tuple[str, str], ...], bool]:
    """`admits`, and whether only the rules' cross-file checks can report (the file passed on their
    triggers alone). In project mode a file the rules' own triggers turn away is still checked when it
    holds a cross-file check's trigger and imports a project module that holds what that check needs."""
    if not plan.prefilter or may_match(data, trigger_words(plan.codes)):
        return True, (), False
    if not plan.project or not may_match(data, trigger_words(plan.codes, True)):
        return False, (), False
    from packlint.project.gate import reaches

    depends: dict[str, str] = {}
    for word, fact in project_questions(plan.codes):
        found, read = reaches(path, data, word, fact=fact)
        depends.update(read)
        if found:
            return True, tuple(sorted(depends.items())), True
    return False, tuple(sorted(depends.items())), False


@functools.lru_cache(maxsize=32)
def trigger_groups(codes: frozenset[str]) -> tuple[tuple[frozenset[str], tuple[tuple[Needle, ...], ...]], ...]:
    """The selected rules grouped by their triggers (many share PACKING or RECURRENT), with their needles."""
    from packlint.rules.triggers import ADMISSION

    groups: dict[tuple[Trigger, ...], set[str]] = {}
    for code in codes:
        if code in ADMISSION:
            groups.setdefault(ADMISSION[code].triggers, set()).add(code)
    return tuple((frozenset(group), needles([triggers])) for triggers, group in groups.items())


def triggered(text: str, codes: frozenset[str]) -> frozenset[str]:
    """The selected rules whose triggers `text` holds: the only ones that can report anything in it (the
    prefilter's promise, rule by rule), so the others are not run and their facts are not built."""
    data = text.encode("utf-8", "surrogatepass")
    return frozenset(code for group in matching_groups(data, trigger_groups(codes)) for code in group)


def gate_for(text: str, source: Source, active: frozenset[str]) -> Gate:
    """What the analysis must walk for the rules in `active`: their flow words (`rules.triggers.FLOW`)."""
    from packlint.facts.gating import Gate
    from packlint.rules.triggers import EVERY_FUNCTION, FLOW

    words = frozenset(word for code in active for word in FLOW.get(code, EVERY_FUNCTION))
    return Gate(text, source.line_starts, frozenset({""}) if "" in words else words)


def lint_text(
    text: str,
    source: Source,
    codes: frozenset[str],
    strict: bool,
    path: str | None = None,
    gating: bool = True,
) -> tuple[list[Diagnostic], list[FileError]]:
    """Parse once, analyse once (only what the selected rules can use), run the selected rules, drop
    what noqa suppresses (with `path`, in project mode: rules may follow calls into the other files of
    the file's project)."""
    found, errors, _ = lint_project(text, source, codes, strict, path, gating=gating)
    return found, errors


def lint_project(
    text: str,
    source: Source,
    codes: frozenset[str],
    strict: bool,
    path: str | None,
    cross_file_only: bool = False,
    gating: bool = True,
) -> tuple[list[Diagnostic], list[FileError], tuple[tuple[str, str], ...]]:
    """`lint_text`, with the other files the result depends on (project mode, when `path` is given). With
    `cross_file_only`, the file's own analysis is skipped and only the rules' cross-file checks run: no
    per-file check can report in a file that their triggers turned away."""
    from packlint.facts import FileFacts, analyse
    from packlint.rules import REGISTRY
    from packlint.rules.base import Context

    # Rules whose triggers the original text lacks cannot report (PASTED's are the characters a repair replaces).
    active = triggered(text, codes) if gating else codes
    pasted: Repair | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a SyntaxWarning (an invalid escape) is not packlint's to print
            tree = ast.parse(text)
    except SyntaxError as exc:
        repaired = repair_pasted(text, codes)
        if repaired is None:
            return [], [parse_failure(exc)], ()
        # Analyse the text as it will be once PASTED is fixed: same offsets, so every position holds.
        text, tree, pasted = repaired.text, repaired.tree, repaired
        source = source.but(text=text)
    except (ValueError, RecursionError, MemoryError) as exc:
        return [], [parse_failure(exc)], ()
    try:
        if cross_file_only and path is not None:
            facts = FileFacts(tree)
        else:
            facts = analyse(tree, gate_for(text, source, active) if gating else None)
    except RecursionError:
        return [], [FileError("internal error: analysis ran too deep (nesting too deep)", INTERNAL_ERROR)], ()
    except Exception as exc:
        if strict:
            raise
        failure = FileError(f"internal error in the analysis: {type(exc).__name__}: {exc}", INTERNAL_ERROR)
        return [], [failure], ()
    view = None
    if path is not None:
        from packlint.project import ProjectView  # only in project mode

        view = ProjectView(path, tree, data=text.encode("utf-8", "surrogatepass"))
    ctx = Context(source, facts, pasted, view)
    found: list[Diagnostic] = []
    errors: list[FileError] = []
    for rule in REGISTRY:
        if rule.code not in codes:
            continue
        if rule.code in active and not (cross_file_only and path is not None):
            check = rule().check
        elif path is not None and rule.project_triggers:
            check = rule().check_project  # its own triggers are absent: only its cross-file check can report
        else:
            continue
        try:
            found.extend(check(ctx))
        except Exception as exc:
            if strict:
                raise
            errors.append(FileError(f"internal error in {rule.code}: {type(exc).__name__}: {exc}", INTERNAL_ERROR))
    if pasted:
        # A fix that overlaps one of PASTED's waits for the next pass, on text that parses: applied in the
        # same pass it could push that fix out, and the file would not parse.
        spans = [d.fix.span for d in found if d.code == PASTED and d.fix is not None]
        found = [d if d.code == PASTED or not overlaps(d.fix, spans, source) else replace(d, fix=None) for d in found]
    if UNUSED_NOQA in active:  # its trigger is a PKL code in a noqa directive: without one, nothing to read
        found.extend(_unused_noqa(ctx, found, codes))
    rows = noqa_rows(text) if found else {}  # tokenizing costs as much as parsing: only when needed
    kept = sorted((d for d in found if not suppressed(d.code, d.noqa_row, rows)), key=lambda d: d.sort_key)
    return kept, errors, view.dependencies() if view is not None else ()


def parse_failure(exc: BaseException) -> FileError:
    """The failure for source that `ast.parse` refused, at the parser's position when it gives one."""
    if isinstance(exc, SyntaxError):
        where = Location(exc.lineno, max(exc.offset or 1, 1)) if exc.lineno else None
        # The grammar is the running interpreter's: newer syntax fails on an older Python, so say which.
        return FileError(f"syntax error: {exc.msg} (Python {PYTHON})", SYNTAX_ERROR, where)
    return FileError(f"cannot parse: {type(exc).__name__}: {exc}", SYNTAX_ERROR)


def syntax_failure(text: str) -> FileError | None:
    """Whether `text` parses, for a file no rule needs to analyse (packlint reports every broken file)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes and the like are not ours to report
            # Compiling to bytecode builds no Python objects for the tree: about half the cost of ast.parse.
            compile(text, "<packlint>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    else:
        return None
    # The compiler also refuses code that parses (`return` outside a function); the analysed files are only
    # parsed, so ask the parser for the verdict, and its position (the rare, slow path).
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return parse_failure(exc)
    return None


def named_syntax_check(result: FileResult, settings: Settings, data: bytes | None = None) -> FileResult:
    """`result` for a file named on the command line, with its syntax error if the prefilter skipped the parse.

    A file that the prefilter let through was parsed by the check itself; only one it turned away can
    hide a syntax error."""
    if result.errors or result.diagnostics or result.new_source is not None or result.path.endswith(".ipynb"):
        return result
    try:
        if data is None:
            with open(result.path, "rb") as handle:
                data = handle.read()
    except OSError:
        return result  # a reading failure was reported by the check itself
    plan = Plan.from_settings(settings, result.path)
    if plan.prefilter and admits(data, result.path, plan)[0]:
        return result  # the prefilter let it through: the check parsed it (decided on the bytes, not decoded)
    try:
        text = decode_text(data)[0]  # decoded once, for both questions below
    except SourceError:
        return result  # a decoding failure was reported by the check itself
    if skips_file(text):
        return result
    failure = syntax_failure(text)
    return replace(result, errors=(failure,)) if failure is not None else result


def _unused_noqa(ctx: object, found: list[Diagnostic], codes: frozenset[str]) -> list[Diagnostic]:
    # Runs after every other rule, on their diagnostics before suppression (ruff's RUF100 works the same way).
    from packlint.rules import BY_CODE

    rule = BY_CODE[UNUSED_NOQA]()
    return list(rule.after_rules(ctx, list(found), codes))  # type: ignore[attr-defined]


def repair_pasted(text: str, codes: frozenset[str]) -> Repair | None:
    """The repair of a file that only pasted invisible spaces stop from parsing, when PKL010 is selected."""
    if PASTED not in codes or text.isascii():
        return None
    return repair(text)


def overlaps(fix: Fix | None, spans: list[tuple[int, int]], source: Source) -> bool:
    """Whether `fix` touches one of `spans` (character ranges): its edits, or the nodes its changes rewrite."""
    if fix is None:
        return False
    from packlint.fixes.changes import targets

    touched = [(e.start, e.end) for e in fix.edits]
    for change in fix.changes:
        for where in targets(change):
            start = source.line_starts[where.row - 1] + where.column
            touched.append((start, source.line_starts[where.end_row - 1] + where.end_column))
    return any(lo <= t_hi and t_lo <= hi for lo, hi in touched for t_lo, t_hi in spans)


def apply_edits(text: str, fixes: Sequence[Fix]) -> tuple[str, int]:
    """Apply materialised fixes whose edits do not overlap an earlier one; returns the text and how many applied."""
    text, applied = apply_chosen(text, choose(fixes))
    return text, applied


def choose(fixes: Sequence[Fix]) -> list[Fix]:
    """Fixes with edits, in order, leaving out any that overlaps (or starts where) an earlier one does."""
    chosen: list[Fix] = []
    taken: list[tuple[int, int]] = []
    for fix in sorted((f for f in fixes if f.edits), key=lambda f: f.span):
        lo, hi = fix.span
        if any((lo < t_hi and t_lo < hi) or lo == t_lo for t_lo, t_hi in taken):
            continue
        chosen.append(fix)
        taken.append((lo, hi))
    return chosen


def apply_chosen(text: str, chosen: Sequence[Fix]) -> tuple[str, int]:
    """Apply fixes already known not to overlap."""
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
    admitted, depends, cross_only = admission(data, path, plan)
    if cross_only:
        plan = replace(plan, cross_file_only=True)
    if not admitted:
        # No rule can fire: packlint is not a syntax checker, and compiling every such file would cost a
        # third of a cold run on torch's sources. Files named on the command line are still syntax-checked
        # (`named_syntax_check`); docs/errors.md says so.
        return replace(turned_away(data, path), depends=depends)
    try:
        source = Source.decode(data)
    except SourceError as exc:
        return FileResult(path, errors=(FileError(str(exc), DECODE_ERROR),))
    if skips_file(source.text):
        return FileResult(path)
    where = path if plan.project and path not in ("-", "<stdin>") else None
    diagnostics, errors, found_in = lint_project(
        source.text, source, plan.codes, plan.strict, where, plan.cross_file_only, plan.gating
    )
    depends = tuple(sorted({**dict(depends), **dict(found_in)}.items()))
    if errors or not plan.applicable:
        if plan.fix_edits and any(d.fix is not None for d in diagnostics):
            diagnostics, failures = with_edits(source, diagnostics)
            errors = [*errors, *failures]
        return FileResult(path, tuple(diagnostics), tuple(errors), depends=depends)
    return _as_fix_failure(fix_source(path, source, diagnostics, plan))


def _as_fix_failure(result: FileResult) -> FileResult:
    # What goes wrong while fixing (a fix that breaks the code, fixes that do not settle) leaves the file
    # checked but unchanged: its own code, so that the summary does not call the file unchecked.
    if not result.errors:
        return result
    return replace(result, errors=tuple(replace(e, code=FIX_ERROR) for e in result.errors))


def turned_away(data: bytes, path: str) -> FileResult:
    """The result for a file that the prefilter turned away: clean, unless its bytes cannot be decoded."""
    if not data.isascii():
        try:
            decode_text(data)
        except SourceError as exc:
            return FileResult(path, errors=(FileError(str(exc), DECODE_ERROR),))
    return FileResult(path)


def fix_basis(source: Source) -> Source:
    """The source that libcst rewrites: with pasted invisible spaces repaired (PASTED), same offsets.

    libcst, like Python, cannot parse a file holding them; the other rules' fixes, which never touch
    them (`overlaps`), are computed on the repaired text and land on the original at the same offsets."""
    if source.text.isascii() or _parses(source.text):
        return source
    repaired = repair(source.text)
    return source.but(text=repaired.text) if repaired is not None else source


def with_edits(source: Source, diagnostics: list[Diagnostic]) -> tuple[list[Diagnostic], list[FileError]]:
    """Diagnostics whose fixes carry their text edits (through libcst); a fix that cannot be made
    real is dropped from its diagnostic and named in an error."""
    from packlint.fixes.apply import materialise

    fixes = [d.fix for d in diagnostics if d.fix is not None]
    made = iter(materialise(fix_basis(source), fixes))
    out: list[Diagnostic] = []
    errors: list[FileError] = []
    for d in diagnostics:
        if d.fix is None:
            out.append(d)
            continue
        result = next(made)
        if result.error is not None:
            errors.append(
                FileError(f"fix for {d.code} at {d.location.row}:{d.location.column} not built: {result.error}")
            )
            out.append(replace(d, fix=None))
        else:
            out.append(replace(d, fix=result.fix))
    return out, errors


def fix_source(path: str, source: Source, diagnostics: list[Diagnostic], plan: Plan) -> FileResult:
    """Apply fixes until none is left, checking after each pass that the code parses and settles.

    Each fix is made real through libcst on its own; one that cannot be (or that breaks the code
    together with the others) is left out and named in an error, and the others are applied."""
    from packlint.fixes.apply import materialise

    text = source.text
    seen = {text}
    fixed = 0
    current = source
    failures: dict[tuple[str, str, str], FileError] = {}

    def key(d: Diagnostic) -> tuple[str, str, str]:
        # Rows move as other fixes land: a fix is known again by what it says, not where it is.
        return (d.code, d.message, d.fix.message if d.fix is not None else "")

    def fail(d: Diagnostic, reason: str) -> None:
        failures.setdefault(key(d), FileError(f"fix for {d.code} at {d.location.row}:{d.location.column} {reason}"))

    for _ in range(MAX_FIX_PASSES):
        wanted = [
            d
            for d in diagnostics
            if d.fix is not None and d.fix.applicability in plan.applicable and key(d) not in failures
        ]
        if not wanted:
            break
        made = materialise(fix_basis(current), [d.fix for d in wanted if d.fix is not None])
        ready: list[Fix] = []
        owner: dict[int, Diagnostic] = {}
        for d, result in zip(wanted, made):
            if result.error is not None:
                fail(d, f"not applied: {result.error}")
            else:
                ready.append(result.fix)
                owner[id(result.fix)] = d
        if not ready:
            break
        chosen = choose(ready)
        new_text, applied = apply_chosen(text, chosen)
        if not _parses(new_text):
            # Each fix parses alone: keep adding them one by one while the whole still parses.
            kept: list[Fix] = []
            for fix in chosen:
                if _parses(apply_chosen(text, [*kept, fix])[0]):
                    kept.append(fix)
                else:
                    fail(owner[id(fix)], "not applied: together with the other fixes it produced invalid code")
            new_text, applied = apply_chosen(text, kept)
        if new_text in seen:
            return FileResult(path, tuple(diagnostics), (FileError("fixes do not settle; file left unchanged"),))
        seen.add(new_text)
        text, fixed = new_text, fixed + applied
        current = Source.decode(source.encode(text))
        where = path if plan.project else None
        diagnostics, errors = lint_text(text, current, plan.codes, plan.strict, where, plan.gating)
        if errors:
            return FileResult(path, tuple(diagnostics), tuple(errors))
    else:
        if any(d.fix is not None and d.fix.applicability in plan.applicable for d in diagnostics):
            return FileResult(path, tuple(diagnostics), (FileError("fixes do not settle; file left unchanged"),))
    problems = list(failures.values())
    if plan.fix_edits and any(d.fix is not None for d in diagnostics):
        diagnostics, more = with_edits(current, diagnostics)
        problems.extend(more)
    if text == source.text:
        return FileResult(path, tuple(diagnostics), tuple(problems))
    return FileResult(path, tuple(diagnostics), tuple(problems), fixed=fixed, new_source=source.encode(text))


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def write_atomic(path: str, data: bytes) -> None:
    """Replace a file's content all at once, keeping its permissions."""
    import tempfile  # only when a fix is written

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
    return FileResult(path, errors=(FileError(f"cannot read: {exc.strerror or exc}", IO_ERROR),))


def check_paths(paths: Sequence[str], settings: Settings, jobs: int | None = None) -> list[FileResult]:
    """Check files, sorted by path; a process pool parses only files that pass the prefilter."""
    results: list[FileResult] = []
    results.extend(result for result, _ in check_items(_read(paths, results), settings, jobs))
    return sorted(results, key=lambda r: r.path)


def _read(paths: Iterable[str], failed: list[FileResult]) -> Iterator[tuple[str, bytes]]:
    # One file at a time, as check_items asks for it: a file the prefilter turns away is let go at once,
    # so memory holds the files that pass, not the whole tree.
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            failed.append(unreadable(path, exc))
            continue
        yield path, data


def check_items(
    items: Iterable[tuple[str, bytes]], settings: Settings, jobs: int | None = None
) -> list[tuple[FileResult, bool]]:
    """Check files already read (taken one at a time), each result paired with whether the file passed
    the prefilter."""
    results: list[tuple[FileResult, bool]] = []
    pending: list[tuple[str, bytes, Plan]] = []
    base = Plan.from_settings(settings)
    if settings.project:  # the project's files as they are now: nothing resolved or read by an earlier run
        from packlint.project.gate import refresh

        refresh()
    for path, data in items:
        plan = Plan.from_settings(settings, path) if settings.per_file_ignores else base
        if path.endswith(".ipynb"):
            # A notebook's code is JSON-escaped in its bytes (a line break inside a call is `\n`, two
            # characters): its prefilter runs on the decoded cells, in check_notebook.
            pending.append((path, data, plan))
        else:
            admitted, depends, cross_only = admission(data, path, plan)
            if admitted:  # known to pass: check_source need not scan the bytes a second time
                pending.append((path, data, replace(plan, prefilter=False, cross_file_only=cross_only)))
            else:
                results.append((replace(turned_away(data, path), depends=depends), False))
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

    # Import the analysis and every rule module (the registry loads them) before the workers fork, so that
    # each does not import them again.
    import packlint.facts  # noqa: F401
    from packlint.rules import REGISTRY  # noqa: F401  (the registry loads every rule module)

    # Largest files first, in small batches, so that no worker is left with a long tail.
    ordered = sorted(pending, key=lambda item: len(item[1]), reverse=True)
    size = max(1, len(ordered) // (jobs * 8))
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    checked: list[FileResult] = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(batches))) as pool:
        for batch in pool.map(_check_batch, batches, [settings] * len(batches)):
            checked.extend(batch)
    return checked
