"""What a local name holds, as far as a careful reader of the function knows it, and how two paths join."""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, field, fields

from packlint.facts.perms import Perm


class Kind(enum.Enum):
    """The kinds of values the analysis follows; anything else is UNKNOWN."""

    UNKNOWN = "unknown"
    REF = "ref"  # `R` after `import torch.nn.utils.rnn as R`: a torch object by qualified name
    LENGTHS = "lengths"  # `[len(s) for s in seqs]`, `torch.tensor(lens)`, `(x != pad).sum(1)`
    SEQS = "seqs"  # `[torch.tensor(t) for t in batch]`: a list of sequences
    BATCH = "batch"  # `pad_sequence(seqs, batch_first=True)`: a padded batch
    PERM = "perm"  # `perm` in `lengths, perm = lengths.sort(descending=True)`
    PACKED = "packed"  # `pack_padded_sequence(x, lengths)`
    RNN = "rnn"  # `nn.LSTM(8, 16, bidirectional=True)`
    MODULES = "modules"  # `nn.ModuleList([nn.LSTM(8, 8) for _ in range(2)])`: `items[0]` is every element
    OUTPUT = "output"  # `out` of `out, _ = pad_packed_sequence(y)` or of `out, h = rnn(padded)`
    STATE = "state"  # `h_n` of `out, (h_n, c_n) = lstm(x)`
    TENSOR = "tensor"  # another tensor whose batch order we follow: `logits = self.fc(h_n[-1])`
    TUPLE = "tuple"  # a result that unpacks: `lstm(x)` gives `(out, (h, c))`
    OPTIMIZER = "optimizer"  # `torch.optim.Adam(model.parameters())`
    DEVICE = "device"  # `torch.device("cuda")`, `x.device`
    SELF = "self"  # the first parameter of a method
    NUMBER = "number"  # `1`, `-1`: a plain constant
    FUNCTION = "function"  # `def _sort_batch(x, lengths): ...` in this file: called through its summary


class Order(enum.Enum):
    """What is known of the order of a lengths value (or of a list of sequences by length)."""

    UNKNOWN = "unknown"  # e.g. a parameter: the caller may have sorted it
    UNSORTED = "unsorted"  # built here with no sort on the path: `[len(s) for s in batch]`
    DESCENDING = "descending"  # `lengths.sort(descending=True)`
    ASCENDING = "ascending"  # `torch.sort(lengths)`


class Device(enum.Enum):
    """Where a tensor lives."""

    UNKNOWN = "unknown"
    CPU = "cpu"  # `.cpu()`, `.to("cpu")`, a Python list
    ACCELERATOR = "accelerator"  # `.cuda()`, `.to(device)`, `torch.tensor(x, device=device)`


class Join(enum.Enum):
    """How one field of two values that reach the same point on different paths combines."""

    KIND = "kind"  # the values are of different kinds: nothing is known of the name
    AGREE = "agree"  # kept where both paths agree, else the field's default (unknown)
    ALL = "all"  # a flag that holds only if it holds on every path: `padded`
    ITEMS = "items"  # tuples join item by item when they have the same length


# Field metadata: how each field of Value joins.
KIND: dict[str, Join] = {"join": Join.KIND}
AGREE: dict[str, Join] = {"join": Join.AGREE}
ALL: dict[str, Join] = {"join": Join.ALL}
ITEMS: dict[str, Join] = {"join": Join.ITEMS}


