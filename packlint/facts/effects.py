"""What each modelled torch call does to the values it is given: the effects the API table names.

Each effect takes the evaluator and the call's bound `Arguments` and returns the call's value, or
None where the receiver or arguments are not ones it models (the caller then treats the call as
unknown, which keeps batch order where it can and otherwise knows nothing).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from packlint.facts.events import PackCall, UnpackCall
from packlint.facts.syntax import dotted, sort_key
from packlint.facts.values import UNKNOWN, Device, Kind, Order, Value, join

if TYPE_CHECKING:
    from packlint.facts.calls import CallEvaluator
    from packlint.facts.torch_api import Arguments


# ----------------------------------------------------------------- torch.nn.utils.rnn
def pack_padded(ev: CallEvaluator, a: Arguments) -> Value:
    """`pack_padded_sequence(input, lengths, batch_first, enforce_sorted)`."""
    return pack(ev, a, "pack_padded_sequence", a.value("input"), a.value("lengths"), a.passed("lengths"))


def pack_sequence(ev: CallEvaluator, a: Arguments) -> Value:
    """`pack_sequence(sequences, enforce_sorted)`: the lengths are the sequences' own."""
    seqs = a.value("sequences")
    if seqs.kind in (Kind.SEQS, Kind.LENGTHS) or (seqs.kind is Kind.UNKNOWN and seqs.root):
        order = seqs.order if seqs.kind is not Kind.UNKNOWN else Order.UNKNOWN
        if seqs.sort_key is not None and seqs.sort_key != sort_key(ast.Name(id="len", ctx=ast.Load())):
            order = Order.UNKNOWN
        lengths = Value(Kind.LENGTHS, seqs.label, order=order, perm=seqs.perm, sort_site=seqs.sort_site)
    else:
        lengths = UNKNOWN
    return pack(ev, a, "pack_sequence", seqs, lengths, None)


def pack(
    ev: CallEvaluator, a: Arguments, function: str, x: Value, lengths: Value, lengths_node: ast.expr | None
) -> Value:
    """Record a pack call and give its PackedSequence."""
    ev.facts.uses_rnn_utils = True
    if function == "pack_sequence":
        batch_first: bool | None = True
        batch_first_node: ast.expr | None = None
    else:
        batch_first, batch_first_node = a.flag("batch_first"), a.passed("batch_first")
    index = len(ev.facts.pack_calls)
    call = PackCall(
        a.node,
        function,
        x,
        lengths,
        lengths_node,
        batch_first,
        batch_first_node,
        a.flag("enforce_sorted"),
        a.passed("enforce_sorted"),
        a.opaque,
        index,
    )
    if ev.recording:
        ev.facts.pack_calls.append(call)
    perm = x.perm if x.perm == lengths.perm or lengths.kind is Kind.UNKNOWN else None
    if function == "pack_sequence":
        perm = x.perm
    lengths_name = lengths_node.id if isinstance(lengths_node, ast.Name) else None
    return Value(
        Kind.PACKED,
        perm=perm,
        origin=index if ev.recording else None,
        batch_first=batch_first,
        lengths_name=lengths_name,
        lengths_container=lengths.container,
        root=x.root,
    )


def pad_packed(ev: CallEvaluator, a: Arguments) -> Value:
    """`pad_packed_sequence(sequence, batch_first)`: the padded output and its lengths (on the CPU)."""
    ev.facts.uses_rnn_utils = True
    packed = a.value("sequence")
    batch_first = a.flag("batch_first")
    if ev.recording:
        ev.facts.unpack_calls.append(UnpackCall(a.node, packed, batch_first, a.passed("batch_first"), a.opaque))
    if packed.kind is not Kind.PACKED:
        return UNKNOWN
    lengths_name = None
    if packed.origin is not None and packed.origin < len(ev.facts.pack_calls):
        made = ev.facts.pack_calls[packed.origin]
        if isinstance(made.lengths_node, ast.Name):
            bound = ev.env.get(made.lengths_node.id)
            if bound is not None and bound.binding == made.lengths.binding:
                lengths_name = made.lengths_node.id
    out = Value(
        Kind.OUTPUT,
        batch_first=batch_first,
        bidirectional=packed.bidirectional,
        rnn_type=packed.rnn_type,
        padded=True,
        perm=packed.perm,
        from_rnn=packed.from_rnn,
        lengths_name=lengths_name,
        root=packed.root,
    )
    out_lengths = Value(Kind.LENGTHS, container="tensor", device=Device.CPU, perm=packed.perm)
    return Value(Kind.TUPLE, items=(out, out_lengths))


