"""The join of two paths' values: every field declares how it joins, and the join obeys its laws."""

from __future__ import annotations

import ast
import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from packlint.facts import IDENTITY, Device, Kind, Order, Perm, Value
from packlint.facts.values import JOINS, UNKNOWN, Join, join

# A value for each field that differs from its default, to build values that disagree in one field.
_OTHER: dict[str, object] = {
    "kind": Kind.LENGTHS,
    "label": "lengths",
    "container": "tensor",
    "order": Order.DESCENDING,
    "perm": Perm.of("lengths.sort(descending=True)@3"),
    "device": Device.CPU,
    "batch_first": True,
    "bidirectional": True,
    "num_layers": 2,
    "rnn_type": "LSTM",
    "padded": True,
    "right_padded": True,
    "call": ast.Call(func=ast.Name(id="rnn"), args=[], keywords=[]),
    "from_rnn": True,
    "origin": 7,
    "negated": True,
    "mask": True,
    "sort_key": "len",
    "sort_site": 0,
    "items": (Value(Kind.OUTPUT),),
    "qualname": "torch.nn.LSTM",
    "literal": True,
    "lengths_name": "lengths",
    "lengths_container": "list",
    "binding": 3,
    "param": True,
    "model": "model",
    "blank_of": Perm.of("torch.randperm(n)@2"),
    "root": "batch",
}


def test_every_field_declares_its_join() -> None:
    declared = {name for name, _, _ in JOINS}
    for f in dataclasses.fields(Value):
        assert "join" in f.metadata, f"Value.{f.name} does not say how it joins"
        assert isinstance(f.metadata["join"], Join)
    assert declared == {f.name for f in dataclasses.fields(Value)}
    assert set(_OTHER) == declared, "add the new field to _OTHER so that its join is tested"


def test_each_field_joins_as_declared() -> None:
    """Two values that differ in one field only: the join keeps or drops that field as it declares,
    and keeps every other field."""
    base = Value(Kind.TENSOR, label="x", perm=IDENTITY, device=Device.ACCELERATOR, root="x")
    for name, how, default in JOINS:
        if name == "kind":
            continue
        a = base.but(**{name: _OTHER[name]})
        b = base.but(**{name: getattr(base, name)})
        joined = join(a, b)
        for other, _, _ in JOINS:
            if other != name:
                assert getattr(joined, other) == getattr(base, other), (name, other)
        value = getattr(joined, name)
        if how is Join.AGREE:
            assert value == default, name
        elif how is Join.ALL:
            assert value == (_OTHER[name] and getattr(base, name)), name
        elif how is Join.ITEMS:
            assert value == default, name  # tuples of different lengths
        # The same field on both paths survives the join, whatever it is.
        same = join(a, a.but())
        assert getattr(same, name) == getattr(a, name), name


def test_kinds_that_differ_join_to_unknown() -> None:
    assert join(Value(Kind.LENGTHS, order=Order.UNSORTED), Value(Kind.TENSOR, order=Order.UNSORTED)) is UNKNOWN


def test_tuples_join_item_by_item() -> None:
    out = Value(Kind.OUTPUT, batch_first=True, padded=True)
    a = Value(Kind.TUPLE, items=(out, Value(Kind.STATE, bidirectional=True)))
    b = Value(Kind.TUPLE, items=(out, Value(Kind.STATE, bidirectional=False)))
    joined = join(a, b)
    assert joined.items[0] == out
    assert joined.items[1] == Value(Kind.STATE)


_perms = st.one_of(
    st.none(),
    st.just(IDENTITY),
    st.sampled_from(["a@1", "b@2"]).map(Perm.of),
    st.sampled_from(["a@1", "b@2"]).map(lambda t: Perm.of(t).inverse()),
)
_leaf = st.builds(
    Value,
    kind=st.sampled_from([Kind.UNKNOWN, Kind.LENGTHS, Kind.TENSOR, Kind.OUTPUT, Kind.REF]),
    label=st.sampled_from(["", "x", "lengths"]),
    order=st.sampled_from(list(Order)),
    perm=_perms,
    device=st.sampled_from(list(Device)),
    batch_first=st.sampled_from([None, True, False]),
    padded=st.booleans(),
    right_padded=st.booleans(),
    from_rnn=st.booleans(),
    mask=st.booleans(),
    param=st.booleans(),
    literal=st.sampled_from([None, True, 1]),
    root=st.sampled_from([None, "x", "batch"]),
)
values = st.one_of(
    _leaf,
    st.lists(_leaf, min_size=1, max_size=3).map(lambda items: Value(Kind.TUPLE, items=tuple(items))),
)


@given(values, values)
def test_join_is_commutative(a: Value, b: Value) -> None:
    assert join(a, b) == join(b, a)


@given(values)
def test_join_is_idempotent(a: Value) -> None:
    assert join(a, a) == a
    assert join(a, a.but()) == a


@given(values)
def test_unknown_absorbs(a: Value) -> None:
    assert join(a, UNKNOWN) == UNKNOWN
    assert join(UNKNOWN, a) == UNKNOWN
    assert join(a, None) == UNKNOWN
    assert join(a, Value()) == UNKNOWN  # an equal copy, not the same object


@given(values, values, values)
def test_join_is_associative(a: Value, b: Value, c: Value) -> None:
    assert join(join(a, b), c) == join(a, join(b, c))
