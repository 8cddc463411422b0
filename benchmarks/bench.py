"""packlint against ruff, flake8 and TorchFix on real corpora: CPU time, interleaved runs, medians, ratios.

    python benchmarks/bench.py                        # torch's installed sources
    python benchmarks/bench.py --corpus fairseq --runs 7
    python benchmarks/bench.py --baseline /path/to/old  # also time an older packlint (a dir holding packlint/)

It prints, per corpus: every tool's CPU time (user + system of the process and the workers it waited for;
min/median/max over the rounds), wall time and peak memory; packlint's cold CPU time over each other tool's,
round by round (min/median/max); where packlint's time goes (stages, in-process); how many files a cache
copied with the tree to another path serves; and how packlint's cost scales with the corpus (10/25/50/100 %
of the files, and 2x/4x copies). CPU time rather than wall time, because the machines this runs on are
often shared: a loaded machine stretches wall time, much less the CPU a run needs.

Everything it downloads or builds lives in benchmarks/.cache/ (gitignored): a copy of torch's .py files,
fairseq's sdist from PyPI and its .py files, and a virtual environment holding TorchFix (which pins libcst
below 1.6, so it never touches the environment packlint runs in). docs/performance.md has the set-up and
the figures.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
FAIRSEQ = "0.12.2"
# (row, against, at most, corpus or None for any): packlint's median CPU time over the other's (issue 15).
TARGETS = (
    ("packlint cold", "ruff cold", 2.5, "torch"),
    ("packlint cold", "ruff cold", 1.5, "fairseq"),
    ("packlint warm", "ruff warm", 1.0, None),
    ("packlint cold, --select ALL", "packlint cold", 1.1, None),
)
PEAK_MB = 150.0
MOVED_HITS = 0.95
SCALES = ((0.10, "10 %"), (0.25, "25 %"), (0.50, "50 %"), (1.0, "100 %"), (2.0, "2 copies"), (4.0, "4 copies"))


@dataclass
class Tool:
    """One command to time, run from the corpus directory."""

    name: str
    command: list[str]
    before: Callable[[], None] | None = None  # runs untimed before each timed run
    env: dict[str, str] | None = None
    runs: int | None = None  # at most this many rounds (flake8 and TorchFix take minutes)
    cpu: list[float | None] = field(default_factory=list)  # one per round, None where it did not run
    wall: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [t for t in self.cpu if t is not None]


@dataclass(frozen=True)
class Measured:
    """One run of a command."""

    cpu: float  # seconds of user + system time, its waited-for children included
    wall: float
    peak_mb: float  # the largest resident set of the process or of any child it waited for


def snapshot_packlint(source: Path, name: str) -> Path:
    """A copy of packlint's sources as they are now: edits made while the benchmark runs neither change
    what it measures nor empty packlint's cache (whose key covers packlint's own code). Its bytecode is
    compiled once, as `pip install` does: where PYTHONDONTWRITEBYTECODE is set (as on some shared and CI
    machines), every timed run would otherwise compile all of packlint again, which no installed copy does."""
    target = CACHE / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source / "packlint", target / "packlint", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(target / "packlint", quiet=1)
    return target


def with_path(snapshot: Path) -> dict[str, str]:
    """The environment that runs packlint from `snapshot`."""
    extra = [os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(snapshot), *filter(None, extra)])}


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
    """fairseq's .py files, from its sdist on PyPI (fetched once with pip), or from the directory that
    PACKLINT_BENCH_FAIRSEQ names (a checkout, for a machine that cannot reach PyPI)."""
    given = os.environ.get("PACKLINT_BENCH_FAIRSEQ")
    if given:
        return Path(given).resolve()
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


def measure(command: Sequence[str], cwd: Path, env: dict[str, str] | None, timeout: float) -> Measured:
    """Run `command` to its end; its CPU time and peak memory from wait4, as `time -v` reports them."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(f"timed out after {timeout:.0f} s")
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):
            errors.seek(0)
            tail = errors.read()[-2000:].decode("utf-8", "replace")
            raise RuntimeError(f"exited {proc.returncode}: {tail}")
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Measured(usage.ru_utime + usage.ru_stime, wall, peak)


