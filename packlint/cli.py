"""The `packlint` command: check (the default), rule, and the runtime commands."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn, TextIO

import click

from packlint import __version__
from packlint.baseline import apply_baseline, read_baseline
from packlint.collector import few_collections
from packlint.config import ConfigError, Settings, load_settings, validate_selectors
from packlint.diagnostics import FAILURE_NAMES, FIX_ERROR, IO_ERROR, FileError, FileResult
from packlint.report import FORMATS, Run, render

EXIT_CLEAN, EXIT_DIAGNOSTICS, EXIT_ERROR = 0, 1, 2


class DefaultToCheck(click.Group):
    """`packlint src/` means `packlint check src/`, as `ruff src/` once meant `ruff check src/`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version", "-V")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="packlint", message="%(prog)s %(version)s")
def main() -> None:
    """A linter with autofix for PyTorch code that packs variable-length sequences."""


def _selectors(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(s.strip() for s in value.split(",") if s.strip())


def _fail(message: str) -> NoReturn:
    click.echo(f"packlint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _warn(message: str) -> None:
    click.echo(f"packlint: warning: {message}", err=True)


def use_color(no_color: bool, stream: TextIO) -> bool:
    """Colour on a terminal; never with `--no-color` or `NO_COLOR`; always with `FORCE_COLOR`."""
    if no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (or show as fixable) unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print what --fix would change, write nothing.")
@click.option("--show-fixes", is_flag=True, help="With --fix, list what was fixed in each file.")
@click.option("--select", help="Comma-separated codes, prefixes or rule names to check (ALL for every rule).")
@click.option("--extend-select", help="Codes, prefixes or rule names to add to the selection.")
@click.option("--ignore", help="Codes, prefixes or rule names to leave out.")
@click.option(
    "--output-format",
    type=click.Choice(FORMATS),
    default="full",
    show_default=True,
    envvar="PACKLINT_OUTPUT_FORMAT",
    help="full: code frame and help; concise: one line each; text: same as full.",
)
@click.option("--no-color", is_flag=True, help="No colour, even on a terminal (also: NO_COLOR=1).")
@click.option("--statistics", is_flag=True, help="Print how many diagnostics each rule gave.")
@click.option("--add-noqa", is_flag=True, help="Add `# noqa: CODE` to each line with a diagnostic.")
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report only diagnostics that this baseline file does not list.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every diagnostic of this run to a baseline file, then exit 0.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when diagnostics remain or files could not be checked.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Processes to use (default: cores).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="A pyproject.toml to use.")
@click.option("--quiet", "-q", is_flag=True, help="Print diagnostics only, no summary.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write .packlint_cache/.")
@click.option(
    "--cache-dir",
    envvar="PACKLINT_CACHE_DIR",
    show_envvar=True,
    type=click.Path(file_okay=False),
    help="Keep the cache here instead of .packlint_cache/ in the project root.",
)
@click.option("--force-exclude", is_flag=True, help="Apply exclusions to files named on the command line too.")
@click.option("--stdin-filename", help="Read the source from standard input and report it as this path.")
@click.option(
    "--project/--no-project",
    "project",
    default=None,
    help="Follow calls into the project's other files (default: `project` in [tool.packlint], else off).",
)
def check(
    paths: tuple[str, ...],
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    show_fixes: bool,
    select: str | None,
    extend_select: str | None,
    ignore: str | None,
    output_format: str,
    no_color: bool,
    statistics: bool,
    add_noqa: bool,
    baseline: Path | None,
    write_baseline: Path | None,
    exit_zero: bool,
    jobs: int | None,
    config: Path | None,
    quiet: bool,
    no_cache: bool,
    cache_dir: str | None,
    force_exclude: bool,
    stdin_filename: str | None,
    project: bool | None,
) -> None:
    """Check PATHS (default: the current directory)."""
    from packlint.discover import discover

    stdin = stdin_filename is not None or paths == ("-",)
    if stdin and paths not in ((), ("-",)):
        _fail("standard input (`-` or --stdin-filename) cannot be checked together with other paths")
    if sum((fix, diff, add_noqa)) > 1:
        _fail("--fix, --diff and --add-noqa cannot be combined")
    start = Path(paths[0]) if paths else Path.cwd()
    if stdin:
        start = Path(stdin_filename).resolve().parent if stdin_filename else Path.cwd()
    try:
        settings = load_settings(config, start if start.exists() else Path.cwd())
        settings = _with_options(settings, select, extend_select, ignore)
        known = read_baseline(baseline) if baseline is not None else None
    except ConfigError as exc:
        _fail(str(exc))
    # JSON and SARIF carry each fix's text edits: only they need fixes made real (through libcst).
    settings = settings.but(fix=fix or diff, unsafe_fixes=unsafe_fixes, fix_edits=output_format in ("json", "sarif"))
    if project is not None:
        settings = settings.but(project=project)
    from packlint.engine import named_syntax_check

    stdin_text: dict[str, str] = {}
    if stdin:
        result, data = _check_stdin(stdin_filename or "-", settings, fix and not diff, force_exclude)
        results = [named_syntax_check(result, settings, data)]
        if (text := _decoded(data)) is not None:
            stdin_text[result.path] = text
    else:
        files, missing = discover(paths, settings, force_exclude=force_exclude)
        if not files and not missing:
            _warn("No Python files found under the given path(s)")
        results = _check(files, settings, jobs, use_cache=not no_cache and not (fix or diff), cache_dir=cache_dir)
        results.extend(FileResult(path, errors=(FileError(reason, IO_ERROR),)) for path, reason in missing)
        results = _syntax_check_named(results, paths, settings)
    results.sort(key=lambda r: r.path)
    if known is not None:
        results = apply_baseline(results, known, lambda r: stdin_text.get(r.path) or _source_text(r))
    if write_baseline is not None:
        sys.exit(_write_baseline(write_baseline, results))
    if add_noqa:
        if stdin:
            _fail("--add-noqa cannot be used with standard input")
        sys.exit(_add_noqa(results))
    if diff:
        sys.exit(_print_diff(results))
    fixed_codes: dict[str, Counter[str]] = {}
    if fix:
        if show_fixes:
            fixed_codes = {r.path: _fixed_codes(r, settings) for r in results if r.new_source is not None}
        if not stdin:
            results = [_write(result) for result in results]
    # With --fix on standard input, standard output carries the fixed source: reports go to stderr (as ruff).
    to_stderr = stdin and fix
    color = use_color(no_color, sys.stderr if to_stderr else sys.stdout)
    sources = {}
    if output_format in ("full", "text"):
        for r in results:
            t = _decoded(r.new_source) if stdin and r.new_source is not None else stdin_text.get(r.path)
            if t is None and not stdin:
                t = _frame_text(r)
            if t is not None:
                sources[r.path] = t
    run = Run(tuple(results), fix=fix, unsafe_fixes=unsafe_fixes, root=settings.root, sources=sources)
    if output_format not in ("full", "concise", "text"):
        _print_errors(results)  # machine formats go to a file or a tool: say on the terminal what failed
    if statistics:
        from packlint.report import statistics as stats

        text = stats.render_json(run) if output_format == "json" else stats.render(run)
        click.echo(text, nl=False, color=color, err=to_stderr)
    else:
        click.echo(render(run, output_format, color=color, quiet=quiet), nl=False, color=color, err=to_stderr)
    if show_fixes and fix:
        click.echo(_fixes_listing(fixed_codes, results), nl=False, err=to_stderr)
    if exit_zero:  # as ruff: report everything, files not checked included, but never fail the build
        sys.exit(EXIT_CLEAN)
    if run.failed:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_DIAGNOSTICS if run.count else EXIT_CLEAN)


