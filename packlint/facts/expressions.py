"""Evaluating expressions: what each expression holds, and binding names to what they hold."""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from dataclasses import replace

from packlint.facts.events import Reorder, SubscriptRead
from packlint.facts.file_facts import FileFacts
from packlint.facts.perms import IDENTITY, Perm, Step, compose
from packlint.facts.scopes import Binding
from packlint.facts.syntax import canonical, dotted, is_length_of, is_plain_index, sort_key
from packlint.facts.values import UNKNOWN, Device, Kind, Order, Value, join

# Kinds that are one tensor (unless their container says "list", as for pieces of a split).
_TENSORS = (Kind.OUTPUT, Kind.STATE, Kind.TENSOR)

RNN_MODULE = "torch.nn.utils.rnn"
RNN_FUNCTIONS = ("pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence", "PackedSequence")
_LENGTHS_PARAM = re.compile(r"(^|_)(lengths|lens|seq_lens)($|_)")
_CONVERSIONS = frozenset(
    "torch.tensor torch.as_tensor torch.LongTensor torch.Tensor torch.FloatTensor torch.from_numpy".split()
)
_ACCELERATORS = ("cuda", "mps", "xpu", "npu", "hpu", "xla")


# Attributes that read a tensor's shape or type, not its values.
SHAPE_ONLY = frozenset({"size", "shape", "dim", "ndim", "dtype", "numel"})


# Each evaluator class's `eval_<Node>` method per node class (None: evaluate the children), found once.
_UNSET = object()
_EVAL_METHODS: dict[tuple[type, type], object] = {}


