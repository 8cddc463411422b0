"""packlint on the real-world corpus: every report against the recorded verdicts, and precision per rule.

    python benchmarks/realworld.py                    # corpus in /work/corpus, plus torch's installed sources
    python benchmarks/realworld.py /path/to/corpus --no-torch -j 2
    python benchmarks/realworld.py /work/corpus3 --no-torch -j 2  # the third held-out corpus (docs/real-world.md)

The corpus is a directory of repositories extracted as <owner>+<name>/ (docs/real-world.md says how it was
built and at which commits). The script runs packlint twice over each repository, with the default rules and
with `--select ALL`, and prints each report with the verdict recorded for it in docs/real-world-verdicts.json
(true, false, unclear) or NEW when nobody has judged it yet; then precision per rule and overall
(true / (true + false), unclear left out, and a conservative figure that counts unclear as false); then the
recorded verdicts that no longer appear: a false report that disappeared is a fix, a true one is a loss.
It needs the fetched corpus, so it is not part of the test suite. Exit status: 0, or 1 if packlint failed.
Run it from the root of the checkout to measure: packlint runs as `python -m packlint` from the current
directory, so that checkout's packlint is the one measured even when another one is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERDICTS = HERE.parent / "docs" / "real-world-verdicts.json"
TORCH = "torch"  # the repo name verdicts use for torch's installed sources
MODES = ("default", "ALL")
KINDS = ("true", "false", "unclear")


@dataclass(frozen=True)
class Key:
    """What identifies a report across runs: the line, not the column, so message tweaks keep their verdict.
    In a notebook the line counts within the cell (1-based cell number, as packlint reports it)."""

    repo: str
    path: str
    line: int
    code: str
    cell: int | None = None


@dataclass(frozen=True)
class Report:
    """One diagnostic packlint printed, and the verdict recorded for it (None: NEW)."""

    key: Key
    column: int
    message: str
    verdict: str | None


@dataclass(frozen=True)
class Target:
    """A directory to check and the name its reports are recorded under."""

    repo: str
    root: Path


def load_verdicts(path: Path) -> dict[Key, tuple[str, str]]:
    """Recorded verdicts by key: (verdict, reason)."""
    table: dict[Key, tuple[str, str]] = {}
    for row in json.loads(path.read_text(encoding="utf-8")):
        cell = row.get("cell")
        key = Key(row["repo"], row["path"], int(row["line"]), row["code"], None if cell is None else int(cell))
        table[key] = (row["verdict"], row["reason"])
    return table


def torch_target() -> Target | None:
    """torch's installed package, found without importing it; None when it is not installed."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    return Target(TORCH, package)


def corpus_targets(corpus: Path) -> list[Target]:
    """Every <owner>+<name> directory of the corpus, in name order."""
    return [
        Target(entry.name.replace("+", "/", 1), entry)
        for entry in sorted(corpus.iterdir(), key=lambda p: p.name.lower())
        if entry.is_dir() and "+" in entry.name
    ]