def _with_options(settings: Settings, select: str | None, extend: str | None, ignore: str | None) -> Settings:
    from packlint.config import known_codes, resolve_names

    codes = known_codes()  # not the registry: a run served from the cache never imports the rules
    chosen, extra, ignored = (resolve_names(_selectors(v)) for v in (select, extend, ignore))
    validate_selectors([*(chosen or ()), *(extra or ()), *(ignored or ())], codes, "command line")
    if chosen is not None:
        settings = settings.but(select=chosen)
    if extra:
        settings = settings.but(extend_select=settings.extend_select + extra)
    if ignored:
        settings = settings.but(ignore=settings.ignore + ignored)
    return settings


def _check(
    files: list[str], settings: Settings, jobs: int | None, use_cache: bool, cache_dir: str | None = None
) -> list[FileResult]:
    with few_collections():
        if use_cache:
            from packlint.cache import check_cached

            return check_cached(files, settings, jobs, cache_dir)
        from packlint.engine import check_paths

        return check_paths(files, settings, jobs)


def _syntax_check_named(results: list[FileResult], paths: tuple[str, ...], settings: Settings) -> list[FileResult]:
    """Files named on the command line must not pass silently when they do not parse (docs/errors.md)."""
    from packlint.engine import named_syntax_check

    named = {os.path.normpath(p) for p in paths if os.path.isfile(p)}
    return [named_syntax_check(r, settings) if os.path.normpath(r.path) in named else r for r in results]


