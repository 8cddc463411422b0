"""The `packlint` command: check (the default), rule, and the runtime commands."""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

import click

from packlint import __version__
from packlint.config import ConfigError, Settings, load_settings, validate_selectors
from packlint.diagnostics import FileError, FileResult
from packlint.report import FORMATS, Run, position, render

EXIT_CLEAN, EXIT_DIAGNOSTICS, EXIT_ERROR = 0, 1, 2


class DefaultToCheck(click.Group):
    """`packlint src/` means `packlint check src/`, as `ruff src/` once meant `ruff check src/`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="packlint")
def main() -> None:
    """A linter with autofix for PyTorch code that packs variable-length sequences."""


def _selectors(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(s.strip() for s in value.split(",") if s.strip())


def _fail(message: str) -> None:
    click.echo(f"packlint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (or show as fixable) unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print what --fix would change, write nothing.")
@click.option("--select", help="Comma-separated codes or prefixes to check (ALL for every rule).")
@click.option("--extend-select", help="Codes or prefixes to add to the selection.")
@click.option("--ignore", help="Codes or prefixes to leave out.")
@click.option("--output-format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--statistics", is_flag=True, help="Print how many diagnostics each rule gave.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when diagnostics remain.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Processes to use (default: cores).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="A pyproject.toml to use.")
@click.option("--quiet", "-q", is_flag=True, help="Print diagnostics only, no summary.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write .packlint_cache/.")
@click.option("--force-exclude", is_flag=True, help="Apply exclusions to files named on the command line too.")
@click.option("--stdin-filename", help="Read the source from standard input and report it as this path.")
def check(
    paths: tuple[str, ...],
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    select: str | None,
    extend_select: str | None,
    ignore: str | None,
    output_format: str,
    statistics: bool,
    exit_zero: bool,
    jobs: int | None,
    config: Path | None,
    quiet: bool,
    no_cache: bool,
    force_exclude: bool,
    stdin_filename: str | None,
) -> None:
    """Check PATHS (default: the current directory)."""
    from packlint.discover import discover

    stdin = stdin_filename is not None or paths == ("-",)
    if stdin and paths not in ((), ("-",)):
        _fail("standard input (`-` or --stdin-filename) cannot be checked together with other paths")
    start = Path(paths[0]) if paths else Path.cwd()
    if stdin:
        start = Path(stdin_filename).resolve().parent if stdin_filename else Path.cwd()
    try:
        settings = load_settings(config, start if start.exists() else Path.cwd())
        settings = _with_options(settings, select, extend_select, ignore)
    except ConfigError as exc:
        _fail(str(exc))
    settings = settings.but(fix=fix or diff, unsafe_fixes=unsafe_fixes)
    if stdin:
        results = [_check_stdin(stdin_filename or "-", settings, fix and not diff, force_exclude)]
    else:
        files, missing = discover(paths, settings, force_exclude=force_exclude)
        results = _check(files, settings, jobs, use_cache=not no_cache and not (fix or diff))
        results.extend(FileResult(path, errors=(FileError(reason),)) for path, reason in missing)
    if diff:
        sys.exit(_print_diff(results))
    if fix and not stdin:
        results = [_write(result) for result in results]
    # With --fix on standard input, standard output carries the fixed source: reports go to stderr (as ruff).
    to_stderr = stdin and fix
    results.sort(key=lambda r: r.path)
    run = Run(tuple(results), fix=fix, unsafe_fixes=unsafe_fixes, root=settings.root)
    _print_errors(results)
    if statistics:
        from packlint.report import statistics as stats

        click.echo(stats.render(run), nl=False, err=to_stderr)
    elif output_format == "text" and quiet:
        for result, d in run.diagnostics():
            mark = "[*] " if run.fixable(d) else ""
            click.echo(f"{result.path}:{position(d)}: {d.code} {mark}{d.message}", err=to_stderr)
    else:
        click.echo(render(run, output_format), nl=False, err=to_stderr)
    if any(r.errors for r in results):
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_DIAGNOSTICS if run.count and not exit_zero else EXIT_CLEAN)


def _with_options(settings: Settings, select: str | None, extend: str | None, ignore: str | None) -> Settings:
    from packlint.config import known_codes

    codes = known_codes()  # not the registry: a run served from the cache never imports the rules
    chosen, extra, ignored = _selectors(select), _selectors(extend), _selectors(ignore)
    validate_selectors([*(chosen or ()), *(extra or ()), *(ignored or ())], codes, "command line")
    if chosen is not None:
        settings = settings.but(select=chosen)
    if extra:
        settings = settings.but(extend_select=settings.extend_select + extra)
    if ignored:
        settings = settings.but(ignore=settings.ignore + ignored)
    return settings


def _check(files: list[str], settings: Settings, jobs: int | None, use_cache: bool) -> list[FileResult]:
    if use_cache:
        from packlint.cache import check_cached

        return check_cached(files, settings, jobs)
    from packlint.engine import check_paths

    return check_paths(files, settings, jobs)


def _check_stdin(path: str, settings: Settings, fix: bool, force_exclude: bool) -> FileResult:
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
    return result


def _write(result: FileResult) -> FileResult:
    from dataclasses import replace

    from packlint.engine import write_atomic

    if result.new_source is None:
        return result
    try:
        write_atomic(result.path, result.new_source)
    except OSError as exc:
        reason = f"cannot write: {exc.strerror or exc}; file left unchanged"
        return replace(result, errors=(*result.errors, FileError(reason)), fixed=0)
    return result


def _print_errors(results: list[FileResult]) -> None:
    for result in results:
        for error in result.errors:
            click.echo(f"{result.path}: error: {error.reason}", err=True)


def _print_diff(results: list[FileResult]) -> int:
    changed = 0
    fixed = 0
    for result in sorted(results, key=lambda r: r.path):
        if result.new_source is None or result.old_source is None:
            continue
        changed += 1
        fixed += result.fixed
        if result.path.endswith(".ipynb"):
            from packlint.notebook import notebook_diff

            click.echo(notebook_diff(result.path, result.old_source, result.new_source), nl=False)
            continue
        old = result.old_source.decode("utf-8", "replace").splitlines(keepends=True)
        new = result.new_source.decode("utf-8", "replace").splitlines(keepends=True)
        click.echo("".join(difflib.unified_diff(old, new, result.path, result.path)), nl=False)
    _print_errors(results)
    noun = "error" if fixed == 1 else "errors"
    click.echo(f"Would fix {fixed} {noun}." if fixed else "No errors would be fixed.", err=True)
    if any(r.errors for r in results):
        return EXIT_ERROR
    return EXIT_DIAGNOSTICS if changed else EXIT_CLEAN


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
@click.option("--strict", is_flag=True, help="Also check that rows hold only padding past their length (PKL102).")
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