def relative(target: Target, filename: str) -> str:
    """The report's file as the verdicts name it: inside the repo, or under site-packages for torch."""
    path = Path(filename).resolve()
    base = target.root.parent if target.repo == TORCH else target.root
    try:
        return path.relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def run_packlint(target: Target, mode: str, jobs: int) -> tuple[list[dict[str, object]], str, bool]:
    """packlint's JSON reports for one directory, its stderr, and whether it ran to completion."""
    command = [sys.executable, "-m", "packlint", "check", str(target.root)]
    command += ["--output-format", "json", "--no-cache", "--exit-zero", "-j", str(jobs)]
    if mode == "ALL":
        command += ["--select", "ALL"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        reports = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return [], done.stderr + done.stdout[:2000], False
    # 2 is packlint's "some files could not be checked" (Python 2 sources in the corpus); stderr names them.
    return reports, done.stderr, done.returncode in (0, 2) and isinstance(reports, list)


def known_codes(codes: Iterable[str]) -> set[str]:
    """The codes this checkout's packlint has a rule for (`packlint rule CODE` exits 0)."""
    known = set()
    for code in sorted(set(codes)):
        done = subprocess.run([sys.executable, "-m", "packlint", "rule", code], capture_output=True, check=False)
        if done.returncode == 0:
            known.add(code)
    return known


def judge(target: Target, raw: Iterable[dict[str, object]], verdicts: dict[Key, tuple[str, str]]) -> list[Report]:
    """Each raw report matched against the recorded verdicts."""
    out = []
    for item in raw:
        location = item.get("location")
        if not isinstance(location, dict) or "code" not in item:
            continue  # not a diagnostic with a place (a file packlint could not read): stderr says so
        cell = item.get("cell")
        path = relative(target, str(item["filename"]))
        key = Key(target.repo, path, int(location["row"]), str(item["code"]), cell if isinstance(cell, int) else None)
        found = verdicts.get(key)
        out.append(Report(key, int(location["column"]), str(item["message"]), found[0] if found else None))
    return out


def place(key: Key) -> str:
    """path:line, or path[cell N]:line in a notebook."""
    cell = "" if key.cell is None else f"[cell {key.cell}]"
    return f"{key.path}{cell}:{key.line}"


def precision_lines(reports: Sequence[Report]) -> list[str]:
    """A table of counts and precision per rule and overall."""
    by_rule: dict[str, Counter[str]] = {}
    for report in reports:
        by_rule.setdefault(report.key.code, Counter())[report.verdict or "NEW"] += 1
    total: Counter[str] = Counter()
    for counts in by_rule.values():
        total.update(counts)
    header = f"  {'rule':<8} {'reports':>7} {'true':>5} {'false':>5} {'unclear':>7} {'NEW':>4}"
    lines = [header + "  precision  (unclear=false)"]
    for name, counts in [*sorted(by_rule.items()), ("all", total)]:
        judged = counts["true"] + counts["false"]
        strict = judged + counts["unclear"]
        precision = f"{counts['true'] / judged:.2f}" if judged else "-"
        conservative = f"{counts['true'] / strict:.2f}" if strict else "-"
        lines.append(
            f"  {name:<8} {sum(counts.values()):>7} {counts['true']:>5} {counts['false']:>5} "
            f"{counts['unclear']:>7} {counts['NEW']:>4}  {precision:>9}  {conservative:>14}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the corpus, print the reports with their verdicts, the precision and the vanished verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=Path("/work/corpus"))
    parser.add_argument("--verdicts", type=Path, default=VERDICTS)
    parser.add_argument("--no-torch", action="store_true", help="leave torch's installed sources out")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="packlint's -j for each run")
    args = parser.parse_args(argv)

    if not args.corpus.is_dir():
        print(f"error: no corpus at {args.corpus} (see docs/real-world.md for how to fetch it)", file=sys.stderr)
        return 1
    verdicts = load_verdicts(args.verdicts)
    targets = corpus_targets(args.corpus)
    if not args.no_torch:
        found = torch_target()
        if found is None:
            print("note: torch is not installed; its sources are left out", file=sys.stderr)
        else:
            targets.append(found)

    failed = False
    results: dict[str, list[Report]] = {mode: [] for mode in MODES}
    for target in targets:
        for mode in MODES:
            raw, errors, completed = run_packlint(target, mode, args.jobs)
            failed |= not completed
            for line in errors.splitlines():
                if mode == "default" and line.strip():
                    print(f"[{target.repo}] {line}", file=sys.stderr)
            results[mode].extend(judge(target, raw, verdicts))

    default_keys = {report.key for report in results["default"]}
    print(f"# packlint on {len(targets)} repositories ({args.corpus}{'' if args.no_torch else ' + torch'})\n")
    for report in results["ALL"]:
        where = "default" if report.key in default_keys else "opt-in"
        label = report.verdict or "NEW"
        reason = verdicts[report.key][1] if report.verdict else report.message
        print(
            f"{label:<7} {report.key.code} {where:<7} {report.key.repo}: {place(report.key)}:{report.column}  {reason}"
        )

    for mode in MODES:
        print(f"\n## precision, {'default rules' if mode == 'default' else '--select ALL'}")
        print("\n".join(precision_lines(results[mode])))

    seen = {report.key for report in results["ALL"]}
    checked = {target.repo for target in targets}
    known = known_codes(key.code for key in verdicts)
    unknown = Counter(key.code for key in verdicts if key.code not in known)
    if unknown:
        listed = ", ".join(f"{code} ({count})" for code, count in sorted(unknown.items()))
        print(f"\nverdicts for rules this checkout does not have, left out below: {listed}")
    gone = [
        (key, verdict)
        for key, verdict in verdicts.items()
        if key not in seen and key.repo in checked and key.code in known
    ]
    print(f"\n## recorded verdicts no longer reported: {len(gone)}")
    for key, (verdict, reason) in sorted(
        gone, key=lambda item: (item[0].repo, item[0].path, item[0].cell or 0, item[0].line)
    ):
        meaning = {"false": "fixed false report", "true": "LOST true report"}.get(verdict, "unclear report gone")
        print(f"  {meaning:<18} {key.code} {key.repo}: {place(key)}  ({reason})")
    if failed:
        print("\nerror: packlint did not complete on every repository (see stderr)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