def corpus_files(corpus: Path) -> list[str]:
    """The files packlint checks in `corpus` (its own discovery, default settings)."""
    from packlint.config import Settings
    from packlint.discover import discover

    files, _ = discover([str(corpus)], Settings(root=str(corpus)))
    return sorted(files)


def passing(files: Iterable[str], select: tuple[str, ...] | None = None) -> list[str]:
    """The files that pass packlint's prefilter for the selection (default: the default rules)."""
    from packlint.config import Settings
    from packlint.engine import Plan, trigger_words
    from packlint.prefilter import may_match

    words = trigger_words(Plan.from_settings(Settings(select=select)).codes)
    return [f for f in files if may_match(Path(f).read_bytes(), words)]


def describe_corpus(corpus: Path) -> str:
    """Files, lines and bytes, and how many files (and bytes) pass packlint's prefilter."""
    files = corpus_files(corpus)
    data = [Path(f).read_bytes() for f in files]
    passed = passing(files)
    lines = sum(d.count(b"\n") for d in data)
    size = sum(len(d) for d in data)
    passed_size = sum(os.path.getsize(f) for f in passed)
    return (
        f"{len(files)} files, {lines:,} lines, {size / 1e6:.1f} MB; {len(passed)} files "
        f"({passed_size / 1e6:.1f} MB, {passed_size / size:.0%} of the bytes) pass packlint's prefilter"
    )


class OneEdit:
    """Before each timed run, edit one file that packlint parses (alternately adding and removing a line)."""

    def __init__(self, corpus: Path) -> None:
        self.path = Path(passing(corpus_files(corpus))[0])
        self.original = self.path.read_bytes()
        self.edited = False

    def __call__(self) -> None:
        self.edited = not self.edited
        self.path.write_bytes(self.original + b"\n# edited by the benchmark\n" if self.edited else self.original)

    def restore(self) -> None:
        self.path.write_bytes(self.original)


def bench(corpus: Path, tools: list[Tool], runs: int, timeout: float) -> None:
    """`runs` rounds; each runs every tool once, in an order rotated from round to round."""
    for round_ in range(runs):
        order = tools[round_ % len(tools) :] + tools[: round_ % len(tools)]
        for tool in tools:
            tool.cpu.append(None)
        for tool in order:
            if tool.runs is not None and round_ >= tool.runs:
                continue
            if tool.before is not None:
                tool.before()
            try:
                m = measure(tool.command, corpus, tool.env, timeout)
            except RuntimeError as exc:
                log(f"  {tool.name}: {exc}")
                continue
            tool.cpu[-1] = m.cpu
            tool.wall.append(m.wall)
            tool.peak_mb.append(m.peak_mb)
            log(f"  round {round_ + 1}: {tool.name:<32} cpu {m.cpu:8.3f} s  wall {m.wall:8.3f} s  {m.peak_mb:6.0f} MB")


def _spread(values: Sequence[float], digits: int = 3) -> str:
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / {max(values):.{digits}f}"


def report(name: str, corpus: Path, tools: list[Tool]) -> dict[str, float]:
    """The table of CPU times and the ratios; returns the median CPU time of each tool."""
    medians = {t.name: statistics.median(t.times) for t in tools if t.times}
    print(f"\n## {name}: {describe_corpus(corpus)}\n")
    print("| tool | runs | CPU s min / median / max | wall s median | peak MB |")
    print("|------|-----:|-------------------------:|--------------:|--------:|")
    for tool in tools:
        if not tool.times:
            print(f"| {tool.name} | 0 | – | – | – |")
            continue
        wall, peak = statistics.median(tool.wall), max(tool.peak_mb)
        print(f"| {tool.name} | {len(tool.times)} | {_spread(tool.times)} | {wall:.3f} | {peak:.0f} |")
    print("\npacklint cold's CPU time over each tool's, round by round (min / median / max):\n")
    cold = next((t for t in tools if t.name == "packlint cold"), None)
    for tool in tools:
        if cold is None or tool is cold:
            continue
        pairs = [c / o for c, o in zip(cold.cpu, tool.cpu) if c is not None and o]
        if pairs:
            print(f"- packlint cold / {tool.name}: {_spread(pairs, 3)}")
    print()
    for row, against, limit, where in TARGETS:
        if (where is None or where == name) and row in medians and against in medians:
            ratio = medians[row] / medians[against]
            verdict = "met" if ratio <= limit else "MISSED"
            print(f"- target: {row} / {against} = {ratio:.2f} (at most {limit:g}): {verdict}")
    peaks = [
        max(t.peak_mb) for t in tools if t.name.startswith("packlint cold") and "baseline" not in t.name and t.peak_mb
    ]
    if peaks:
        verdict = "met" if max(peaks) <= PEAK_MB else "MISSED"
        print(f"- target: packlint cold peak memory {max(peaks):.0f} MB (at most {PEAK_MB:.0f} MB): {verdict}")
    return medians


