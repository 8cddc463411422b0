"""packlint's own runs collect garbage less often, and leave the collector as they found it."""

from __future__ import annotations

import gc

import pytest

from packlint.collector import ALLOCATIONS, few_collections


def test_the_thresholds_and_the_frozen_objects_are_restored_even_after_an_error() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(RuntimeError), few_collections():
        assert gc.get_threshold()[0] == ALLOCATIONS > before[0]
        assert gc.get_freeze_count() > frozen  # what was loaded is not scanned again
        raise RuntimeError("a failing check")
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


def test_a_cycle_made_inside_is_still_collected() -> None:
    class Node:
        pass

    with few_collections():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        del node
        assert gc.collect() >= 1
