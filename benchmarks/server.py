"""How long `packlint server` takes to re-lint a 1,000-line file on each change (target: under 50 ms).

    python benchmarks/server.py [--rounds N]

Builds a 1,000-line module from the fixtures' bad and good files (so the rules have work to do), then
times (a) the engine on the editor's text alone, and (b) the editor's view: a `textDocument/didChange`
sent over stdio until its `publishDiagnostics` comes back, through a real `packlint server` process.
Prints the median and the 90th percentile of each.
"""

from __future__ import annotations

import argparse
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


def module(lines: int = 1000) -> str:
    """Whole fixture files, one after another, until there are at least `lines` lines."""
    parts: list[str] = []
    total = 0
    files = sorted(p for p in (ROOT / "fixtures").glob("*/*.py") if not p.name.endswith(".fixed.py"))
    while total < lines:
        for path in files:
            text = path.read_text(encoding="utf-8")
            parts.append(text if text.endswith("\n") else text + "\n")
            total += parts[-1].count("\n")
            if total >= lines:
                break
    return "".join(parts)


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    text = module()
    print(f"document: {text.count(chr(10))} lines, {len(text)} characters")
    settings = Settings()
    check_text(text, "bench.py", settings)  # warm: imports the rules
    engine = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        result = check_text(text, "bench.py", settings)
        engine.append(time.perf_counter() - start)
    print(f"diagnostics: {len(result.diagnostics)}; errors: {len(result.errors)}")
    print(f"engine alone: {percentiles(engine)}")
    with tempfile.TemporaryDirectory() as directory:
        client = Client(Path(directory))
        client.request("initialize", {"processId": None, "rootUri": Path(directory).as_uri(), "capabilities": {}})
        client.notify("initialized", {})
        uri = (Path(directory) / "bench.py").as_uri()
        document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        client.notify("textDocument/didOpen", {"textDocument": document})
        client.diagnostics(uri)
        round_trips = []
        for version in range(2, args.rounds + 2):
            edited = text + f"# edit {version}\n"
            start = time.perf_counter()
            client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": edited}]},
            )
            client.diagnostics(uri)
            round_trips.append(time.perf_counter() - start)
        client.close()
    print(f"didChange to publishDiagnostics over stdio: {percentiles(round_trips)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
