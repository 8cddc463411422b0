"""What project mode costs: `packlint check` with and without `--project`, CPU time, interleaved rounds.

    python benchmarks/project.py                          # torch's installed sources and /work/corpus_vcs
    python benchmarks/project.py --corpus torch --runs 5
    python benchmarks/project.py --corpus /some/tree      # any tree (its own project markers decide roots)

For each corpus it prints the CPU time (user + system, from wait4) of a cold run (`--no-cache -j 1`) per
file and with `--project`, min / median / max over the rounds, the ratio round by round, and a stage split
measured in one process: how many files each mode analyses (and how many only for a cross-file check), the
CPU time of the prefilter (the project gate included) and of the checks, and how many project summaries
were computed. Then the cost of a re-run with the cache after editing one imported file, summaries stored
on disk or not. CPU time rather than wall time: the machines this runs on are shared.

torch's .py files are copied once (with a `.git` marker at the top, so that the copy is one project, as an
installed site-packages inside a virtual environment is) under --work, outside the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VCS_CORPUS = Path("/work/corpus_vcs")  # the real-world corpus with a `.git` per repository, where it exists
TARGET = 0.10  # issue 15 / 16: project mode on by default only within 10% of a cold per-file run


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def torch_copy(work: Path) -> Path:
    """A copy of the installed torch's .py files under `work`, its top marked as a project root."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torch is not installed here (pip install torch==2.13.0)")
    source = Path(next(iter(spec.submodule_search_locations)))
    target = work / "torch-sources"
    if not (target / ".git").is_dir():
        log(f"copying the .py files of {source} to {target}")
        shutil.rmtree(target, ignore_errors=True)
        for path in source.rglob("*.py"):
            destination = target / "torch" / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        (target / ".git").mkdir()
    return target


