"""Compare what a fixture returned with what correct packing gives, kind by kind."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from packlint.runtime.contract import IGNORED, Result
from packlint.runtime.reference import Expected


class StructureError(Exception):
    """The returned value does not have the shape of the header's result pattern (a contract error)."""


@dataclass(frozen=True)
class Gap:
    """The largest absolute difference found, and where (inf when shapes or sequences differ)."""

    error: float
    note: str = ""


def compare(pattern: Result, value: object, expected: Expected, batch_first: bool, packed_order: str = "batch") -> Gap:
    """The gap between `value` and the expectation for `pattern`; StructureError on a contract mismatch."""
    pairs = list(_pairs(pattern, value, "result"))
    order = None
    perm: Tensor | None = None
    for kind, item, _ in pairs:
        if kind == "perm":
            order, problem = _inverse(item, len(expected.lengths))
            if problem:
                return Gap(math.inf, problem)
            perm = _as_tensor(item, "perm").long()
    order, gap = _packed_order(pattern, pairs, expected, perm, order, packed_order == "any")
    if gap is not None:
        return gap
    found = [_compare_kind(kind, item, where, expected, batch_first, order) for kind, item, where in pairs]
    gaps = [g for g in found if g is not None]
    if not gaps:
        return Gap(0.0)
    return max(gaps, key=lambda g: g.error)


_PACKED = ("packed", "packed_out")
_ORDER_FREE = ("perm", "loss", *_PACKED)  # kinds that carry no batch order of their own to compare with


def _packed_order(
    pattern: Result,
    pairs: list[tuple[str, object, str]],
    expected: Expected,
    perm: Tensor | None,
    order: Tensor | None,
    any_order: bool,
) -> tuple[Tensor | None, Gap | None]:
    """The order of the rows inside returned PackedSequences, checked, not only their set.

    Row j of a PackedSequence (after its own unsort) must be: sequence `perm[j]` when a perm is
    returned; in one order shared with every other batch-ordered value returned (which are then
    compared after undoing it); free only when a value the header ignores may carry that order, or
    the header says `packed_order=any` (a collate that hands its caller a sorted batch on purpose);
    and otherwise the caller's batch order. A PackedSequence rebuilt without its sort indices fails
    here: its rows come back in sorted order."""
    rows: list[tuple[str, list[int]]] = []
    for kind, item, _ in pairs:
        if kind in _PACKED and isinstance(item, PackedSequence):
            wanted = expected.inputs if kind == "packed" else expected.outputs
            if wanted is None:
                continue
            sigma = _row_sources(_unpacked(item), wanted)
            if sigma is None:
                return order, None  # not the same sequences: the set comparison says why
            rows.append((kind, sigma))
    if not rows:
        return order, None
    size = len(expected.lengths)
    if perm is not None:
        target = perm.tolist()
    elif any(kind not in _ORDER_FREE for kind, _, _ in pairs):
        target = rows[0][1]
        order = torch.tensor(target).argsort()
    elif any_order or _ignores_something(pattern):
        target = rows[0][1]
    else:
        target = list(range(size))
    for kind, sigma in rows:
        if not _same_rows(sigma, target, expected):
            return order, Gap(math.inf, f"{kind}: rows hold sequences {sigma}, expected {target}")
    return order, None


def _row_sources(actual: list[Tensor], wanted: Sequence[Tensor]) -> list[int] | None:
    """For each row, the index of the wanted sequence it holds (closest of the same length)."""
    if len(actual) != len(wanted):
        return None
    left = list(range(len(wanted)))
    sources = []
    for row in actual:
        candidates = [i for i in left if wanted[i].shape == row.shape]
        if not candidates:
            return None
        best = min(candidates, key=lambda i: _distance(row, wanted[i]))
        left.remove(best)
        sources.append(best)
    return sources


def _distance(a: Tensor, b: Tensor) -> float:
    return float((a - b.to("cpu", torch.float64)).abs().max()) if a.numel() else 0.0


def _same_rows(sigma: list[int], target: list[int], expected: Expected) -> bool:
    """Whether two row orders hold equal sequences row by row (equal sequences may trade places)."""
    inputs = expected.inputs
    return len(sigma) == len(target) and all(
        a == b or (inputs[a].shape == inputs[b].shape and _distance(inputs[a].double(), inputs[b]) == 0.0)
        for a, b in zip(sigma, target)
    )