class Evaluator:
    """The state of one walk (environment, recording switch) and the evaluation of expressions."""

    _counter = itertools.count(1)

    def __init__(
        self,
        facts: FileFacts,
        env: dict[str, Value],
        class_attrs: dict[str, Value] | None = None,
        scope: ast.AST | None = None,
    ) -> None:
        self.facts = facts
        self.env = env
        self.class_attrs = class_attrs or {}
        self.scope = scope
        self.recording = True
        self.deferred: list[tuple[ast.AST, dict[str, Value], dict[str, Value]]] = []
        self.current_stmt: ast.stmt | None = None
        self.summarizing = False  # walking a helper for its summary: sorts are sites, returns are kept
        self.returns: list[Value] | None = None
        self.stmt_sorts: list[int] = []  # sorts recorded in the current statement, for its bindings
        self.role: str | None = None  # "collate" or "forward": what order the function's inputs are in
        self.params: frozenset[str] = frozenset()

    def new_binding(self, name: str, node: ast.AST) -> int:
        binding = next(self._counter)
        self.facts.bindings[binding] = Binding(name, node, self.scope)
        # A sort is recorded while its statement's right side is evaluated, before the targets bind.
        if self.recording:
            sorts = self.facts.sorts
            for i in self.stmt_sorts:
                if sorts[i].statement is self.current_stmt:
                    sorts[i] = replace(sorts[i], bindings=(*sorts[i].bindings, binding))
        return binding

    def bind(self, target: ast.expr, value: Value, stmt: ast.AST) -> None:
        if isinstance(target, ast.Name):
            binding = self.new_binding(target.id, stmt)
            if value.kind is Kind.PERM and value.perm and value.perm not in self.facts.perm_names:
                self.facts.perm_names[value.perm] = target.id
            root = value.root if value.root is not None else target.id
            self.env[target.id] = value.but(label=target.id, binding=binding, root=root)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = target.elts
            if (
                value.kind is Kind.TUPLE
                and len(value.items) == len(elts)
                and not any(isinstance(e, ast.Starred) for e in elts)
            ):
                for elt, item in zip(elts, value.items):
                    self.bind(elt, item, stmt)
            else:
                # `a, b = load(batch)`: whatever the parts are, each keeps the batch order of the whole.
                unpacks = value.kind in (Kind.TUPLE, Kind.UNKNOWN)
                spread = Value(perm=value.perm, root=value.root) if unpacks else UNKNOWN
                if value.kind is Kind.STATE:
                    # `h_n, c_n = state`: each part has the state's batch order.
                    spread = Value(Kind.TENSOR, perm=value.perm, from_rnn=True, root=value.root)
                for i, elt in enumerate(elts):
                    item = unzipped(value, i) if value.kind is Kind.TUPLE and value.sort_key else spread
                    self.bind(elt.value if isinstance(elt, ast.Starred) else elt, item, stmt)
        elif isinstance(target, ast.Attribute):
            key = dotted(target)
            self.eval(target.value)
            self.escape(value)  # stored on an object: the caller can read it back
            if key is not None:
                self.env[key] = value.but(label=key)
        elif isinstance(target, ast.Subscript):
            base = self.eval(target.value)
            index = self.eval(target.slice)
            key = dotted(target.value)
            self.escape(value)
            elements = target.slice.elts if isinstance(target.slice, ast.Tuple) else [target.slice]
            if base.blank_of and index.kind is Kind.PERM and index.perm == base.blank_of and key:
                # `inverse[perm] = torch.arange(n)`: the classic way to invert a permutation.
                self.env[key] = Value(Kind.PERM, key, "tensor", perm=base.blank_of.inverse())
            elif key is not None and key in self.env and self.env[key].kind in (Kind.LENGTHS, Kind.PERM):
                self.env[key] = UNKNOWN
            elif key is not None and key in self.env and not all(is_plain_index(e) for e in elements):
                # `x[i] = seq`, `out[perm] = y`: rows written by position, so their order is not known.
                # A store through a mask (`x[x == pad] = unk`) moves no row: the order stays.
                kept = index.mask and value.kind is not Kind.PERM and value.perm in (None, base.perm)
                if not kept:
                    self.env[key] = self.env[key].but(perm=None)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, UNKNOWN, stmt)

    def bind_imports(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self.env[alias.asname] = Value(Kind.REF, alias.asname, qualname=alias.name)
                else:
                    top = alias.name.split(".")[0]
                    self.env[top] = Value(Kind.REF, top, qualname=top)
            return
        if stmt.level or stmt.module is None:
            for alias in stmt.names:
                self.env.pop(alias.asname or alias.name, None)
            return
        for alias in stmt.names:
            if alias.name == "*":
                if stmt.module == RNN_MODULE:
                    for name in RNN_FUNCTIONS:
                        self.env[name] = Value(Kind.REF, name, qualname=f"{RNN_MODULE}.{name}")
                continue
            local = alias.asname or alias.name
            self.env[local] = Value(Kind.REF, local, qualname=f"{stmt.module}.{alias.name}")

    # ----------------------------------------------------------------- lookups
    def lookup(self, key: str) -> Value | None:
        if key in self.env:
            return self.env[key]
        head, _, attr = key.partition(".")
        if attr and "." not in attr and head in self.env and self.env[head].kind is Kind.SELF:
            return self.class_attrs.get(attr)
        return None

    def qualname(self, node: ast.expr) -> str | None:
        """The torch object a name or attribute chain means here, if it is one."""
        if isinstance(node, ast.Name):
            value = self.env.get(node.id)
            return value.qualname if value is not None and value.kind is Kind.REF else None
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def torch_name(self) -> str | None:
        """A local name for the `torch` module, for fixes that call it."""
        value = self.env.get("torch")
        if value is not None and value.kind is Kind.REF and value.qualname == "torch":
            return "torch"
        for name, value in self.env.items():
            if value.kind is Kind.REF and value.qualname == "torch":
                return name
        return None

    def lengths_in_scope(self) -> list[tuple[str, Value]]:
        """Lengths values bound to plain names here, and parameters named like lengths."""
        found = []
        for name, value in self.env.items():
            if "." in name:
                continue
            if value.kind is Kind.LENGTHS or (value.param and _LENGTHS_PARAM.search(name)):
                found.append((name, value))
        return found

    # ----------------------------------------------------------------- expressions
    def eval(self, node: ast.expr | None) -> Value:
        """What `node` evaluates to; evaluates every sub-expression once (recording uses)."""
        if node is None:
            return UNKNOWN
        key = (self.__class__, node.__class__)
        method = _EVAL_METHODS.get(key, _UNSET)
        if method is _UNSET:
            method = _EVAL_METHODS[key] = getattr(self.__class__, f"eval_{node.__class__.__name__}", None)
        if method is not None:
            return method(self, node)  # type: ignore[no-any-return,operator]
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Constant):
                continue  # nothing to record: a literal's value matters only to what uses it
            if isinstance(child, ast.expr):
                self.eval(child)
            elif isinstance(child, ast.comprehension):
                self.eval(child.iter)
        return UNKNOWN

    def eval_Constant(self, node: ast.Constant) -> Value:
        literal = node.value
        if isinstance(literal, str):
            text = literal.split(":")[0]
            if text == "cpu":
                return Value(Kind.DEVICE, repr(literal), device=Device.CPU, literal=literal)
            if text in _ACCELERATORS:
                return Value(Kind.DEVICE, repr(literal), device=Device.ACCELERATOR, literal=literal)
        if isinstance(literal, (int, float)) and not isinstance(literal, bool):
            return Value(Kind.NUMBER, repr(literal), literal=literal)
        if isinstance(literal, (bool, str)) or literal is None:
            return Value(Kind.UNKNOWN, repr(literal), literal=literal)
        return UNKNOWN

    def built_order(self, source: Value) -> Order:
        """The order of lengths built here from `source` without a sort.

        A collate function or `__getitem__` sees dataset order: unsorted. A module's `forward` sees
        whatever order its caller gives, so lengths of its input are of unknown order.
        """
        if self.role == "forward" and source.root is not None and source.root in self.params:
            return Order.UNKNOWN
        return Order.UNSORTED

    def eval_Name(self, node: ast.Name) -> Value:
        value = self.env.get(node.id)
        if value is None:
            return UNKNOWN
        if value.binding is not None and self.recording:
            self.facts.uses.setdefault(value.binding, []).append(node)
        self.note_use(value)
        return value

    def note_use(self, value: Value) -> None:
        if self.recording and value.call is not None:
            if value.kind is Kind.STATE or (
                value.kind is Kind.TUPLE and any(i.kind is Kind.STATE for i in value.items)
            ):
                self.facts.used_calls.add(id(value.call))

    def eval_Attribute(self, node: ast.Attribute) -> Value:
        if self.reads_shape_of_state(node):
            return UNKNOWN
        key = dotted(node)
        if key is not None:
            known = self.lookup(key)
            if known is not None:
                self.eval(node.value)
                self.note_use(known)
                return known
        qual = self.qualname(node)
        if qual is not None:
            return Value(Kind.REF, key or node.attr, qualname=qual)
        base = self.eval(node.value)
        if node.attr == "device":
            device = Device.CPU if base.device is Device.CPU else Device.ACCELERATOR
            return Value(Kind.DEVICE, f"{base.label}.device", device=device)
        if node.attr == "data" and base.is_tensor_like:
            return base
        if base.kind is Kind.PACKED and node.attr in ("data", "batch_sizes", "sorted_indices", "unsorted_indices"):
            # `PackedSequence(f(packed.data), packed.batch_sizes)` re-wraps the packed value it came from.
            return Value(Kind.TENSOR, perm=base.perm, from_rnn=base.from_rnn, root=base.root, items=(base,))
        if node.attr in ("values", "indices") and base.kind is Kind.TENSOR:
            # `out.max(dim=1).values`: one row per batch row, as in `out`
            return Value(Kind.TENSOR, perm=base.perm, from_rnn=base.from_rnn, device=base.device, root=base.root)
        if base.kind is Kind.UNKNOWN and base.perm is not None:
            return Value(perm=base.perm, root=base.root)  # `batch.seqs`: same order as `batch`
        return UNKNOWN

    def reads_shape_of_state(self, node: ast.Attribute) -> bool:
        """`h_n.size(0)`, `h_n.shape` of a final state: the use is recorded, but the state's values are
        not read (padding changes no shape), so its RNN call does not count as one whose state is used."""
        name = node.value
        if node.attr not in SHAPE_ONLY or not isinstance(name, ast.Name):
            return False
        value = self.env.get(name.id)
        if value is None or value.kind is not Kind.STATE:
            return False
        if value.binding is not None and self.recording:
            self.facts.uses.setdefault(value.binding, []).append(name)
        return True

    def eval_Tuple(self, node: ast.Tuple | ast.List) -> Value:
        return Value(Kind.TUPLE, items=tuple(self.eval(e) for e in node.elts))

    eval_List = eval_Tuple

    def eval_Starred(self, node: ast.Starred) -> Value:
        return self.eval(node.value)  # `zip(*batch)`: the callee sees the items of `batch`

    def eval_NamedExpr(self, node: ast.NamedExpr) -> Value:
        value = self.eval(node.value)
        self.bind(node.target, value, node)
        return value

    def eval_IfExp(self, node: ast.IfExp) -> Value:
        self.eval(node.test)
        return join(self.eval(node.body), self.eval(node.orelse))

    def eval_Lambda(self, node: ast.Lambda) -> Value:
        return UNKNOWN

    def eval_UnaryOp(self, node: ast.UnaryOp) -> Value:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.USub) and value.kind in (Kind.LENGTHS, Kind.NUMBER):
            return value.but(negated=not value.negated)
        if isinstance(node.op, ast.USub) and value.kind in (Kind.UNKNOWN, Kind.TENSOR) and value.perm is not None:
            # `-lengths` of a parameter: `np.argsort(-lengths)` sorts it descending; rows keep their order
            return value.but(negated=not value.negated)
        return UNKNOWN

    def eval_BinOp(self, node: ast.BinOp) -> Value:
        left, right = self.eval(node.left), self.eval(node.right)
        if left.kind is Kind.LENGTHS and right.kind is Kind.NUMBER:
            return left
        if right.kind is Kind.LENGTHS and left.kind is Kind.NUMBER and isinstance(node.op, ast.Add):
            return right
        if left.kind is Kind.NUMBER and right.kind is Kind.NUMBER:
            return left
        # `out * mask`, `h + 1`: elementwise, so the batch order is kept when both sides agree.
        tensor = left if left.is_tensor_like else right
        other = right if tensor is left else left
        if tensor.is_tensor_like and (other.kind is Kind.NUMBER or other.perm == tensor.perm):
            return Value(
                Kind.TENSOR,
                perm=tensor.perm,
                from_rnn=tensor.from_rnn or other.from_rnn,
                device=tensor.device,
                root=tensor.root,
            )
        return UNKNOWN

    def eval_Compare(self, node: ast.Compare) -> Value:
        left = self.eval(node.left)
        others = [self.eval(c) for c in node.comparators]
        if (len(others) == 1 and left.is_tensor_like) or (left.kind is Kind.UNKNOWN and left.root):
            return Value(Kind.TENSOR, perm=left.perm, device=left.device, mask=True, root=left.root)
        return UNKNOWN

    def eval_Subscript(self, node: ast.Subscript) -> Value:
        base = self.eval(node.value)
        elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = [self.eval(e) for e in elements]
        if base.kind is Kind.TUPLE and isinstance(node.slice, ast.Constant):
            i = node.slice.value
            if isinstance(i, int) and -len(base.items) <= i < len(base.items):
                item = base.items[i]
                self.note_use(item)
                return item
            return UNKNOWN
        if base.kind in (Kind.OUTPUT, Kind.STATE) and self.recording:
            lengths_name, lengths_container = self.gather_lengths(base)
            self.facts.subscripts.append(
                SubscriptRead(node, base, index[0], lengths_name, lengths_container, self.torch_name(), tuple(index))
            )
        perm_at = [i for i, v in enumerate(index) if v.kind is Kind.PERM or v.blank_of]
        if len(index) == 1 and base.kind is Kind.LENGTHS and base.container == "list":
            if index[0].is_tensor_like and self.recording:
                self.facts.subscripts.append(SubscriptRead(node, base, index[0], None, None, self.torch_name()))
        if len(perm_at) == 1 and all(
            isinstance(e, ast.Slice) and e.lower is None and e.upper is None and e.step is None
            for e in elements[: perm_at[0]]
        ):
            return self.reorder(node, base, index[perm_at[0]])
        if len(elements) == 1 and is_reversal(elements[0]):
            return reversed_value(base)
        # Selecting with constants and slices keeps the batch order; any other index may reorder.
        # A slice keeps it whatever its bounds (`x[:n]`, `lengths[:batch_size]`): rows stay in order.
        # A negative step (`x[::-1]`) turns the first axis around, which may be the batch's.
        plain = all(
            (is_plain_index(e) and not (isinstance(e, ast.Slice) and is_negative(e.step)))
            or (isinstance(e, ast.Slice) and e.step is None)
            for e in elements
        )
        perm = base.perm if plain else None
        if base.kind in (Kind.LENGTHS, Kind.SEQS) and isinstance(node.slice, ast.Slice) and plain:
            return base.but(binding=None)  # a prefix of sorted lengths is still sorted
        if base.kind in (Kind.OUTPUT, Kind.STATE, Kind.TENSOR, Kind.BATCH):
            return Value(
                Kind.TENSOR,
                perm=perm,
                from_rnn=base.from_rnn,
                device=base.device,
                bidirectional=base.bidirectional,
                root=base.root,
            )
        if base.kind is Kind.UNKNOWN and perm is not None:
            return Value(perm=perm, root=base.root)
        return UNKNOWN

    def reorder(self, node: ast.expr, base: Value, perm: Value) -> Value:
        """`base[perm]`: the same value in another order."""
        if perm.kind is not Kind.PERM or perm.perm is None:
            return base.but(perm=None, order=Order.UNKNOWN) if base.kind is not Kind.UNKNOWN else UNKNOWN
        token = perm.perm
        if self.recording:
            self.facts.reorders.append(Reorder(node, base, token))
        new_perm = compose(base.perm, token)
        value = base.but(perm=new_perm)
        if base.kind is Kind.LENGTHS:
            if perm.origin is not None and perm.origin == base.origin and base.perm == IDENTITY:
                value = value.but(order=perm.order, sort_site=perm.sort_site)
            else:
                value = value.but(order=Order.UNKNOWN)
        elif base.kind is Kind.SEQS:
            value = value.but(order=Order.UNKNOWN, sort_key=None)
        elif perm.origin is not None and perm.origin == sorted_binding(base) and base.perm == IDENTITY:
            value = value.but(order=perm.order, sort_site=perm.sort_site)  # `lengths[lengths.argsort()]`
        return value

    def gather_lengths(self, out: Value) -> tuple[str | None, str | None]:
        """A lengths name aligned with `out`, for a gather fix."""
        if out.lengths_name:
            bound = self.env.get(out.lengths_name)
            if bound is not None and (bound.kind is Kind.LENGTHS or bound.param) and bound.perm == out.perm:
                return out.lengths_name, bound.container
        # `_` in `out, _ = pad_packed_sequence(y)` holds lengths, but the name says "unused".
        candidates = [
            (n, v)
            for n, v in self.lengths_in_scope()
            if n != "_" and (v.perm == out.perm or (v.perm is None and v.param))
        ]
        if len(candidates) == 1:
            name, value = candidates[0]
            return name, value.container
        return None, None

    def eval_ListComp(self, node: ast.ListComp | ast.GeneratorExp) -> Value:
        if len(node.generators) != 1 or node.generators[0].ifs or node.generators[0].is_async:
            return self.eval_generic_comprehension(node)
        gen = node.generators[0]
        source = self.eval(gen.iter)
        if not isinstance(gen.target, ast.Name):
            return self.eval_generic_comprehension(node, source)
        var = gen.target.id
        saved = self.env.get(var)
        self.env[var] = UNKNOWN
        self.eval(node.elt)
        if saved is None:
            self.env.pop(var, None)
        else:
            self.env[var] = saved
        perm = IDENTITY if source.kind is Kind.TUPLE else source.perm
        if is_length_of(node.elt, var):
            key = canonical(node.elt, var)
            if source.kind is Kind.BATCH or (source.kind in _TENSORS and source.container != "list"):
                order = Order.DESCENDING  # rows of a padded batch (of any one tensor) all have its padded length
            elif source == UNKNOWN:
                order = Order.UNKNOWN  # nothing is known of what is iterated: it may be a tensor
            elif source.sort_key is None:
                order = self.built_order(source)
            elif source.sort_key == key:
                order = source.order
            else:
                order = Order.UNKNOWN
            return Value(
                Kind.LENGTHS,
                container="list",
                order=order,
                perm=perm,
                device=Device.CPU,
                origin=next(self._counter),
                sort_site=source.sort_site if order is source.order else None,
                root=source.root,
            )
        if isinstance(node.elt, ast.Name) and node.elt.id == var:
            return source.but(binding=None)
        ranged = isinstance(gen.iter, ast.Call) and isinstance(gen.iter.func, ast.Name) and gen.iter.func.id == "range"
        if ranged and self.repeats(node.elt, var):
            # `[steps for _ in range(batch)]`: one length repeated, so non-increasing.
            return Value(Kind.LENGTHS, container="list", order=Order.DESCENDING, perm=IDENTITY, device=Device.CPU)
        if perm is not None and source.sort_key is not None:
            # After `batch.sort(key=len)`, `[torch.as_tensor(t) for t in batch]` keeps each length and
            # so the order; any other mapping may change the lengths, and their order is unknown.
            if self.keeps_length(node.elt, var):
                return source.but(kind=Kind.SEQS, container="list", perm=perm, binding=None, items=())
            return Value(Kind.SEQS, container="list", perm=perm, sort_key="?", root=source.root)
        if perm is not None:
            return Value(Kind.SEQS, container="list", order=self.built_order(source), perm=perm, root=source.root)
        return UNKNOWN

    def repeats(self, elt: ast.expr, var: str) -> bool:
        """`[n for _ in range(b)]`: the element is a name other than the loop variable, the same each time."""
        return isinstance(elt, ast.Name) and elt.id != var

    def keeps_length(self, elt: ast.expr, var: str) -> bool:
        """`torch.as_tensor(t)`, `torch.tensor(t, dtype=...)`: a conversion of `var` that keeps its length."""
        return (
            isinstance(elt, ast.Call)
            and len(elt.args) == 1
            and isinstance(elt.args[0], ast.Name)
            and elt.args[0].id == var
            and self.qualname(elt.func) in _CONVERSIONS
        )

    eval_GeneratorExp = eval_ListComp

    def eval_generic_comprehension(self, node: ast.expr, source: Value | None = None) -> Value:
        for child in ast.walk(node):
            if isinstance(child, ast.comprehension) and source is None:
                self.eval(child.iter)
        return UNKNOWN

    def eval_SetComp(self, node: ast.SetComp) -> Value:
        return self.eval_generic_comprehension(node)

    def eval_DictComp(self, node: ast.DictComp) -> Value:
        return self.eval_generic_comprehension(node)

    def escape(self, value: Value) -> None:
        """A permutation that leaves the function may be undone by the caller."""
        for item in flatten(value):
            if item.kind is Kind.PERM and item.perm:
                self.facts.escaped.update(item.perm.tokens)