def cpu_of(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """User + system CPU seconds of `command` run to its end (its waited-for children included)."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 2):  # 2: some files of the corpus cannot be checked (syntax errors), as expected
        tail = proc.stderr.read()[-2000:].decode("utf-8", "replace") if proc.stderr else ""
        raise SystemExit(f"{' '.join(command)} exited {code}: {tail}")
    return usage.ru_utime + usage.ru_stime


def spread(values: Sequence[float], digits: int = 2) -> str:
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / {max(values):.{digits}f}"


def cold(corpus: Path, runs: int) -> tuple[list[float], list[float]]:
    """`runs` interleaved rounds of per-file and `--project` cold runs; their CPU times."""
    base = [sys.executable, "-m", "packlint", "check", "--no-cache", "-j", "1", "--quiet", "."]
    per_file: list[float] = []
    project: list[float] = []
    for round_ in range(runs):
        order = [(per_file, base), (project, [*base, "--project"])]
        for times, command in order if round_ % 2 == 0 else reversed(order):
            times.append(cpu_of(command, corpus))
        log(f"  round {round_ + 1}: per-file {per_file[-1]:.2f} s, --project {project[-1]:.2f} s")
    return per_file, project


# Run in a fresh interpreter: the stage split of one mode over the corpus (the files on stdin).
STAGE_PROBE = r"""
import json, sys, time
from dataclasses import replace
from packlint.config import Settings
from packlint.engine import Plan, admission, check_source
from packlint.project import store
files, project = json.load(sys.stdin)
settings = Settings(root=".").but(project=project)
base = Plan.from_settings(settings)
admit = check = 0.0
own = cross = 0
for path in files:
    with open(path, "rb") as handle:
        data = handle.read()
    start = time.process_time()
    passed, _, only = admission(data, path, base) if not path.endswith(".ipynb") else (True, (), False)
    admit += time.process_time() - start
    if not passed:
        continue
    own, cross = (own, cross + 1) if only else (own + 1, cross)
    start = time.process_time()
    check_source(data, path, settings, replace(base, prefilter=False, cross_file_only=only))
    check += time.process_time() - start
print(json.dumps({"own": own, "cross": cross, "prefilter": admit, "check": check,
                  "summaries": store.COUNTS["computed"]}))
"""


def stages(corpus: Path, files: list[str], project: bool) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", STAGE_PROBE], input=json.dumps([files, project]), capture_output=True, text=True,
        cwd=corpus,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"stage probe failed: {result.stderr[-2000:]}")
    return dict(json.loads(result.stdout))


def files_of(corpus: Path) -> list[str]:
    """The files packlint checks in `corpus`, relative to it."""
    probe = "import json;from packlint.config import Settings;from packlint.discover import discover;"
    probe += "print(json.dumps(sorted(discover(['.'], Settings(root='.'))[0])))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=corpus, capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def edited_rerun(corpus: Path, runs: int) -> tuple[list[float], list[float]]:
    """A warm `--project` run after one imported file is edited: with the summary store kept, and with
    it emptied (the result cache kept in both). Picks the most-imported module holding a pack call."""
    with tempfile.TemporaryDirectory() as cache:
        base = [sys.executable, "-m", "packlint", "check", "-j", "1", "--quiet", "--project", "--cache-dir", cache, "."]
        target = _edit_target(corpus)
        if target is None:
            return [], []
        original = target.read_bytes()
        kept: list[float] = []
        emptied: list[float] = []
        try:
            cpu_of(base, corpus)  # fill both caches
            for round_ in range(runs):
                for times, empty in ((kept, False), (emptied, True)):
                    target.write_bytes(original + f"\n# edit {round_} {empty}\n".encode())
                    if empty:
                        for folder in Path(cache).rglob("summaries"):
                            shutil.rmtree(folder, ignore_errors=True)
                    times.append(cpu_of(base, corpus))
        finally:
            target.write_bytes(original)
        return kept, emptied


def _edit_target(corpus: Path) -> Path | None:
    for path in sorted(corpus.rglob("*.py")):
        if path.name != "__init__.py" and b"pack_padded_sequence" in path.read_bytes():
            return path
    return None


def report(name: str, corpus: Path, runs: int, edits: bool) -> None:
    files = files_of(corpus)
    per_file, project = cold(corpus, runs)
    ratios = [p / f - 1 for p, f in zip(project, per_file)]
    print(f"\n## {name}: {len(files)} files\n")
    print("| cold `check --no-cache -j 1` | CPU s min / median / max |")
    print("|---|---:|")
    print(f"| per-file | {spread(per_file)} |")
    print(f"| `--project` | {spread(project)} |")
    median = statistics.median(ratios)
    print(f"| extra, round by round | {min(ratios):+.1%} / {median:+.1%} / {max(ratios):+.1%} |")
    verdict = "yes" if median <= TARGET else "no"
    print(f"\nWithin the {TARGET:.0%} target for default-on: {verdict} (median {median:+.1%})\n")
    split = {mode: stages(corpus, files, mode) for mode in (False, True)}
    print("| one process | files analysed (cross-file only) | prefilter s | checks s | summaries computed |")
    print("|---|---:|---:|---:|---:|")
    for mode, label in ((False, "per-file"), (True, "`--project`")):
        s = split[mode]
        analysed = int(s["own"] + s["cross"])
        cells = [f"{analysed} ({int(s['cross'])})", f"{s['prefilter']:.2f}", f"{s['check']:.2f}"]
        cells.append(str(int(s["summaries"])))
        print(f"| {label} | {' | '.join(cells)} |")
    if edits:
        kept, emptied = edited_rerun(corpus, max(1, runs // 2))
        if kept:
            print("\nWarm `--project` run after editing one module that packs (CPU s min / median / max): ")
            print(f"summaries kept on disk {spread(kept)}; summary store emptied first {spread(emptied)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", help="torch, vcs (/work/corpus_vcs), or a directory")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "packlint-project-bench")
    parser.add_argument("--no-edits", action="store_true", help="skip the edited-file warm runs")
    args = parser.parse_args(argv)
    # A copy of packlint as it is now: edits made while this runs change neither what it measures nor, through
    # packlint's code fingerprint, the cache it fills.
    snapshot = Path(tempfile.mkdtemp(prefix="packlint-snapshot-"))
    shutil.copytree(REPO / "packlint", snapshot / "packlint", ignore=shutil.ignore_patterns("__pycache__"))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(snapshot), os.environ.get("PYTHONPATH", "")]))
    chosen = args.corpus or ["torch", "vcs"]
    for name in chosen:
        if name == "torch":
            corpus = torch_copy(args.work)
        elif name == "vcs":
            if not VCS_CORPUS.is_dir():
                log(f"{VCS_CORPUS} is not here: skipped")
                continue
            corpus = VCS_CORPUS
        else:
            corpus = Path(name).resolve()
        log(f"{name}: {corpus}")
        report(name, corpus, args.runs, not args.no_edits and corpus != VCS_CORPUS)


if __name__ == "__main__":
    main()