def _ignores_something(pattern: Result) -> bool:
    if isinstance(pattern, str):
        return pattern == IGNORED
    return any(_ignores_something(p) for p in pattern)


def _pairs(pattern: Result, value: object, where: str) -> Iterator[tuple[str, object, str]]:
    if isinstance(pattern, str):
        if pattern != IGNORED:
            yield pattern, value, where
        return
    if not isinstance(value, (tuple, list)) or len(value) != len(pattern):
        got = f"a {len(value)}-tuple" if isinstance(value, (tuple, list)) else type(value).__name__
        raise StructureError(f"{where}: the header expects a {len(pattern)}-tuple, got {got}")
    for i, (p, v) in enumerate(zip(pattern, value)):
        yield from _pairs(p, v, f"{where}[{i}]")


def _as_tensor(value: object, where: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().to("cpu", torch.float64)
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # `loss.item()`
        return torch.tensor(float(value), dtype=torch.float64)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return torch.tensor(value, dtype=torch.float64)
    raise StructureError(f"{where}: expected a tensor, got {type(value).__name__}")


def _inverse(value: object, size: int) -> tuple[Tensor | None, str]:
    perm = _as_tensor(value, "perm").long()
    if perm.dim() != 1 or sorted(perm.tolist()) != list(range(size)):
        return None, f"perm {perm.tolist()} is not a permutation of the batch"
    return perm.argsort(), ""


def _reordered(tensor: Tensor, order: Tensor | None, dim: int) -> Tensor:
    if order is None or tensor.dim() <= dim or tensor.size(dim) != order.numel():
        return tensor
    return tensor.index_select(dim, order)


def _gap(kind: str, actual: Tensor, wanted: Tensor) -> Gap:
    if actual.shape != wanted.shape:
        return Gap(math.inf, f"{kind}: shape {tuple(actual.shape)}, expected {tuple(wanted.shape)}")
    if actual.numel() == 0:
        return Gap(0.0)
    return Gap(float((actual - wanted.to("cpu", torch.float64)).abs().max()), kind)


def _compare_kind(
    kind: str, value: object, where: str, expected: Expected, batch_first: bool, order: Tensor | None
) -> Gap | None:
    if kind == "perm":
        return None
    head = kind.startswith("head(")
    base = kind[len("head(") : -1] if head else kind
    if base != kind or kind == "loss":
        return _compare_headed(base if head else kind, value, where, expected, batch_first, order)
    if kind in ("packed", "packed_out"):
        if not isinstance(value, PackedSequence):
            raise StructureError(f"{where}: `{kind}` expects a PackedSequence, got {type(value).__name__}")
        wanted = expected.inputs if kind == "packed" else expected.outputs
        assert wanted is not None
        return _match_sequences(kind, _unpacked(value), wanted)
    if kind == "h_n":
        return _compare_state(value, where, expected, order)
    actual = _as_tensor(value, where)
    if kind == "outputs":
        assert expected.outputs is not None
        return _compare_outputs(actual if batch_first else actual.transpose(0, 1), expected.outputs, order)
    actual = _reordered(actual, order, 0)
    if kind == "last":
        return _gap(kind, actual, expected.last)
    if kind == "repr":
        return _gap(kind, actual, expected.representation)
    if kind == "labels":
        assert expected.labels is not None
        return _gap(kind, actual, expected.labels.double())
    if kind == "lengths":
        return _gap(kind, actual, torch.tensor(expected.lengths, dtype=torch.float64))
    raise StructureError(f"{where}: `{kind}` is not compared by this entry")


def _compare_headed(
    base: str, value: object, where: str, expected: Expected, batch_first: bool, order: Tensor | None
) -> Gap:
    """`head(outputs)`, `head(last)`, `head(repr)` and `loss`: the expectation passed through the head."""
    actual = _as_tensor(value, where)
    if base == "outputs":
        assert expected.outputs is not None
        wanted = [expected.through_head(out) for out in expected.outputs]
        return _compare_outputs(actual if batch_first else actual.transpose(0, 1), wanted, order, "head(outputs)")
    if base == "loss":
        return _gap("loss", actual, expected.loss)
    source = expected.last if base == "last" else expected.representation
    return _gap(f"head({base})", _reordered(actual, order, 0), expected.through_head(source))


def _unpacked(packed: PackedSequence) -> list[Tensor]:
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    return [padded[i, :n].detach().to("cpu", torch.float64) for i, n in enumerate(lengths.tolist())]


def _match_sequences(kind: str, actual: list[Tensor], wanted: Sequence[Tensor]) -> Gap:
    """A PackedSequence may hold the batch in any order (a collate may sort it): match sequences."""
    if len(actual) != len(wanted):
        return Gap(math.inf, f"{kind}: {len(actual)} sequences, expected {len(wanted)}")
    left = list(actual)
    worst = Gap(0.0, kind)
    for want in wanted:
        want = want.to("cpu", torch.float64)
        candidates = [a for a in left if a.shape == want.shape]
        if not candidates:
            have = sorted(len(a) for a in left)
            return Gap(math.inf, f"{kind}: no sequence of length {len(want)} (lengths {have})")
        best = min(candidates, key=lambda a: float((a - want).abs().max()) if a.numel() else 0.0)
        left = [a for a in left if a is not best]
        error = float((best - want).abs().max()) if best.numel() else 0.0
        if error > worst.error:
            worst = Gap(error, kind)
    return worst


def _compare_outputs(actual: Tensor, wanted: Sequence[Tensor], order: Tensor | None, kind: str = "outputs") -> Gap:
    actual = _reordered(actual, order, 0)
    longest = max(len(w) for w in wanted)
    width = wanted[0].shape[-1]
    if actual.dim() != 3 or actual.size(0) != len(wanted) or actual.size(1) < longest or actual.size(2) != width:
        shape = (len(wanted), longest, width)
        return Gap(math.inf, f"{kind}: shape {tuple(actual.shape)}, expected {shape} (batch-first view)")
    error = max(float((actual[i, : len(w)] - w.to("cpu", torch.float64)).abs().max()) for i, w in enumerate(wanted))
    return Gap(error, kind)


def _compare_state(value: object, where: str, expected: Expected, order: Tensor | None) -> Gap:
    assert expected.h_n is not None
    if isinstance(value, tuple) and expected.c_n is not None:
        if len(value) != 2:
            raise StructureError(f"{where}: an LSTM state is (h_n, c_n), got a {len(value)}-tuple")
        h = _reordered(_as_tensor(value[0], where), order, 1)
        c = _reordered(_as_tensor(value[1], where), order, 1)
        return max(_gap("h_n", h, expected.h_n), _gap("c_n", c, expected.c_n), key=lambda g: g.error)
    return _gap("h_n", _reordered(_as_tensor(value, where), order, 1), expected.h_n)


def alone_gap(value: object, rows: Sequence[object]) -> Gap:
    """`-> alone`: row i of the batch's result against the result of a batch of sequence i alone.

    A per-step result (`[B, T, ...]` batched, `[1, L_i, ...]` alone) is compared up to each length."""
    if not isinstance(value, Tensor) or not all(isinstance(r, Tensor) for r in rows):
        raise StructureError("`alone` compares tensors: the entry must return one tensor with a row per sequence")
    if value.dim() == 0 or value.size(0) != len(rows):
        return Gap(math.inf, f"the result has {value.size(0) if value.dim() else 0} rows for {len(rows)} sequences")
    worst = Gap(0.0)
    for i, row in enumerate(rows):
        assert isinstance(row, Tensor)
        batched = value[i]
        if row.dim() == value.dim() and row.dim() >= 2 and row.shape[2:] == value.shape[2:]:
            batched = batched[: row.size(1)]  # per-step: the steps of sequence i, not its padding
        if row.dim() == 0 or row.size(0) != 1 or row.shape[1:] != batched.shape:
            return Gap(math.inf, f"sequence {i} alone gives shape {tuple(row.shape)}, batched {tuple(value.shape)}")
        error = float((batched.detach().double() - row[0].detach().double()).abs().max())
        if error > worst.error:
            worst = Gap(error, f"row {i} differs from sequence {i} run alone")
    return worst
