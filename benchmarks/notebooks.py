"""Real notebooks: every one reads, round-trips byte for byte, and a fix touches only the cells it changes.

    python benchmarks/notebooks.py [DIRECTORY ...]   (default: /work/corpus/notebooks, else /work/corpus)

Prints one line per notebook with a finding, then the totals; exits 1 if any notebook breaks a promise:
- splicing every cell's own source back gives the identical text;
- a check that offers no fix leaves `new_source` unset (the file would not be written);
- with every fix applied (`--unsafe-fixes`), the new text differs from the old only inside the "source"
  values of the cells whose source changed, the new document is valid JSON, and every changed code cell
  still parses once its IPython syntax is masked.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
from pathlib import Path

from packlint.config import Settings
from packlint.engine import check_source
from packlint.notebook import Notebook, NotebookError, is_python_cell, mask_ipython, splice_sources

DEFAULT = ("/work/corpus/notebooks", "/work/corpus")


def notebooks(directories: list[str]) -> list[Path]:
    """Every .ipynb under the directories, outside checkpoints."""
    found: list[Path] = []
    for directory in directories:
        found.extend(p for p in Path(directory).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return sorted(set(found))


def outside_sources_identical(old: Notebook, new_text: str) -> bool:
    """Whether `new_text` equals the old text everywhere outside the "source" values that changed."""
    new = Notebook.parse(new_text.encode("utf-8"))
    at_old = at_new = 0
    for a, b in zip(old.cells, new.cells):
        if old.text[at_old : a.span[0]] != new_text[at_new : b.span[0]]:
            return False
        if a.source == b.source and old.text[a.span[0] : a.span[1]] != new_text[b.span[0] : b.span[1]]:
            return False
        at_old, at_new = a.span[1], b.span[1]
    return len(old.cells) == len(new.cells) and old.text[at_old:] == new_text[at_new:]


def main(argv: list[str]) -> int:
    directories = argv or [d for d in DEFAULT if os.path.isdir(d)][:1]
    paths = notebooks(directories)
    settings = Settings(select=("ALL",))
    totals = {"notebooks": 0, "cells": 0, "code cells": 0, "masked lines": 0, "skipped cells": 0}
    broken: list[str] = []
    unreadable = diagnostics = fixed_notebooks = cell_errors = 0
    check_seconds = fix_seconds = 0.0
    for path in paths:
        data = path.read_bytes()
        try:
            parsed = Notebook.parse(data)
        except NotebookError as exc:
            unreadable += 1
            print(f"{path}: unreadable: {exc}")
            continue
        totals["notebooks"] += 1
        totals["cells"] += len(parsed.cells)
        code = [c for c in parsed.cells if c.kind == "code"]
        totals["code cells"] += len(code)
        python = [c for c in code if parsed.python and is_python_cell(c)]
        totals["skipped cells"] += len(code) - len(python)
        counter = [0]
        for cell in python:
            mask_ipython(cell.source, counter)
        totals["masked lines"] += counter[0]
        if splice_sources(parsed, {c.index: c.source for c in parsed.cells}) != parsed.text:
            broken.append(f"{path}: splicing the unchanged sources changed the text")
        start = time.perf_counter()
        checked = check_source(data, str(path), settings)
        check_seconds += time.perf_counter() - start
        diagnostics += len(checked.diagnostics)
        cell_errors += len(checked.errors)
        for error in checked.errors:
            print(f"{path}: {error.reason}")
        for d in checked.diagnostics:
            assert d.cell is not None
            print(f"{path}:cell {d.cell.number}:{d.location.row}:{d.location.column}: {d.code} {d.message}")
        start = time.perf_counter()
        fixed = check_source(data, str(path), settings.but(fix=True, unsafe_fixes=True))
        fix_seconds += time.perf_counter() - start
        offered = any(d.fix is not None for d in checked.diagnostics)
        if fixed.new_source is None:
            continue
        if not offered:
            broken.append(f"{path}: no fix was offered but the notebook would be rewritten")
        fixed_notebooks += 1
        new_text = fixed.new_source.decode("utf-8-sig")
        try:
            json.loads(new_text)
        except ValueError:
            broken.append(f"{path}: the fixed notebook is not valid JSON")
            continue
        if not outside_sources_identical(parsed, new_text):
            broken.append(f"{path}: the fix changed bytes outside the changed cells' sources")
        for cell in Notebook.parse(fixed.new_source).cells:
            if cell.kind == "code" and is_python_cell(cell):
                try:
                    ast.parse(mask_ipython(cell.source, [0]).text)
                except SyntaxError:
                    if not any(e.reason.startswith(f"cell {cell.index + 1}:") for e in checked.errors):
                        broken.append(f"{path}: cell {cell.index + 1} no longer parses after the fix")
    print()
    print(f"directories: {', '.join(directories) or '(none)'}")
    for name, value in totals.items():
        print(f"{name}: {value}")
    print(f"unreadable notebooks: {unreadable}")
    print(f"cells reported as not parsing: {cell_errors}")
    print(f"diagnostics: {diagnostics}")
    print(f"notebooks a fix would rewrite: {fixed_notebooks}")
    print(f"check: {check_seconds * 1000:.0f} ms in all; fix: {fix_seconds * 1000:.0f} ms in all")
    print(f"broken promises: {len(broken)}")
    for line in broken:
        print(f"  {line}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