STAGE_PROBE = r"""
import ast, json, os, sys, time
from packlint.config import Settings
from packlint.engine import Plan, trigger_words
from packlint.facts import analyse
from packlint.noqa import skips_file
from packlint.prefilter import may_match
from packlint.rules import REGISTRY
from packlint.rules.base import Context
from packlint.source import Source

try:  # facts gating and rules run by their own triggers (issue 15); an older baseline has neither
    from packlint.engine import gate_for, triggered
except ImportError:
    gate_for = triggered = None

files = json.load(sys.stdin)
settings = Settings(root=os.getcwd())
codes = Plan.from_settings(settings).codes
words = trigger_words(codes)
rules = [rule for rule in REGISTRY if rule.code in codes]
clock = time.process_time
stages = dict.fromkeys(["read", "prefilter", "decode", "parse", "facts", "rules"], 0.0)
per_rule = dict.fromkeys([rule.code for rule in rules], 0.0)
parsed = 0
for path in files:
    t0 = clock()
    with open(path, "rb") as handle:
        data = handle.read()
    t1 = clock()
    ok = may_match(data, words)
    t2 = clock()
    stages["read"] += t1 - t0
    stages["prefilter"] += t2 - t1
    if not ok:
        continue
    try:
        source = Source.decode(data)
    except Exception:
        continue
    t3 = clock()
    stages["decode"] += t3 - t2
    if skips_file(source.text):
        continue
    try:
        tree = ast.parse(source.text)
    except (SyntaxError, ValueError):
        continue
    t4 = clock()
    active = triggered(source.text, codes) if triggered is not None else codes
    facts = analyse(tree, gate_for(source.text, source, active)) if gate_for is not None else analyse(tree)
    t5 = clock()
    stages["parse"] += t4 - t3
    stages["facts"] += t5 - t4
    parsed += 1
    ctx = Context(source, facts)
    for rule in rules:
        if rule.code not in active:
            continue
        t = clock()
        list(rule().check(ctx))
        per_rule[rule.code] += clock() - t
    stages["rules"] += clock() - t5
print(json.dumps({"stages": stages, "rules": per_rule, "parsed": parsed}))
"""


def stage_breakdown(corpus: Path, snapshot: Path, runs: int) -> dict[str, Any] | None:
    """Where one process's CPU time goes, stage by stage (median of `runs`), with `snapshot`'s packlint."""
    files = json.dumps(corpus_files(corpus))
    found: list[dict[str, Any]] = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", STAGE_PROBE], input=files, capture_output=True, text=True, cwd=corpus,
            env=with_path(snapshot),
        )  # fmt: skip
        if result.returncode != 0:
            log(f"stage probe failed: {result.stderr[-1500:]}")
            return None
        found.append(json.loads(result.stdout))
    median = {
        group: {k: statistics.median(f[group][k] for f in found) for k in found[0][group]}
        for group in ("stages", "rules")
    }
    return {**median, "parsed": found[0]["parsed"]}


def print_stages(label: str, stages: dict[str, Any] | None) -> None:
    if stages is None:
        print(f"- {label}: stage breakdown unavailable")
        return
    parts = stages["stages"]
    total = sum(parts.values())
    shown = ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
    rules = stages["rules"]
    top = ", ".join(f"{k} {v:.2f}" for k, v in sorted(rules.items(), key=lambda kv: -kv[1])[:4])
    print(f"- {label}: {total:.2f} s CPU in one process, {stages['parsed']} files parsed: {shown} (rules: {top})")


