"""packlint against TorchFix, ruff and flake8 on real corpora: interleaved runs, medians and ratios.

    python benchmarks/bench.py                      # torch's installed sources and fairseq 0.12.2
    python benchmarks/bench.py --runs 7 --torchfix-runs 3 --corpus fairseq

Everything it downloads or builds lives in benchmarks/.cache/ (gitignored): a copy of torch's .py files,
fairseq's sdist from PyPI and its .py files, and a virtual environment holding TorchFix (which pins
libcst below 1.6, so it never touches the environment packlint runs in). docs/performance.md has the set-up
and the figures. Timings are whole processes, as a user waits for them, from the corpus directory.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
FAIRSEQ = "0.12.2"
TARGETS = (
    # (row, against, at most): packlint's median over the other tool's.
    ("packlint cold", "torchfix", 1 / 20),
    ("packlint cold", "ruff cold", 5.0),
    ("packlint warm", "ruff warm", 2.0),
)


@dataclass
class Tool:
    """One command to time, run from the corpus directory."""

    name: str
    command: list[str]
    before: Callable[[], None] | None = None  # runs untimed before each timed run
    env: dict[str, str] | None = None
    times: list[float] = field(default_factory=list)


def snapshot_packlint() -> Path:
    """A copy of packlint's sources as they are now: edits made while the benchmark runs neither change
    what it measures nor empty packlint's cache (whose key covers packlint's own code)."""
    target = CACHE / "snapshot"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(HERE.parent / "packlint", target / "packlint", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def torch_corpus() -> Path:
    """A copy of the installed torch package's .py files (tools write caches next to what they check)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torch is not installed here: pip install torch (the CPU wheel will do)")
    source = Path(next(iter(spec.submodule_search_locations)))
    version = _installed_version("torch")
    target = CACHE / "corpora" / f"torch-{version}"
    if not target.exists():
        log(f"copying the .py files of {source} to {target}")
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        for path in source.rglob("*.py"):
            destination = partial / "torch" / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        partial.rename(target)
    return target


def fairseq_corpus() -> Path:
    """fairseq's .py files, from its sdist on PyPI (fetched once with pip)."""
    target = CACHE / "corpora" / f"fairseq-{FAIRSEQ}"
    if target.exists():
        return target
    archive = CACHE / "sdist" / f"fairseq-{FAIRSEQ}.tar.gz"
    if not archive.exists():
        log(f"downloading fairseq {FAIRSEQ} from PyPI")
        base = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(archive.parent)]
        # Preparing its metadata in an isolated build would install its build requirements (torch, numpy)
        # from source; in this environment it needs neither.
        for extra in (["--no-build-isolation"], []):
            if subprocess.run([*base, *extra, f"fairseq=={FAIRSEQ}"]).returncode == 0:
                break
        else:
            raise SystemExit("pip could not download the fairseq sdist")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".py")]
        for member in members:
            member.name = member.name.split("/", 1)[1]  # drop the fairseq-0.12.2/ prefix
        tar.extractall(partial, members=members, filter="data")
    partial.rename(target)
    return target


def torchfix_command() -> list[str] | None:
    """TorchFix in its own virtual environment under the cache (created on first use)."""
    venv = CACHE / "torchfix-venv"
    executable = venv / ("Scripts" if os.name == "nt" else "bin") / "torchfix"
    if not executable.exists():
        log("installing TorchFix into benchmarks/.cache/torchfix-venv")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        if subprocess.run([str(python), "-m", "pip", "install", "-q", "torchfix"]).returncode != 0:
            log("TorchFix could not be installed; it is left out")
            return None
    return [str(executable)]


def executable(name: str) -> str | None:
    """A tool installed beside this Python, else on PATH (a version manager's shim would add its own time)."""
    beside = Path(sysconfig.get_path("scripts")) / (name + (".exe" if os.name == "nt" else ""))
    return str(beside) if beside.exists() else shutil.which(name)


def _installed_version(name: str, python: str | None = None) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    result = subprocess.run([python or sys.executable, "-c", code], capture_output=True, text=True)
    return result.stdout.strip() or "not installed"