def _check_stdin(path: str, settings: Settings, fix: bool, force_exclude: bool) -> tuple[FileResult, bytes]:
    """Check standard input as the file `path` (its config and per-file-ignores); with `fix`, write the
    fixed source, or the source unchanged, to standard output, so that an editor can replace its buffer."""
    from dataclasses import replace

    from packlint.discover import excluded_by_name
    from packlint.engine import check_source

    data = sys.stdin.buffer.read()
    if force_exclude and path != "-" and excluded_by_name(path, settings):
        result = FileResult(path)
    else:
        result = check_source(data, path, settings)
    if result.new_source is not None:
        result = replace(result, old_source=data)
    if fix:
        sys.stdout.buffer.write(result.new_source if result.new_source is not None else data)
        sys.stdout.buffer.flush()
    return result, data


def _source_text(result: FileResult) -> str | None:
    """The decoded text of a file as it is on disk now (None if it cannot be read or decoded)."""
    from packlint.source import Source, SourceError

    try:
        with open(result.path, "rb") as handle:
            return Source.decode(handle.read()).text
    except (OSError, SourceError):
        return None


def _frame_text(result: FileResult) -> str | None:
    """The text the remaining diagnostics point into, for the code frames of `full`."""
    if not result.diagnostics and not any(e.location for e in result.errors):
        return None
    if result.new_source is not None:
        from packlint.source import Source, SourceError

        try:
            return Source.decode(result.new_source).text
        except SourceError:
            return None
    return _source_text(result)


def _decoded(data: bytes | None) -> str | None:
    """Source bytes as text (None if they cannot be decoded)."""
    from packlint.source import Source, SourceError

    if data is None:
        return None
    try:
        return Source.decode(data).text
    except SourceError:
        return None


def _write(result: FileResult) -> FileResult:
    from dataclasses import replace

    from packlint.engine import write_atomic

    if result.new_source is None:
        return result
    try:
        write_atomic(result.path, result.new_source)
    except OSError as exc:
        reason = f"cannot write: {exc.strerror or exc}; file left unchanged"
        return replace(result, errors=(*result.errors, FileError(reason, FIX_ERROR)), fixed=0)
    return result


def _print_errors(results: list[FileResult]) -> None:
    for result in results:
        for error in result.errors:
            click.echo(f"{result.path}: error: {error.code} {error.reason}", err=True)


def _fixed_codes(result: FileResult, settings: Settings) -> Counter[str]:
    """Which codes the fixes of a file removed: its diagnostics before fixing, less those left."""
    from packlint.engine import check_source

    if result.old_source is None:
        return Counter()
    before = check_source(result.old_source, result.path, settings.but(fix=False))
    return Counter(d.code for d in before.diagnostics) - Counter(d.code for d in result.diagnostics)


def _fixes_listing(fixed_codes: dict[str, Counter[str]], results: list[FileResult]) -> str:
    from packlint.config import rule_names

    written = {r.path for r in results if r.fixed}
    listing = {path: codes for path, codes in fixed_codes.items() if path in written and codes}
    if not listing:
        return "\nNo errors fixed.\n"
    names = rule_names()
    total = sum(sum(c.values()) for c in listing.values())
    lines = ["", f"Fixed {total} error{'s' if total != 1 else ''}:"]
    for path in sorted(listing):
        lines.append(f"- {path}:")
        for code, n in sorted(listing[path].items()):
            lines.append(f"    {n} \u00d7 {code} ({names.get(code, '?')})")
    return "\n".join(lines) + "\n"


def _print_diff(results: list[FileResult]) -> int:
    from packlint.report.diff import unified_diff

    sys.stdout.flush()
    out = sys.stdout.buffer  # bytes: the diff keeps the file's encoding, BOM and line endings
    changed = 0
    fixed = 0
    for result in sorted(results, key=lambda r: r.path):
        if result.new_source is None or result.old_source is None:
            continue
        changed += 1
        fixed += result.fixed
        out.write(unified_diff(result.old_source, result.new_source, result.path))
    out.flush()
    _print_errors(results)
    noun = "error" if fixed == 1 else "errors"
    click.echo(f"Would fix {fixed} {noun}." if fixed else "No errors would be fixed.", err=True)
    if any(r.errors for r in results):
        return EXIT_ERROR
    return EXIT_DIAGNOSTICS if changed else EXIT_CLEAN