def moved_cache_hits(corpus: Path, snapshot: Path) -> str:
    """Check a copy of the corpus (filling its cache), copy that tree with its cache to another path,
    check there: how many files the moved cache served. In a subprocess running `snapshot`'s packlint."""
    area = CACHE / "moved"
    shutil.rmtree(area, ignore_errors=True)
    first, second = area / "first" / corpus.name, area / "elsewhere" / "second" / corpus.name
    shutil.copytree(corpus, first, symlinks=True, ignore=shutil.ignore_patterns(".packlint_cache", ".ruff_cache"))
    probe = r"""
import json, sys
from packlint import cache, engine
from packlint.config import Settings
from packlint.discover import discover
root = sys.argv[1]
settings = Settings(root=root)
files, _ = discover([root], settings)
misses = []
real = engine.check_items
def spy(items, *args, **kwargs):
    items = list(items)
    misses.extend(path for path, _ in items)
    return real(items, *args, **kwargs)
engine.check_items = spy
cache.check_cached(files, settings)
print(json.dumps({"files": len(files), "misses": len(misses)}))
"""
    try:
        # Run from the tree checked, as the timed runs are: from this checkout, `-c` would import the
        # checkout's packlint (the current directory comes first on sys.path), not the snapshot, and fill
        # the cache under another code fingerprint whenever the checkout was edited after the snapshot.
        run = subprocess.run(
            [sys.executable, "-c", probe, str(first)],
            capture_output=True,
            text=True,
            cwd=first,
            env=with_path(snapshot),
        )
        shutil.copytree(first, second, symlinks=True)  # new path, new inodes and ctimes: only content can match
        moved = measure([sys.executable, "-m", "packlint", "check", "--exit-zero", "-q", "."], second,
                        with_path(snapshot), 3600)  # fmt: skip
        shutil.rmtree(second)
        shutil.copytree(first, second, symlinks=True)
        run = subprocess.run(
            [sys.executable, "-c", probe, str(second)], capture_output=True, text=True, cwd=second,
            env=with_path(snapshot),
        )  # fmt: skip
        counts = json.loads(run.stdout)
    except (OSError, ValueError, RuntimeError) as exc:
        return f"cache after a move: not measured ({exc})"
    finally:
        shutil.rmtree(area, ignore_errors=True)
    rate = 1 - counts["misses"] / max(1, counts["files"])
    verdict = "met" if rate >= MOVED_HITS else "MISSED"
    return (
        f"- cache copied with the tree to another path: {counts['files'] - counts['misses']} of {counts['files']} "
        f"files served ({rate:.1%}; target at least {MOVED_HITS:.0%}: {verdict}); that run took "
        f"{moved.cpu:.2f} s CPU, {moved.peak_mb:.0f} MB"
    )


def build_scaled(corpus: Path, files: list[str], factor: float, label: str) -> Path:
    """A corpus holding a spread-out fraction of the files, or `factor` copies of all (hard links)."""
    target = CACHE / "scaling" / corpus.name / label.replace(" ", "")
    if target.exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    if factor <= 1:
        step = 1 / factor
        chosen = [files[int(i * step)] for i in range(int(len(files) * factor))]
        copies = [("", chosen)]
    else:
        copies = [(f"copy{i}", files) for i in range(int(factor))]
    for prefix, chosen in copies:
        for path in chosen:
            destination = partial / prefix / os.path.relpath(path, corpus)
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, destination)
            except OSError:
                shutil.copyfile(path, destination)
    partial.rename(target)
    return target


def scaling(corpus: Path, snapshot: Path, runs: int, timeout: float) -> None:
    """packlint cold on 10/25/50/100 % of the files and on 2 and 4 copies: CPU time per passing MB."""
    files = corpus_files(corpus)
    print(f"\n### Scaling on {corpus.name} (packlint cold, CPU s median of {runs}, interleaved)\n")
    print("| corpus | files | MB | passing MB | CPU s | CPU s per passing MB | peak MB |")
    print("|--------|------:|---:|-----------:|------:|---------------------:|--------:|")
    built = [(label, build_scaled(corpus, files, factor, label)) for factor, label in SCALES]
    command = [sys.executable, "-m", "packlint", "check", "--exit-zero", "-q", "--no-cache", "."]
    measured: dict[str, list[Measured]] = {label: [] for label, _ in built}
    for round_ in range(runs):
        for label, where in built[round_ % len(built) :] + built[: round_ % len(built)]:
            try:
                measured[label].append(measure(command, where, with_path(snapshot), timeout))
            except RuntimeError as exc:
                log(f"  scaling {label}: {exc}")
    for label, where in built:
        if not measured[label]:
            continue
        these = corpus_files(where)
        size = sum(os.path.getsize(f) for f in these) / 1e6
        passed = sum(os.path.getsize(f) for f in passing(these)) / 1e6
        cpu = statistics.median(m.cpu for m in measured[label])
        peak = max(m.peak_mb for m in measured[label])
        per = cpu / passed if passed else float("nan")
        print(f"| {label} | {len(these)} | {size:.1f} | {passed:.1f} | {cpu:.2f} | {per:.2f} | {peak:.0f} |")