def _tool_version(command: Sequence[str]) -> str:
    try:
        result = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return "not installed"
    return (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else "not installed"


def describe_corpus(corpus: Path) -> str:
    """Files, lines and bytes, and how many files pass packlint's prefilter for the default selection."""
    from packlint.config import Settings
    from packlint.discover import discover
    from packlint.engine import Plan, trigger_words
    from packlint.prefilter import may_match

    settings = Settings(root=str(corpus))
    files, _ = discover([str(corpus)], settings)
    words = trigger_words(Plan.from_settings(settings).codes)
    data = [Path(f).read_bytes() for f in files]
    passed = sum(1 for d in data if may_match(d, words))
    lines = sum(d.count(b"\n") for d in data)
    size = sum(len(d) for d in data) / 1e6
    return f"{len(files)} files, {lines:,} lines, {size:.1f} MB; {passed} pass packlint's prefilter"


def rechecked_after_edit(corpus: Path) -> tuple[Path, list[str]]:
    """Edit one file that packlint parses; the paths a warm run then checks again (an in-process probe)."""
    from packlint import engine
    from packlint.cache import check_cached
    from packlint.config import Settings

    settings = Settings(root=str(corpus))
    target, files = _parsed_file(corpus)
    check_cached(files, settings)  # warm
    seen: list[str] = []
    real = engine.check_items

    def spy(items: Iterable[tuple[str, bytes]], *args: object, **kwargs: object) -> object:
        items = list(items)
        seen.extend(path for path, _ in items)
        return real(items, *args, **kwargs)  # type: ignore[arg-type]

    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\n# edited by the benchmark\n")
        engine.check_items = spy  # type: ignore[assignment]
        check_cached(files, settings)
    finally:
        engine.check_items = real
        target.write_bytes(original)
    return target, seen


class OneEdit:
    """Before each timed run, edit one file that packlint parses (alternately adding and removing a line)."""

    def __init__(self, corpus: Path) -> None:
        self.path, _ = _parsed_file(corpus)
        self.original = self.path.read_bytes()
        self.edited = False

    def __call__(self) -> None:
        self.edited = not self.edited
        self.path.write_bytes(self.original + b"\n# edited by the benchmark\n" if self.edited else self.original)

    def restore(self) -> None:
        self.path.write_bytes(self.original)


def _parsed_file(corpus: Path) -> tuple[Path, list[str]]:
    from packlint.config import Settings
    from packlint.discover import discover
    from packlint.engine import Plan, trigger_words
    from packlint.prefilter import may_match

    settings = Settings(root=str(corpus))
    files, _ = discover([str(corpus)], settings)
    words = trigger_words(Plan.from_settings(settings).codes)
    return Path(next(f for f in files if may_match(Path(f).read_bytes(), words))), files


def time_once(tool: Tool, corpus: Path, timeout: float) -> float:
    if tool.before is not None:
        tool.before()
    start = time.perf_counter()
    result = subprocess.run(
        tool.command,
        cwd=corpus,
        env=tool.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{tool.name} exited {result.returncode}: {result.stderr[-2000:]}")
    return elapsed


def bench(corpus: Path, tools: list[Tool], runs: int, torchfix_runs: int, timeout: float) -> None:
    for round_ in range(runs):
        # Rotate the order each round, so that no tool always runs right after another's disk traffic.
        order = tools[round_ % len(tools) :] + tools[: round_ % len(tools)]
        for tool in order:
            if tool.name == "torchfix" and round_ >= torchfix_runs:
                continue
            try:
                tool.times.append(time_once(tool, corpus, timeout))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                log(f"  {tool.name}: {exc}")
                continue
            log(f"  round {round_ + 1}: {tool.name:<14} {tool.times[-1]:8.3f} s")


def report(corpus: Path, tools: list[Tool]) -> None:
    medians = {t.name: statistics.median(t.times) for t in tools if t.times}
    print(f"\n## {corpus.name}: {describe_corpus(corpus)}\n")
    print(f"| {'tool':<30} | runs | median s |  min s | packlint cold × | packlint warm × |")
    print(f"|{'-' * 32}|------|----------|--------|-----------------|-----------------|")
    for tool in tools:
        if not tool.times:
            print(f"| {tool.name:<30} |    0 |        – |      – |               – |               – |")
            continue
        median = medians[tool.name]
        cold = medians.get("packlint cold")
        warm = medians.get("packlint warm")
        against_cold = f"{median / cold:15.2f}" if cold else f"{'–':>15}"
        against_warm = f"{median / warm:15.2f}" if warm else f"{'–':>15}"
        print(
            f"| {tool.name:<30} | {len(tool.times):4d} | {median:8.3f} | {min(tool.times):6.3f} | "
            f"{against_cold} | {against_warm} |"
        )
    print()
    for row, against, limit in TARGETS:
        if row in medians and against in medians:
            ratio = medians[row] / medians[against]
            verdict = "met" if ratio <= limit else "MISSED"
            bound = f"≤ 1/{1 / limit:.0f}" if limit < 1 else f"≤ {limit:g}×"
            print(f"- {row} / {against} = {ratio:.3f} (target {bound}): {verdict}")


def versions(torchfix: list[str] | None) -> None:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    print(f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    from packlint import __version__

    git = ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"]
    revision = subprocess.run(git, capture_output=True, text=True).stdout.strip() or "unknown revision"
    print(f"- Python {platform.python_version()}; packlint {__version__} ({revision}, copied to .cache/snapshot)")
    ruff, flake8 = (_tool_version([executable(name) or name]) for name in ("ruff", "flake8"))
    print(f"- {ruff}; flake8 {flake8}")
    if torchfix is not None:
        python = str(Path(torchfix[0]).with_name("python"))
        libcst = _installed_version("libcst", python)
        print(f"- TorchFix {_installed_version('torchfix', python)} (libcst {libcst}, in its own venv)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", choices=["torch", "fairseq"], help="default: both")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each fast tool (default 5)")
    parser.add_argument("--torchfix-runs", type=int, default=1, help="TorchFix takes minutes a run (default 1)")
    parser.add_argument(
        "--torchfix-corpus", action="append", default=None, help="corpora TorchFix runs on (default: fairseq)"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run is abandoned")
    args = parser.parse_args(argv)
    snapshot = snapshot_packlint()
    sys.path.insert(0, str(snapshot))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(snapshot), *filter(None, [os.environ.get("PYTHONPATH")])])}
    corpora = {"torch": torch_corpus, "fairseq": fairseq_corpus}
    chosen = args.corpus or ["fairseq", "torch"]
    torchfix_on = set(args.torchfix_corpus or ["fairseq"])
    torchfix = torchfix_command() if torchfix_on & set(chosen) else None
    print("# packlint benchmark\n")
    versions(torchfix)
    for name in chosen:
        corpus = corpora[name]()
        packlint = [sys.executable, "-m", "packlint", "check", "--exit-zero", "-q", "."]
        edit = OneEdit(corpus)
        tools = [
            Tool("packlint cold", [*packlint, "--no-cache"], env=env),
            Tool("packlint warm", packlint, env=env),
            Tool("packlint warm, 1 file edited", packlint, before=edit, env=env),
        ]
        if ruff_path := executable("ruff"):
            ruff = [ruff_path, "check", "--isolated", "--select", "E,F", "--exit-zero", "-q", "."]
            tools.append(Tool("ruff cold", [*ruff, "--no-cache"]))
            tools.append(Tool("ruff warm", ruff))
        if flake8_path := executable("flake8"):
            tools.append(Tool("flake8", [flake8_path, "--isolated", "--select", "E,F", "--exit-zero", "-q", "."]))
        if torchfix is not None and name in torchfix_on:
            tools.append(Tool("torchfix", [*torchfix, "."]))
        log(f"{name}: {corpus}")
        for tool in tools:  # fill the caches, so that every "warm" run is one
            if tool.name.endswith("warm"):
                time_once(tool, corpus, args.timeout)
        try:
            bench(corpus, tools, args.runs, args.torchfix_runs, args.timeout)
        finally:
            edit.restore()
        report(corpus, tools)
        target, seen = rechecked_after_edit(corpus)
        shown = ", ".join(os.path.relpath(p, corpus) for p in seen)
        print(f"- warm run after editing {os.path.relpath(target, corpus)}: re-checked {len(seen)} file(s): {shown}")


if __name__ == "__main__":
    main()
