"""Queries over finished facts that more than one rule asks."""

from __future__ import annotations

from packlint.facts.events import SubscriptRead
from packlint.facts.file_facts import FileFacts
from packlint.facts.syntax import index_pattern
from packlint.facts.values import Kind

BATCH_FIRST_LAST = frozenset({(":", -1), (":", -1, ":")})
TIME_FIRST_LAST = frozenset({(-1,), (-1, ":"), (-1, ":", ":")})


def last_step(facts: FileFacts, read: SubscriptRead) -> bool:
    """Whether `read` takes the last time step of a RNN output of known layout."""
    base = read.base
    if base.kind is not Kind.OUTPUT or base.batch_first is None:
        return False
    if base.call is not None and facts.in_loop(base.call):
        # A step-by-step decoder: each call sees one step (a whole padded batch is another matter).
        inputs = [c.input.kind for c in facts.rnn_calls if c.node is base.call]
        if not inputs or inputs[0] not in (Kind.BATCH, Kind.OUTPUT):
            return False
    pattern = index_pattern(read.node)
    return pattern in (BATCH_FIRST_LAST if base.batch_first else TIME_FIRST_LAST)