def startup(corpus: Path, snapshot: Path, baseline: Path | None, runs: int, timeout: float) -> None:
    """What one small file costs, whole process: the fixed cost a pre-commit hook pays on every commit."""
    files = corpus_files(corpus)
    passed = set(passing(files))
    small = sorted((f for f in files if os.path.getsize(f) > 200), key=os.path.getsize)
    away = next((f for f in small if f not in passed), None)
    checked = next((f for f in small if f in passed), None)
    tools: list[Tool] = []
    for label, path in (("turned away", away), ("checked", checked)):
        if path is None:
            continue
        name = os.path.relpath(path, corpus)
        tools.append(Tool(f"packlint, 1 file {label}", [sys.executable, "-m", "packlint", "check", "--exit-zero", "-q",
                                                         "--no-cache", name], env=with_path(snapshot)))  # fmt: skip
        if baseline is not None:
            tools.append(Tool(f"packlint baseline, 1 file {label}", [*tools[-1].command], env=with_path(baseline)))
        if ruff_path := executable("ruff"):
            tools.append(Tool(f"ruff, 1 file {label}", [ruff_path, "check", "--isolated", "--select", "E,F",
                                                        "--exit-zero", "-q", "--no-cache", name]))  # fmt: skip
    log("start-up: one small file")
    bench(corpus, tools, runs, timeout)
    print(f"\nStart-up, one small file of {corpus.name} ({runs} interleaved rounds, CPU s min / median / max):\n")
    print("| run | CPU s min / median / max | peak MB |")
    print("|-----|-------------------------:|--------:|")
    for tool in tools:
        if tool.times:
            print(f"| {tool.name} | {_spread(tool.times)} | {max(tool.peak_mb):.0f} |")


