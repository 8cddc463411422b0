"""Fewer garbage collections for the command line's check of many files."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# A collection of the youngest objects waits for this many new ones (Python's default is 700).
ALLOCATIONS = 50_000


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Fewer garbage collections while files are checked. A syntax tree is hundreds of thousands of
    objects, nearly none in a cycle, and the default thresholds scan them (and every module loaded) again
    and again: 10-15 % of a cold run on torch's sources. What is loaded now is never scanned again, and a
    collection waits for many more new objects; both are restored on leaving. Only the command line uses
    it: as a library (the flake8 plugin) packlint leaves the collector as it finds it, and in the server it
    made no measurable difference to a re-lint (median 168 vs 169 ms over stdio)."""
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(ALLOCATIONS, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not frozen:  # unfreezing would also thaw what someone else froze
            gc.unfreeze()