def pad_sequence(ev: CallEvaluator, a: Arguments) -> Value:
    """`pad_sequence(sequences, batch_first, padding_value, padding_side)`."""
    ev.facts.uses_rnn_utils = True
    seqs = a.value("sequences")
    # torch 2.5+: padding at the front leaves every sequence's last step at the end.
    right = a.passed("padding_side") is None or a.literal("padding_side") == "right"
    return Value(Kind.BATCH, batch_first=a.flag("batch_first"), perm=seqs.perm, root=seqs.root, right_padded=right)


def packed_sequence(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`PackedSequence(data, batch_sizes)`: re-wrapping a packed value's `.data` keeps what it was."""
    data = a.value("data")
    if data.kind is Kind.PACKED:
        return data.but(binding=None)
    # `packed.batch_sizes` (or `.data` itself) carries the packed value it was read from.
    for part in (a.value("batch_sizes"), data):
        if part.kind is Kind.TENSOR and part.items and part.items[0].kind is Kind.PACKED:
            packed = part.items[0]
            perm = packed.perm if data.perm == packed.perm else None
            return packed.but(perm=perm, from_rnn=packed.from_rnn or data.from_rnn, binding=None)
    return Value(Kind.PACKED, perm=data.perm, from_rnn=data.from_rnn, root=data.root) if data.perm else None


def rnn_module(ev: CallEvaluator, a: Arguments) -> Value:
    """`nn.LSTM(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)`."""
    qual = ast.unparse(a.node.func).rpartition(".")[2]
    num_layers = a.literal("num_layers")
    return Value(
        Kind.RNN,
        rnn_type=qual if qual in ("LSTM", "GRU", "RNN") else None,
        batch_first=a.flag("batch_first"),
        bidirectional=a.flag("bidirectional"),
        num_layers=num_layers if isinstance(num_layers, int) and not isinstance(num_layers, bool) else None,
    )


def module_list(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`nn.ModuleList([nn.LSTM(...) for _ in range(k)])`: a container whose every element is known."""
    return modules_of(a.value("modules"))


def sequential(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`nn.Sequential(nn.LSTM(...))`: one recurrent module called through a container."""
    if len(a.positional) == 1 and a.positional[0].kind is Kind.RNN:
        return a.positional[0].but(binding=None)
    return None


def modules_of(value: Value) -> Value | None:
    """The container of a list of modules that all agree (or of one module repeated)."""
    items = value.items if value.kind is Kind.TUPLE else (value,) if value.kind is Kind.RNN else ()
    if not items:
        return None
    element = items[0]
    for item in items[1:]:
        element = join(element, item)
    return Value(Kind.MODULES, items=(element,)) if element.kind is Kind.RNN else None


# ----------------------------------------------------------------- order
def sort_values(ev: CallEvaluator, a: Arguments) -> Value:
    """`torch.sort(input, dim, descending)`: (values, indices)."""
    return ev.tensor_sort(a.node, a.value("input"), a.literal("descending"), a.passed("descending"), True)


def sort_indices(ev: CallEvaluator, a: Arguments) -> Value:
    """`torch.argsort(input, dim, descending)`, `np.argsort(a)`: the permutation alone."""
    source = a.value("input") if "input" in a.signature.positional else a.value("a")
    return ev.tensor_sort(a.node, source, a.literal("descending") or False, a.passed("descending"), False)


def method_sort(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`lengths.sort(descending=True)` on a tensor, `xs.sort(key=len)` on a list (in place)."""
    node, receiver = a.node, a.receiver
    func = node.func
    assert isinstance(func, ast.Attribute)
    keywords = {kw.arg for kw in node.keywords}
    if keywords & {"key", "reverse"} or receiver.container == "list" or receiver.kind is Kind.SEQS:
        reverse = a.passed("reverse")
        direction = a.literal("reverse")
        key = dotted(func.value)
        if not isinstance(direction, bool) or key is None or a.opaque:
            if key is not None:
                ev.env[key] = UNKNOWN
            return UNKNOWN
        sorted_value = ev.sorted_value(node, receiver, a.passed("key"), direction, "reverse", reverse)
        ev.env[key] = sorted_value.but(label=key, binding=ev.new_binding(key, node))
        return UNKNOWN
    stmt = ev.current_stmt
    unpacked = (
        isinstance(stmt, ast.Assign)
        and stmt.value is node
        and isinstance(stmt.targets[0], ast.Tuple)
        and len(stmt.targets[0].elts) == 2
    )
    if receiver.kind in (Kind.LENGTHS, Kind.PERM) or keywords & {"descending", "dim"} or unpacked:
        return ev.tensor_sort(node, receiver, a.literal("descending"), a.passed("descending"), True)
    return UNKNOWN


def method_argsort(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`lengths.argsort(descending=True)`."""
    receiver = a.receiver
    sortable = receiver.kind in (Kind.LENGTHS, Kind.PERM) or (
        receiver.kind in (Kind.UNKNOWN, Kind.TENSOR) and receiver.perm is not None
    )
    if not sortable:
        return None
    return ev.tensor_sort(a.node, receiver, a.literal("descending"), a.passed("descending"), False)


def randperm(ev: CallEvaluator, a: Arguments) -> Value:
    """`torch.randperm(n)`: a fresh permutation."""
    from packlint.facts.calls import token_of

    return Value(Kind.PERM, container="tensor", perm=token_of(a.node))


def index_select(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`torch.index_select(input, dim, index)`."""
    if "index" not in a.nodes:
        return None
    return ev.reorder(a.node, a.value("input"), a.value("index"))


def method_index_select(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`x.index_select(dim, index)`, `x.index_select(dim=0, index=perm)`."""
    if "index" not in a.nodes:
        return None
    return ev.reorder(a.node, a.receiver, a.value("index"))


def blank_like(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`torch.empty_like(perm)`: a tensor about to hold perm's inverse."""
    source = a.value("input")
    return Value(Kind.TENSOR, blank_of=source.perm) if source.kind is Kind.PERM else None


def scatter(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`inverse.scatter_(0, perm, torch.arange(n))` on `torch.empty_like(perm)`: perm's inverse."""
    receiver, index = a.receiver, a.value("index")
    if not receiver.blank_of or index.kind is not Kind.PERM or index.perm != receiver.blank_of:
        return None
    result = Value(Kind.PERM, container="tensor", perm=receiver.blank_of.inverse())
    func = a.node.func
    key = dotted(func.value) if isinstance(func, ast.Attribute) else None
    if isinstance(func, ast.Attribute) and func.attr == "scatter_" and key is not None:
        ev.env[key] = result.but(label=key)
    return result


def concatenate(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`torch.cat([a, b])`: rows in the order both parts share."""
    tensors = a.value("tensors")
    if tensors.kind is not Kind.TUPLE:
        return None
    items = tensors.items
    if items and len({i.perm for i in items}) == 1 and all(i.is_tensor_like for i in items):
        return Value(Kind.TENSOR, perm=items[0].perm, from_rnn=all(i.from_rnn for i in items), root=items[0].root)
    return UNKNOWN


def sum_mask(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`torch.sum(x != pad, dim=1)`: lengths from a mask."""
    source = a.value("input")
    if not source.mask or "dim" not in a.nodes:
        return None
    return mask_lengths(ev, source)


def method_sum(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`(x != pad).sum(1)`: lengths from a mask."""
    if not a.receiver.mask or "dim" not in a.nodes:
        return None
    return mask_lengths(ev, a.receiver)


def mask_lengths(ev: CallEvaluator, mask: Value) -> Value:
    """Lengths counted from a padding mask, in the mask's order."""
    return Value(
        Kind.LENGTHS,
        container="tensor",
        order=ev.built_order(mask),
        perm=mask.perm,
        device=mask.device,
        origin=next(ev._counter),
        root=mask.root,
    )


# ----------------------------------------------------------------- containers and devices
def to_tensor(ev: CallEvaluator, a: Arguments) -> Value:
    """`torch.tensor(data, device=...)`, `torch.from_numpy(a)`: a tensor holding the same values."""
    data = a.value(a.signature.positional[0])  # `data`, `ndarray`, `obj`: whatever the first is called
    device = Device.CPU
    if a.passed("device") is not None:
        device = ev.device_of(a.value("device"), a.passed("device")) or Device.UNKNOWN
    if data.kind is Kind.LENGTHS:
        return data.but(container="tensor", device=device, binding=None)
    if data.kind is Kind.PERM:
        return data.but(container="tensor", binding=None)
    return Value(Kind.TENSOR, container="tensor", perm=data.perm, device=device, root=data.root)


def numpy_sort(ev: CallEvaluator, a: Arguments) -> Value:
    """`np.sort(lengths)`: the values, ascending (`[::-1]` turns them around)."""
    if a.passed("axis") is not None or a.passed("order") is not None:
        return UNKNOWN  # another axis, or sorting records by field: not one row per length
    return ev.sorted_copy(a.node, a.value("a"), "numpy")


def to_numpy(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`np.array(lengths)`: the same lengths or permutation, as a numpy array."""
    data = a.value("object") if "object" in a.signature.positional else a.value("a")
    if data.kind in (Kind.LENGTHS, Kind.PERM):
        return data.but(container="numpy", device=Device.CPU, binding=None)
    return None


def method_numpy(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`lengths.numpy()`."""
    if a.receiver.kind in (Kind.LENGTHS, Kind.PERM):
        return a.receiver.but(container="numpy", device=Device.CPU, binding=None)
    return None


def to_list(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`lengths.tolist()`: a Python list, on no device."""
    if a.receiver.kind in (Kind.LENGTHS, Kind.PERM):
        return a.receiver.but(container="list", device=Device.CPU, binding=None)
    return None


def device(ev: CallEvaluator, a: Arguments) -> Value:
    """`torch.device("cuda")`."""
    kind = a.value("type")
    return kind if kind.kind is Kind.DEVICE else Value(Kind.DEVICE)


def movable(value: Value) -> bool:
    """Whether we follow this value through a move: `lengths.cuda()` of a `lengths` passed in too."""
    return value.kind is not Kind.UNKNOWN or value.perm is not None or value.root is not None


def moved(value: Value, where: Device | None) -> Value | None:
    if where is None:
        return value if value.kind is not Kind.UNKNOWN else None
    if value.kind is Kind.UNKNOWN:
        # Whatever it was, what `.cuda()` returns is a tensor on that device.
        return Value(Kind.TENSOR, perm=value.perm, device=where, root=value.root, container="tensor")
    return value.but(device=where, binding=None)


def to_accelerator(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`x.cuda()`."""
    return moved(a.receiver, Device.ACCELERATOR) if movable(a.receiver) else None


def to_cpu(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`x.cpu()`."""
    return moved(a.receiver, Device.CPU) if movable(a.receiver) else None


def to_device(ev: CallEvaluator, a: Arguments) -> Value | None:
    """`x.to(device)`, `x.to(device=device)`, `x.to(torch.long)` (not a move)."""
    if not movable(a.receiver):
        return None
    where = ev.device_of(a.value("device"), a.passed("device"))
    return moved(a.receiver, where)