def versions(torchfix: list[str] | None, baseline: Path | None) -> None:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    print(f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; load {load}")
    from packlint import __version__

    git = ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"]
    revision = subprocess.run(git, capture_output=True, text=True).stdout.strip() or "unknown revision"
    print(f"- Python {platform.python_version()}; packlint {__version__} ({revision}, copied to .cache/snapshot)")
    if baseline is not None:
        print(f"- baseline packlint: {baseline} (copied to .cache/baseline)")
    ruff, flake8 = (_tool_version([executable(name) or name]) for name in ("ruff", "flake8"))
    print(f"- {ruff}; flake8 {flake8}")
    if torchfix is not None:
        python = str(Path(torchfix[0]).with_name("python"))
        libcst = _installed_version("libcst", python)
        print(f"- TorchFix {_installed_version('torchfix', python)} (libcst {libcst}, in its own venv)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", choices=["torch", "fairseq"], help="default: torch")
    parser.add_argument("--runs", type=int, default=5, help="rounds of the fast tools (default 5)")
    parser.add_argument("--flake8-runs", type=int, default=1, help="flake8 takes minutes on torch (default 1)")
    parser.add_argument("--torchfix-runs", type=int, default=1, help="TorchFix takes minutes (default 1)")
    parser.add_argument(
        "--torchfix-scale", type=float, default=0.10, help="TorchFix (and packlint, ruff beside it) runs on this "
        "fraction of the files (default 0.10: a whole torch run of TorchFix takes about half an hour)",
    )  # fmt: skip
    parser.add_argument("--baseline", type=Path, help="a directory holding an older packlint/ to time beside")
    parser.add_argument("--stage-runs", type=int, default=3, help="runs of the in-process stage probe")
    parser.add_argument("--scaling-runs", type=int, default=3, help="rounds of the scaling table (0: skip it)")
    parser.add_argument("--startup-runs", type=int, default=5, help="rounds of the one-small-file runs (0: skip)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run is abandoned")
    args = parser.parse_args(argv)
    snapshot = snapshot_packlint(HERE.parent, "snapshot")
    baseline = snapshot_packlint(args.baseline, "baseline") if args.baseline else None
    sys.path.insert(0, str(snapshot))
    corpora = {"torch": torch_corpus, "fairseq": fairseq_corpus}
    chosen = args.corpus or ["torch"]
    torchfix = torchfix_command() if args.torchfix_runs > 0 else None
    print("# packlint benchmark\n")
    versions(torchfix, args.baseline)
    for name in chosen:
        corpus = corpora[name]()
        packlint = [sys.executable, "-m", "packlint", "check", "--exit-zero", "-q", "."]
        edit = OneEdit(corpus)
        env = with_path(snapshot)
        tools = [Tool("packlint cold", [*packlint, "--no-cache"], env=env)]
        if baseline is not None:
            tools.append(Tool("packlint cold (baseline)", [*packlint, "--no-cache"], env=with_path(baseline)))
        tools += [
            Tool("packlint cold, --select ALL", [*packlint, "--no-cache", "--select", "ALL"], env=env),
            Tool("packlint warm", packlint, env=env),
            Tool("packlint warm, 1 file edited", packlint, before=edit, env=env),
        ]
        if ruff_path := executable("ruff"):
            ruff = [ruff_path, "check", "--isolated", "--select", "E,F", "--exit-zero", "-q", "."]
            tools.append(Tool("ruff cold", [*ruff, "--no-cache"]))
            tools.append(Tool("ruff warm", ruff))
        if (flake8_path := executable("flake8")) and args.flake8_runs > 0:
            flake8 = [flake8_path, "--isolated", "--select", "E,F", "--exit-zero", "-q", "."]
            tools.append(Tool("flake8", flake8, runs=args.flake8_runs))
        log(f"{name}: {corpus}")
        for tool in tools:  # fill the caches, so that every "warm" run is one
            if "warm" in tool.name:
                measure(tool.command, corpus, tool.env, args.timeout)
        try:
            bench(corpus, tools, args.runs, args.timeout)
        finally:
            edit.restore()
        report(name, corpus, tools)
        print()
        print_stages("stages, this packlint", stage_breakdown(corpus, snapshot, args.stage_runs))
        if baseline is not None:
            print_stages("stages, baseline", stage_breakdown(corpus, baseline, args.stage_runs))
        print(moved_cache_hits(corpus, snapshot))
        if args.startup_runs > 0:
            startup(corpus, snapshot, baseline, args.startup_runs, args.timeout)
        if torchfix is not None:
            torchfix_round(corpus, snapshot, torchfix, args)
        if args.scaling_runs > 0:
            scaling(corpus, snapshot, args.scaling_runs, args.timeout)


def torchfix_round(corpus: Path, snapshot: Path, torchfix: list[str], args: argparse.Namespace) -> None:
    """TorchFix, packlint cold, ruff cold and flake8 on a spread-out fraction of the corpus, interleaved."""
    label = f"{args.torchfix_scale:.0%}"
    where = build_scaled(corpus, corpus_files(corpus), args.torchfix_scale, label)
    tools = [
        Tool("packlint cold", [sys.executable, "-m", "packlint", "check", "--exit-zero", "-q", "--no-cache", "."],
             env=with_path(snapshot)),
        Tool("torchfix", [*torchfix, "."]),
    ]  # fmt: skip
    if ruff_path := executable("ruff"):
        tools.append(Tool("ruff cold", [ruff_path, "check", "--isolated", "--select", "E,F", "--exit-zero", "-q",
                                        "--no-cache", "."]))  # fmt: skip
    if flake8_path := executable("flake8"):
        tools.append(Tool("flake8", [flake8_path, "--isolated", "--select", "E,F", "--exit-zero", "-q", "."]))
    log(f"TorchFix on {label} of {corpus.name}")
    bench(where, tools, args.torchfix_runs, args.timeout)
    report(f"{corpus.name}, {label} of the files (TorchFix)", where, tools)


if __name__ == "__main__":
    main()