def is_negative(node: ast.expr | None) -> bool:
    """A negative literal: `-1`, `-2`."""
    return (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and node.operand.value != 0
    )


def is_reversal(node: ast.expr) -> bool:
    """`::-1`: the whole axis, back to front."""
    return (
        isinstance(node, ast.Slice)
        and node.lower is None
        and node.upper is None
        and isinstance(node.step, ast.UnaryOp)
        and isinstance(node.step.op, ast.USub)
        and isinstance(node.step.operand, ast.Constant)
        and node.step.operand.value == 1
    )


_TURNED = {Order.ASCENDING: Order.DESCENDING, Order.DESCENDING: Order.ASCENDING}


def reversed_value(base: Value) -> Value:
    """`sorted_lengths[::-1]`: lengths sorted one way, now sorted the other. The rows they belong
    to are in the reverse of the sort's order, a sort of the same lengths the other way; of any
    other value the order is unknown."""
    perm = base.perm
    sorts = perm.last_sort if perm is not None else None
    if (
        perm is None
        or sorts is None
        or base.kind not in (Kind.LENGTHS, Kind.TENSOR)
        or base.order not in _TURNED
        or not sorts.endswith(f"|{base.order.value}")
    ):
        return base.but(perm=None, order=Order.UNKNOWN, binding=None) if base.kind is not Kind.UNKNOWN else UNKNOWN
    order = _TURNED[base.order]
    last = perm.steps[-1]
    text, at, line = last.token.rpartition("@")
    token = f"{text}[::-1]{at}{line}" if at else f"{last.token}[::-1]"  # messages show the text before `@`
    turned = Step(token, sorts=sorts.rsplit("|", 1)[0] + f"|{order.value}")
    return base.but(order=order, perm=Perm((*perm.steps[:-1], turned)), sort_site=None, binding=None)