def _add_noqa(results: list[FileResult]) -> int:
    from packlint.engine import write_atomic
    from packlint.noqa import add_noqa
    from packlint.source import Source, SourceError

    added = 0
    skipped = 0
    for result in results:
        if not result.diagnostics:
            continue
        try:
            with open(result.path, "rb") as handle:
                source = Source.decode(handle.read())
        except (OSError, SourceError) as exc:
            click.echo(f"{result.path}: error: {IO_ERROR} cannot read: {exc}", err=True)
            return EXIT_ERROR
        text, count, left = add_noqa(source.text, result.diagnostics)
        skipped += left
        if count:
            try:
                write_atomic(result.path, source.encode(text))
            except OSError as exc:
                click.echo(f"{result.path}: error: {FIX_ERROR} cannot write: {exc.strerror or exc}", err=True)
                return EXIT_ERROR
            added += count
    _print_errors(results)
    click.echo(f"Added {added} noqa directive{'s' if added != 1 else ''}.", err=True)
    if skipped:
        verb = "starts" if skipped == 1 else "start"
        _warn(f"{skipped} diagnostic{'s' if skipped != 1 else ''} {verb} on a line that cannot end in a comment")
    if any(r.errors for r in results):
        return EXIT_ERROR
    return EXIT_DIAGNOSTICS if skipped else EXIT_CLEAN


def _write_baseline(path: Path, results: list[FileResult]) -> int:
    from packlint.baseline import write_baseline

    count = write_baseline(path, results, _source_text)
    click.echo(f"Wrote {count} diagnostic{'s' if count != 1 else ''} to {path}.", err=True)
    _print_errors(results)
    return EXIT_ERROR if any(r.errors for r in results) else EXIT_CLEAN


@main.command()
@click.argument("rule", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule.")
def rule(rule: str | None, show_all: bool) -> None:
    """Explain RULE (a code such as PKL101, or a name)."""
    from packlint.rules import BY_CODE, BY_NAME, REGISTRY
    from packlint.rules.pages import render_page

    if show_all or rule is None:
        for r in REGISTRY:
            default = "default" if r.default else "opt-in"
            click.echo(f"{r.code}\t{r.name}\t({default}, fix: {r.fix_availability})")
        return
    found = BY_CODE.get(rule.upper()) or BY_NAME.get(rule)
    failure = next((code for code, name in FAILURE_NAMES.items() if rule.upper() == code or rule == name), None)
    if found is None and failure is not None:
        from packlint.report import failure_url
        from packlint.report.sarif import FAILURE_SUMMARIES

        error = FileError("", failure)
        click.echo(f"# {failure} ({error.name})\n\n{FAILURE_SUMMARIES[failure]} See {failure_url(error)}")
        return
    if found is None:
        _fail(f"unknown rule `{rule}`")
    else:
        click.echo(render_page(found), nl=False)


@main.command()
def server() -> None:
    """Run the language server on standard input and output (needs `packlint[server]`)."""
    try:
        from packlint.server import main as serve
    except ImportError:
        _fail("`packlint server` needs pygls: pip install 'packlint[server]'")
        return
    serve()


def _need_torch(command: str) -> None:
    from packlint.runtime import torch_available

    if not torch_available():
        _fail(f"`packlint {command}` needs torch: pip install 'packlint[runtime]'")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def verify(paths: tuple[str, ...], device: str, dtype: str, output_format: str) -> None:
    """Run the fixtures under PATHS (default: fixtures/) against correct packing (docs/verify.md)."""
    _need_torch("verify")
    from packlint.runtime.devices import DeviceError, resolve
    from packlint.runtime.table import render_json, render_text
    from packlint.runtime.verify import verify_paths

    try:
        env = resolve(device, dtype)
    except DeviceError as exc:
        _fail(str(exc))
        return
    run = verify_paths(paths or ("fixtures",), env)
    click.echo(render_json(run) if output_format == "json" else render_text(run), nl=False)
    sys.exit(EXIT_CLEAN if run.ok else EXIT_DIAGNOSTICS)


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--strict",
    is_flag=True,
    help="Also check that rows hold only padding past their length (PKL102), and that no softmax gives "
    "weight to the padded steps of a pad_packed_sequence result (PKL204).",
)
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(strict: bool, script: str, args: tuple[str, ...]) -> None:
    """Run SCRIPT with ARGS, checking every torch pack call (the runtime sanitizer)."""
    _need_torch("run")
    import traceback

    from packlint.runtime.run import run_script

    result = run_script(script, args, strict=strict)
    if result.exception is not None:
        exc = result.exception
        click.echo("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)), err=True, nl=False)
    for violation in result.violations:
        click.echo(violation.render(), err=True)
    sys.exit(result.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