@dataclass(frozen=True)
class Value:
    """One value as the analysis knows it; every field that is not known keeps its default.

    Each field declares in its metadata how it joins (`Join`); `join` is derived from that.
    """

    kind: Kind = field(default=Kind.UNKNOWN, metadata=KIND)
    label: str = field(default="", metadata=AGREE)  # source text or name, for messages
    container: str | None = field(default=None, metadata=AGREE)  # "list", "tensor", "numpy"
    order: Order = field(default=Order.UNKNOWN, metadata=AGREE)
    perm: Perm | None = field(default=None, metadata=AGREE)  # None: unknown order
    device: Device = field(default=Device.UNKNOWN, metadata=AGREE)
    batch_first: bool | None = field(default=None, metadata=AGREE)  # BATCH/OUTPUT layout, RNN flag
    bidirectional: bool | None = field(default=None, metadata=AGREE)
    num_layers: int | None = field(default=None, metadata=AGREE)
    rnn_type: str | None = field(default=None, metadata=AGREE)  # "LSTM", "GRU" or "RNN"
    padded: bool = field(default=False, metadata=ALL)  # OUTPUT/STATE: steps past an end were padding
    # BATCH: padded at the end, so the last step of a shorter sequence is padding. Known only where
    # every path pads on the right: a flag that joins with "or" would not let unknown absorb.
    right_padded: bool = field(default=False, metadata=ALL)
    call: ast.Call | None = field(default=None, metadata=AGREE, compare=False)  # RNN call behind OUTPUT
    from_rnn: bool = field(default=False, metadata=ALL)  # computed from an RNN's results
    origin: int | None = field(default=None, metadata=AGREE)  # lengths a PERM sorts; a LENGTHS' id
    negated: bool = field(default=False, metadata=AGREE)  # `-lengths`
    mask: bool = field(default=False, metadata=ALL)  # `x != pad`: summing it gives lengths
    sort_key: str | None = field(default=None, metadata=AGREE)  # SEQS sorted by this `key=`
    sort_site: int | None = field(default=None, metadata=AGREE)  # FileFacts.sorts index
    items: tuple[Value, ...] = field(default=(), metadata=ITEMS)
    qualname: str | None = field(default=None, metadata=AGREE)  # REF: the torch object's name
    literal: bool | int | float | str | None = field(default=None, metadata=AGREE)  # `True`, `"left"`, `2`
    lengths_name: str | None = field(default=None, metadata=AGREE)  # OUTPUT: lengths that go with it
    lengths_container: str | None = field(default=None, metadata=AGREE)
    binding: int | None = field(default=None, metadata=AGREE)  # the binding it was read from
    param: bool = field(default=False, metadata=ALL)
    model: str | None = field(default=None, metadata=AGREE)  # OPTIMIZER: its model's source
    blank_of: Perm | None = field(default=None, metadata=AGREE)  # `torch.empty_like(perm)`
    root: str | None = field(default=None, metadata=AGREE)  # the parameter or first local behind it

    def but(self, **changes: object) -> Value:
        """A copy with some fields changed."""
        # dataclasses.replace re-runs __init__ over ~30 fields; this is the analysis' hottest copy.
        new = object.__new__(Value)
        new.__dict__.update(self.__dict__)
        for name in changes:
            if name not in self.__dict__:
                raise TypeError(f"Value has no field {name!r}")
        new.__dict__.update(changes)
        return new

    @property
    def is_constant(self) -> bool:
        """A literal: a number, or `True`/`"left"` (kind unknown: a literal says nothing of tensors)."""
        return self.kind is Kind.NUMBER or (self.kind is Kind.UNKNOWN and self.literal is not None)

    @property
    def is_tensor_like(self) -> bool:
        """Whether this is (as far as we know) a torch tensor and not a Python list."""
        if self.kind in (Kind.BATCH, Kind.OUTPUT, Kind.STATE, Kind.TENSOR):
            return True
        return self.kind in (Kind.LENGTHS, Kind.PERM) and self.container == "tensor"


UNKNOWN = Value()

# (name, join, default) for every field, read once from the declarations above.
JOINS: tuple[tuple[str, Join, object], ...] = tuple(
    (f.name, f.metadata["join"], f.default) for f in fields(Value) if "join" in f.metadata
)


def _same(a: object, b: object) -> bool:
    # `call` is an AST node: the same call, not an equal-looking one.
    return a is b or (not isinstance(a, ast.AST) and a == b)


def join(a: Value | None, b: Value | None) -> Value:
    """What is known of a name after two paths that bound it to `a` and `b` (None: not bound)."""
    if a is None or b is None or a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    if (a.kind is Kind.UNKNOWN and a == UNKNOWN) or (b.kind is Kind.UNKNOWN and b == UNKNOWN):
        return UNKNOWN  # a copy of UNKNOWN absorbs too
    if a is b:
        return a
    joined = object.__new__(Value)
    out = joined.__dict__
    da, db = a.__dict__, b.__dict__
    for name, how, default in JOINS:
        x, y = da[name], db[name]
        if how is Join.KIND:
            if x is not y:
                return UNKNOWN
            out[name] = x
        elif how is Join.AGREE:
            out[name] = x if _same(x, y) else default
        elif how is Join.ALL:
            out[name] = x and y
        else:  # Join.ITEMS
            out[name] = tuple(join(i, j) for i, j in zip(x, y)) if len(x) == len(y) else default
    if a.kind is Kind.TUPLE and len(a.items) != len(b.items):
        return UNKNOWN
    return UNKNOWN if joined == UNKNOWN else joined
