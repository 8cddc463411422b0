"""How long `packlint server` takes to re-lint a 1,000-line file on each change (target: under 50 ms).

    python benchmarks/server.py [--edits N] [--seed S]

Builds a 1,000-line module from the fixtures' bad and good files that parse on their own (so the rules
have work to do, as in a file being edited), then makes N different edits of it, each a statement
inserted at a random place that still parses, and times for each:

- the lint alone: what the server runs on a change (`check_text`, no fix edits, no libcst), in wall time
  and in this process's CPU time (the machine may be shared: CPU time is what the lint itself costs);
- the editor's view: `textDocument/didChange` sent over stdio until its `publishDiagnostics` comes back,
  through a real `packlint server` process;
- now and then a code action request on one diagnostic, as an editor sends when the cursor rests on it
  (its quick fix built through libcst on demand; fix-all left for `codeAction/resolve`).

Prints the minimum, median, 90th percentile and maximum of each.
"""

from __future__ import annotations

import argparse
import ast
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from packlint.config import Settings  # noqa: E402
from packlint.server import check_text  # noqa: E402
from tests.test_server import Client  # noqa: E402


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def module(lines: int = 1000) -> str:
    """Whole fixture files that parse, one after another, until there are at least `lines` lines."""
    parts: list[str] = []
    total = 0
    files = sorted(p for p in (ROOT / "fixtures").glob("*/*.py") if not p.name.endswith(".fixed.py"))
    texts = [t if t.endswith("\n") else t + "\n" for t in (p.read_text(encoding="utf-8") for p in files)]
    texts = [t for t in texts if parses(t)]  # PKL010's pasted spaces would make the whole module not parse
    while total < lines:
        for text in texts:
            parts.append(text)
            total += text.count("\n")
            if total >= lines:
                break
    return "".join(parts)


def edits(text: str, count: int, seed: int) -> list[str]:
    """`count` versions of `text`, each with one statement inserted at a random line, that still parse."""
    rng = random.Random(seed)
    lines = text.splitlines(keepends=True)
    versions: list[str] = []
    while len(versions) < count:
        row = rng.randrange(len(lines))
        line = lines[row]
        if not line.strip():
            continue
        indent = line[: len(line) - len(line.lstrip())]
        edited = "".join([*lines[:row], f"{indent}edit_{len(versions)} = {rng.randrange(100)}\n", *lines[row:]])
        if parses(edited):
            versions.append(edited)
    return versions


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"min {ordered[0] * 1000:.1f} ms, median {statistics.median(ordered) * 1000:.1f} ms, "
        f"p90 {p90 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms (n={len(ordered)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    text = module()
    versions = edits(text, args.edits, args.seed)
    print(f"document: {text.count(chr(10))} lines, {len(text)} characters; {len(versions)} edits")
    settings = Settings()
    result = check_text(text, "bench.py", settings)  # warm: imports the rules
    print(f"diagnostics: {len(result.diagnostics)}; errors: {len(result.errors)}")
    wall, cpu = [], []
    for edited in versions:
        start, start_cpu = time.perf_counter(), time.process_time()
        check_text(edited, "bench.py", settings)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(f"lint alone, wall: {percentiles(wall)}")
    print(f"lint alone, CPU:  {percentiles(cpu)}")
    with tempfile.TemporaryDirectory() as directory:
        client = Client(Path(directory))
        # As VS Code does: code actions are resolved (fix-all's edit is built when the user picks it).
        capabilities = {"textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]}}}}
        root = Path(directory).as_uri()
        client.request("initialize", {"processId": None, "rootUri": root, "capabilities": capabilities})
        client.notify("initialized", {})
        uri = (Path(directory) / "bench.py").as_uri()
        document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        client.notify("textDocument/didOpen", {"textDocument": document})
        client.diagnostics(uri)
        round_trips, actions = [], []
        for version, edited in enumerate(versions, start=2):
            start = time.perf_counter()
            client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": edited}]},
            )
            published = client.diagnostics(uri)
            round_trips.append(time.perf_counter() - start)
            if version % 5 == 2 and published:  # now and then the cursor rests on a diagnostic
                shown = published[version % len(published)]
                start = time.perf_counter()
                client.request(
                    "textDocument/codeAction",
                    {"textDocument": {"uri": uri}, "range": shown["range"], "context": {"diagnostics": [shown]}},
                )
                actions.append(time.perf_counter() - start)
        client.close()
    print(f"didChange to publishDiagnostics over stdio: {percentiles(round_trips)}")
    print(f"codeAction on one diagnostic (its fix built through libcst): {percentiles(actions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