def sorted_binding(value: Value) -> int | None:
    """For a PERM's `origin`: a name we follow only by its binding (a parameter), negated to stay apart."""
    if value.kind in (Kind.UNKNOWN, Kind.TENSOR) and value.binding is not None:
        return -value.binding
    return None


def sort_fields(seqs: Value) -> dict[str, object]:
    """What a list sorted by a key passes on to what is taken from it."""
    return dict(order=seqs.order, perm=seqs.perm, sort_key=seqs.sort_key, sort_site=seqs.sort_site, root=seqs.root)


def unzipped(rows: Value, i: int) -> Value:
    """Item `i` of `zip(*rows)` for rows sorted by a key: sorted by length when the key was `len(row[i])`."""
    own = canonical(ast.parse(f"len(_v_[{i}])", mode="eval").body, "_v_")
    if rows.sort_key != own:
        return Value(Kind.SEQS, container="list", perm=rows.perm, sort_key="?", root=rows.root)
    fields = {**sort_fields(rows), "sort_key": sort_key(ast.Name(id="len", ctx=ast.Load()))}
    return Value(Kind.SEQS, container="list", **fields)  # type: ignore[arg-type]


def flatten(value: Value) -> Iterator[Value]:
    """A value and, for tuples, every item inside."""
    if value.kind is Kind.TUPLE:
        for item in value.items:
            yield from flatten(item)
    else:
        yield value
