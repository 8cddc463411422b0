"""What a local name holds, as far as a careful reader of the function knows it."""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, field


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
    OUTPUT = "output"  # `out` of `out, _ = pad_packed_sequence(y)` or of `out, h = rnn(padded)`
    STATE = "state"  # `h_n` of `out, (h_n, c_n) = lstm(x)`
    TENSOR = "tensor"  # another tensor whose batch order we follow: `logits = self.fc(h_n[-1])`
    TUPLE = "tuple"  # a result that unpacks: `lstm(x)` gives `(out, (h, c))`
    OPTIMIZER = "optimizer"  # `torch.optim.Adam(model.parameters())`
    DEVICE = "device"  # `torch.device("cuda")`, `x.device`
    SELF = "self"  # the first parameter of a method
    NUMBER = "number"  # `1`, `-1`: a plain constant


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


IDENTITY = ""  # the perm of a value still in the order it had when the function began


@dataclass(frozen=True)
class Value:
    """One value as the analysis knows it; every field that is not known keeps its default."""

    kind: Kind = Kind.UNKNOWN
    label: str = ""  # source text or name, for messages
    container: str | None = None  # "list", "tensor" or "numpy" for LENGTHS/SEQS/PERM
    order: Order = Order.UNKNOWN
    perm: str | None = None  # IDENTITY, a permutation token, or None (unknown)
    device: Device = Device.UNKNOWN
    batch_first: bool | None = None  # layout of BATCH/OUTPUT, flag of an RNN
    bidirectional: bool | None = None
    rnn_type: str | None = None  # "LSTM", "GRU" or "RNN"
    padded: bool = False  # OUTPUT/STATE: steps past a sequence's end were padding
    left_padded: bool = False  # BATCH: `pad_sequence(seqs, padding_side="left")`, the last step is real
    call: ast.Call | None = field(default=None, compare=False)  # the RNN call behind OUTPUT/STATE
    from_rnn: bool = False  # computed from an RNN's results
    origin: int | None = None  # identity of the lengths a PERM sorts, or of a LENGTHS value
    negated: bool = False  # `-lengths`
    mask: bool = False  # `x != pad`: summing it gives lengths
    sort_key: str | None = None  # SEQS sorted by this key (canonical source of `key=`)
    sort_site: int | None = None  # index in FileFacts.sorts of the sort that gave `order`
    items: tuple[Value, ...] = ()
    qualname: str | None = None  # REF: the torch object's dotted name
    lengths_name: str | None = None  # OUTPUT: a lengths name that goes with it
    lengths_container: str | None = None
    binding: int | None = None  # the binding this value was read from
    param: bool = False
    model: str | None = None  # OPTIMIZER: source of the model whose parameters it steps
    blank_of: str | None = None  # `torch.empty_like(perm)`: a tensor about to hold perm's inverse
    root: str | None = None  # the parameter or first local this value was derived from

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
    def is_tensor_like(self) -> bool:
        """Whether this is (as far as we know) a torch tensor and not a Python list."""
        if self.kind in (Kind.BATCH, Kind.OUTPUT, Kind.STATE, Kind.TENSOR):
            return True
        return self.kind in (Kind.LENGTHS, Kind.PERM) and self.container == "tensor"


UNKNOWN = Value()


def merge(a: Value | None, b: Value | None) -> Value:
    """What is known of a name after two paths that bound it to `a` and `b`."""
    if a is None or b is None:
        return UNKNOWN
    if a is b or a == b:
        return a
    if a.kind is not b.kind or a.kind in (Kind.TUPLE, Kind.REF):
        return UNKNOWN
    return Value(
        kind=a.kind,
        label=a.label if a.label == b.label else "",
        container=a.container if a.container == b.container else None,
        order=a.order if a.order is b.order else Order.UNKNOWN,
        perm=a.perm if a.perm == b.perm else None,
        device=a.device if a.device is b.device else Device.UNKNOWN,
        batch_first=a.batch_first if a.batch_first == b.batch_first else None,
        bidirectional=a.bidirectional if a.bidirectional == b.bidirectional else None,
        rnn_type=a.rnn_type if a.rnn_type == b.rnn_type else None,
        padded=a.padded and b.padded,
        left_padded=a.left_padded or b.left_padded,
        from_rnn=a.from_rnn and b.from_rnn,
        origin=a.origin if a.origin == b.origin else None,
        root=a.root if a.root == b.root else None,
    )
