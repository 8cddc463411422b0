"""Evaluating calls: torch calls through the API table, RNN modules, builtins and unknown callees."""

from __future__ import annotations

import ast
import re

from packlint.facts.events import Exit, RnnCall, SortSite
from packlint.facts.expressions import Evaluator, sort_fields, sorted_binding
from packlint.facts.perms import IDENTITY, Perm, compose
from packlint.facts.syntax import argument, bool_literal, dotted, is_opaque, sort_key
from packlint.facts.torch_api import Arguments, Entry, function_entry, method_entry
from packlint.facts.values import UNKNOWN, Device, Kind, Order, Value

_LOSS_FUNCTIONS = re.compile(
    r"torch\.nn\.functional\.(cross_entropy|nll_loss|mse_loss|l1_loss|smooth_l1_loss|huber_loss|"
    r"binary_cross_entropy(_with_logits)?|kl_div|ctc_loss|cosine_embedding_loss|margin_ranking_loss)$"
)
# Methods that keep what a value is and its batch order: `lengths.long()`, `out.contiguous()`.
KEEP_METHODS = frozenset(
    "long int float double half bool byte contiguous detach clone copy type requires_grad_ "
    "squeeze view reshape flatten".split()
)
_MASK_METHODS = frozenset("ne gt ge eq lt le".split())
_KEEP_SORTED = KEEP_METHODS | {"numpy", "tolist"}
_PERM_SHAPE_METHODS = frozenset("unsqueeze expand expand_as repeat view_as".split())
# Calls that cut a tensor into pieces of their own lengths (`torch.split(x, sizes)`, `unpad_sequence`,
# a helper `strip_padding(out, lengths)`): a list of tensors (container "list"), not one tensor whose
# rows share a length. The kind stays what it was, so that the rules see the same values as before.
_PIECES = re.compile(r"split|chunk|unbind|unpad|unbatch|strip|trim", re.I)


# Calls we do not model whose name says they reorder (`sort_batch(x)`, `sort_by_length(tokens)`,
# `shuffle(rows)`): what they return is in an order of their own, not their argument's.
_REORDERS = re.compile(r"sort|shuffle|permut|reorder", re.I)


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def cuts_into_pieces(node: ast.Call) -> bool:
    """Whether the call's name says it returns pieces of a tensor rather than a tensor."""
    return bool(_PIECES.search(_called(node)))


def reorders(node: ast.Call) -> bool:
    """Whether the call's name says it puts what it returns in another order."""
    return bool(_REORDERS.search(_called(node)))


def token_of(node: ast.Call, sorts: str | None = None) -> Perm:
    """The permutation a sort or `randperm` call makes, named by its source and line."""
    return Perm.of(f"{ast.unparse(node)}@{node.lineno}", sorts)


def sort_origin(source: Value) -> int | None:
    """Which values a sort of `source` sorts: a lengths value's origin, or a parameter's binding."""
    return source.origin if source.kind is Kind.LENGTHS else sorted_binding(source)


def sorts_key(source: Value, order: Order) -> str | None:
    """`Step.sorts` for a sort of `source` into `order`: None when the values sorted are not known."""
    origin = sort_origin(source)
    if origin is None or source.perm is None:
        return None
    return f"{origin}|{source.perm}|{order.value}"


class CallEvaluator(Evaluator):
    """Adds calls to the evaluation of expressions."""

    def eval_Call(self, node: ast.Call) -> Value:
        func = node.func
        qual = self.qualname(func)
        args = None
        if qual is not None:
            args = [self.eval(a) for a in node.args]
            kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg}
            return self.torch_call(qual, node, args, kwargs)
        key = dotted(func)
        callee = self.lookup(key) if key is not None else None
        if callee is not None and callee.kind is not Kind.UNKNOWN:
            self.eval(func)
            args = [self.eval(a) for a in node.args]
            kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg}
            return self.call_value(node, callee, args, kwargs)
        if isinstance(func, ast.Attribute):
            receiver = UNKNOWN if self.reads_shape_of_state(func) else self.eval(func.value)
            args = [self.eval(a) for a in node.args]
            kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg}
            return self.method_call(node, func, receiver, args, kwargs)
        if isinstance(func, ast.Name) and func.id not in self.env:
            args = [self.eval(a) for a in node.args]
            for kw in node.keywords:
                self.eval(kw.value)
            return self.builtin_call(node, func.id, args)
        self.eval(func)
        args = [self.eval(a) for a in node.args]
        for kw in node.keywords:
            self.eval(kw.value)
        return self.unknown_call(node, args, key)

    def bound(
        self, entry: Entry, node: ast.Call, args: list[Value], kwargs: dict[str, Value], receiver: Value = UNKNOWN
    ) -> Arguments:
        """The call's arguments bound through the entry's signature (values already evaluated)."""
        nodes, opaque = entry.signature.bind(node)
        values: dict[str, Value] = {}
        for name, value in zip(entry.signature.positional, args):
            if name in nodes:
                values[name] = value
        for name, value in kwargs.items():
            if name in nodes:
                values[name] = value
        return Arguments(node, entry.signature, nodes, values, opaque, tuple(args), receiver)

    def unknown_call(self, node: ast.Call, args: list[Value], name: str | None) -> Value:
        """A call we know nothing about: `self.fc(h)` keeps batch order; a perm passed in escapes."""
        for arg in args:
            self.escape(arg)
        if name is not None and re.search(r"loss|criterion", name.split(".")[-1], re.I):
            self.record_loss(node, args)
            return UNKNOWN
        if args and args[0].kind is Kind.PACKED:
            return opaque_rnn_result(args[0])
        return derived_call(node, args)

    def record_loss(self, node: ast.Call, args: list[Value]) -> None:
        if self.recording:
            self.facts.exits.append(Exit(node, "loss", tuple(args)))

    def call_value(self, node: ast.Call, callee: Value, args: list[Value], kwargs: dict[str, Value]) -> Value:
        if callee.kind is Kind.RNN and args:
            return self.rnn_call(node, callee, args[0])
        if callee.kind is Kind.RNN and not args and kwargs:
            return self.rnn_call(node, callee, kwargs.get("input", next(iter(kwargs.values()))))
        if callee.kind is Kind.MODULES and callee.items and args:
            return self.call_value(node, callee.items[0], args, kwargs)
        if callee.qualname == "<loss>":
            self.record_loss(node, args)
            return UNKNOWN
        if callee.kind is Kind.REF and callee.qualname:
            return self.torch_call(callee.qualname, node, args, kwargs)
        if callee.kind is Kind.FUNCTION:
            return self.apply_summary(node, callee, args, kwargs)
        return self.unknown_call(node, args, dotted(node.func))

    def apply_summary(self, node: ast.Call, callee: Value, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """A same-file helper: by default what an unknown call gives (walker.py applies summaries)."""
        return self.unknown_call(node, args, dotted(node.func))

    def rnn_call(self, node: ast.Call, module: Value, x: Value) -> Value:
        packed = x.kind is Kind.PACKED
        lengths = self.lengths_in_scope()
        # With lengths in scope, an unknown input is taken to be their padded batch; a state or
        # other result of an RNN (`h_n.unsqueeze(0)`) is not.
        padded = not packed and (
            (x.kind is Kind.BATCH and x.right_padded)
            or (x.kind is Kind.OUTPUT and x.padded)
            # A value we know nothing of (packed on one path, not on another) is not taken to be padded.
            or (bool(lengths) and x.kind in (Kind.UNKNOWN, Kind.TENSOR) and not x.from_rnn and x != UNKNOWN)
        )
        if self.recording:
            self.facts.rnn_calls.append(RnnCall(node, module, x, padded))
        common = dict(
            perm=x.perm,
            from_rnn=True,
            bidirectional=module.bidirectional,
            num_layers=module.num_layers,
            rnn_type=module.rnn_type,
            call=node,
            root=x.root,
        )
        if packed:
            out = Value(Kind.PACKED, origin=x.origin, batch_first=module.batch_first, **common)  # type: ignore[arg-type]
        else:
            names = [n for n, v in lengths if v.perm == x.perm or v.param]
            out = Value(
                Kind.OUTPUT,
                batch_first=module.batch_first,
                padded=padded,
                lengths_name=names[0] if len(names) == 1 else None,
                **common,  # type: ignore[arg-type]
            )
        state = Value(Kind.STATE, padded=padded, **common)  # type: ignore[arg-type]
        if module.rnn_type == "LSTM":
            return Value(Kind.TUPLE, items=(out, Value(Kind.TUPLE, items=(state, state), call=node)), call=node)
        if module.rnn_type in ("GRU", "RNN"):
            return Value(Kind.TUPLE, items=(out, state), call=node)
        # An LSTM on one path and a GRU on another: the output comes first either way; the state's
        # shape (`h_n` or `(h_n, c_n)`) is not known.
        return Value(Kind.TUPLE, items=(out, UNKNOWN), call=node)

    def builtin_call(self, node: ast.Call, name: str, args: list[Value]) -> Value:
        if name == "sorted" and args:
            source = args[0]
            key_node = argument(node, None, "key")
            reverse = argument(node, None, "reverse")
            direction = bool_literal(reverse) if reverse is not None else False
            if direction is None or is_opaque(node):
                return UNKNOWN
            return self.sorted_value(node, source, key_node, direction, "reverse", reverse)
        if name == "list" and len(args) == 1:
            return args[0].but(binding=None) if args[0].kind in (Kind.LENGTHS, Kind.SEQS) else UNKNOWN
        if name == "map" and len(node.args) == 2:
            fn = node.args[0]
            if isinstance(fn, ast.Name) and fn.id == "len":
                source = args[1]
                order = self.built_order(source)
                if source.sort_key is not None:
                    order = source.order if source.sort_key == sort_key(fn) else Order.UNKNOWN
                return Value(
                    Kind.LENGTHS,
                    container="list",
                    order=order,
                    perm=source.perm,
                    device=Device.CPU,
                    origin=next(self._counter),
                    root=source.root,
                )
            return UNKNOWN
        if name == "zip" and node.args and isinstance(node.args[0], ast.Starred):
            source = args[0] if args else UNKNOWN
            if len(node.args) == 1 and source.kind is Kind.SEQS and source.sort_key:
                # `seqs, labels = zip(*batch)` after `batch.sort(key=lambda x: len(x[0]))`
                return Value(Kind.TUPLE, **sort_fields(source))  # type: ignore[arg-type]
            return Value(Kind.TUPLE, perm=source.perm, root=source.root)
        for arg in args:
            self.escape(arg)
        return derived_call(node, args)

    def sorted_value(
        self,
        node: ast.Call,
        source: Value,
        key_node: ast.expr | None,
        descending: bool,
        flag: str,
        flag_node: ast.expr | None,
    ) -> Value:
        """`sorted(xs, key=..., reverse=...)` or the value of `xs` after `xs.sort(...)`."""
        site = self.record_sort(node, flag, flag_node, descending)
        token = token_of(node)
        order = Order.DESCENDING if descending else Order.ASCENDING
        if source.kind is Kind.LENGTHS and key_node is None:
            return source.but(order=order, perm=compose(source.perm, token), sort_site=site, binding=None)
        return Value(
            Kind.SEQS,
            container="list",
            order=order,
            perm=compose(source.perm, token),
            sort_key=sort_key(key_node),
            sort_site=site,
            root=source.root,
        )

    def record_sort(self, node: ast.Call, flag: str, flag_node: ast.expr | None, descending: bool) -> int | None:
        if self.current_stmt is None or not (self.recording or self.summarizing):
            return None
        facts, stmt = self.facts, self.current_stmt
        existing = facts.sort_index.get(id(node))
        if not self.recording:
            if existing is not None:
                return existing
            bindings: tuple[int, ...] = ()  # a helper's sort seen from a call site: its own walk fills these
        else:
            bindings = tuple(b for b, binding in facts.bindings.items() if binding.node is stmt)
        site = SortSite(node, stmt, flag, flag_node, descending, bindings)
        if existing is not None:
            facts.sorts[existing] = site
            index = existing
        else:
            index = len(facts.sorts)
            facts.sorts.append(site)
            facts.sort_index[id(node)] = index
        if self.recording:
            self.stmt_sorts.append(index)
        return index

    def tensor_sort(
        self, node: ast.Call, source: Value, descending: object, descending_node: ast.expr | None, want_values: bool
    ) -> Value:
        """`torch.sort(x)`, `x.sort(descending=True)`, `torch.argsort(x)`, `x.argsort()`."""
        if source.kind is Kind.PERM and source.perm:
            inv = Value(Kind.PERM, container="tensor", perm=source.perm.inverse())
            return Value(Kind.TUPLE, items=(UNKNOWN, inv)) if want_values else inv
        if not isinstance(descending, bool) or is_opaque(node):
            return UNKNOWN
        site = self.record_sort(node, "descending", descending_node, descending)
        effective = descending != source.negated
        order = Order.DESCENDING if effective else Order.ASCENDING
        token = token_of(node, sorts_key(source, order))
        perm = Value(
            Kind.PERM,
            container="tensor",
            perm=token,
            order=order,
            origin=sort_origin(source),
            sort_site=site,
        )
        if not want_values:
            return perm
        if source.kind is Kind.LENGTHS and not source.negated:
            values = source.but(order=order, perm=compose(source.perm, token), sort_site=site, binding=None)
        elif source.kind in (Kind.UNKNOWN, Kind.TENSOR) and not source.negated:
            values = Value(
                Kind.TENSOR,
                container="tensor",
                order=order,
                perm=compose(source.perm, token),
                sort_site=site,
                device=source.device,
                root=source.root,
            )
        else:
            values = UNKNOWN
        return Value(Kind.TUPLE, items=(values, perm))

    def sorted_copy(self, node: ast.Call, source: Value, container: str) -> Value:
        """`np.sort(lengths)`: the values sorted ascending, with no indices and no flag to turn around
        (so no sort site that a fix could rewrite)."""
        if source.negated or source.kind not in (Kind.LENGTHS, Kind.UNKNOWN, Kind.TENSOR) or is_opaque(node):
            return UNKNOWN
        token = token_of(node, sorts_key(source, Order.ASCENDING))
        perm = compose(source.perm, token)
        if source.kind is Kind.LENGTHS:
            return source.but(container=container, order=Order.ASCENDING, perm=perm, sort_site=None, binding=None)
        return Value(
            Kind.TENSOR, container=container, order=Order.ASCENDING, perm=perm, device=source.device, root=source.root
        )

    def device_of(self, arg: Value | None, arg_node: ast.expr | None) -> Device | None:
        """Where `.to(arg)` or `device=arg` puts a tensor; None when it is not a device at all."""
        if arg is None or arg_node is None:
            return None
        if arg.kind is Kind.DEVICE:
            return arg.device
        if isinstance(arg_node, ast.Constant) and isinstance(arg_node.value, str):
            return None
        qual = self.qualname(arg_node)
        if qual is not None and qual.startswith("torch.") and qual != "torch.device":
            return None  # a dtype: `.to(torch.long)`
        name = dotted(arg_node)
        if name is not None and "device" in name.split(".")[-1].lower() and arg.kind is Kind.UNKNOWN:
            return Device.ACCELERATOR
        return Device.UNKNOWN

    def method_call(
        self,
        node: ast.Call,
        func: ast.Attribute,
        receiver: Value,
        args: list[Value],
        kwargs: dict[str, Value],
    ) -> Value:
        name = func.attr
        entry = method_entry(name)
        if entry is not None:
            result = entry.effect(self, self.bound(entry, node, args, kwargs, receiver))
            if result is not None:
                return result
        keywords = {kw.arg for kw in node.keywords}
        if receiver.kind is Kind.TENSOR and receiver.order is not Order.UNKNOWN and name in _KEEP_SORTED:
            return receiver.but(binding=None)  # a parameter's lengths, sorted: `lengths.sort(0)[0].long()`
        if name in KEEP_METHODS and receiver.kind in (Kind.LENGTHS, Kind.PERM, Kind.BATCH, Kind.OUTPUT):
            return receiver.but(binding=None)
        if name in KEEP_METHODS and receiver.mask:
            return receiver
        if name in _MASK_METHODS and len(args) == 1 and (receiver.is_tensor_like or receiver.root):
            return Value(Kind.TENSOR, perm=receiver.perm, device=receiver.device, mask=True, root=receiver.root)
        if name in ("backward", "step", "zero_grad"):
            return UNKNOWN
        if receiver.kind is Kind.SELF:
            return self.unknown_call(node, args, dotted(func))  # a submodule: `self.fc(h)`, `self.loss_fn(y, t)`
        if receiver.kind is Kind.PERM and name in _PERM_SHAPE_METHODS:
            return receiver.but(binding=None)  # `perm.unsqueeze(1).expand_as(out)`: still the permutation
        del keywords
        for arg in args:
            self.escape(arg)
        if any(a.kind is Kind.PERM or a.blank_of for a in args) or reorders(node):
            return UNKNOWN
        if receiver.is_tensor_like or (receiver.kind is Kind.UNKNOWN and receiver.perm is not None):
            return Value(
                Kind.TENSOR if receiver.is_tensor_like else Kind.UNKNOWN,
                perm=receiver.perm,
                from_rnn=receiver.from_rnn,
                device=receiver.device,
                container="list" if cuts_into_pieces(node) else None,
                root=receiver.root,
            )
        return UNKNOWN

    def torch_call(self, qual: str, node: ast.Call, args: list[Value], kwargs: dict[str, Value]) -> Value:
        entry = function_entry(qual)
        if entry is not None:
            result = entry.effect(self, self.bound(entry, node, args, kwargs))
            if result is not None:
                return result
        head, _, last = qual.rpartition(".")
        if head == "torch.optim" and last[:1].isupper():
            params = node.args[0] if node.args else None
            model = None
            if isinstance(params, ast.Call) and isinstance(params.func, ast.Attribute):
                if params.func.attr == "parameters":
                    model = ast.unparse(params.func.value)
            return Value(Kind.OPTIMIZER, qualname=qual, model=model)
        if head == "torch.nn" and last.endswith("Loss"):
            return Value(qualname="<loss>")
        if _LOSS_FUNCTIONS.match(qual):
            self.record_loss(node, args)
            return UNKNOWN
        for arg in args:
            self.escape(arg)
        result = derived_call(node, args)
        if result.kind in (Kind.OUTPUT, Kind.BATCH):
            return result  # `torch.relu(out)`: an activation keeps per-step RNN output what it was
        container = "list" if cuts_into_pieces(node) else "tensor"
        return result.but(kind=Kind.TENSOR, container=container) if result.perm is not None else result


def derived_call(node: ast.Call, args: list[Value]) -> Value:
    """The result of a call we do not model: it keeps the batch order of its first argument.

    `self.fc(h)` and `self.dropout(out)` keep the order of their input; a call that is given a
    permutation may apply it, so its result's order is unknown.
    """
    if any(a.kind is Kind.PERM or a.blank_of for a in args) or reorders(node):
        return UNKNOWN
    if not args or all(
        a.kind is Kind.NUMBER or (a.kind is Kind.UNKNOWN and not a.root and a.perm is None) for a in args
    ):
        return Value(perm=IDENTITY)  # fresh data: `load_batch()`, `torch.randn(3, 4)`
    first = args[0]
    pieces = cuts_into_pieces(node)
    if len(args) == 1 and not node.keywords and first.kind in (Kind.OUTPUT, Kind.BATCH) and not pieces:
        return first.but(binding=None)
    if first.perm is None:
        return UNKNOWN
    return Value(
        Kind.TENSOR if first.is_tensor_like else Kind.UNKNOWN,
        perm=first.perm,
        from_rnn=first.from_rnn,
        device=first.device,
        root=first.root,
        container="list" if pieces else None,
    )


def opaque_rnn_result(packed: Value) -> Value:
    """`rnn(packed)` with an `rnn` we did not see built: only a recurrent module takes a PackedSequence."""
    common = dict(perm=packed.perm, from_rnn=True, root=packed.root)
    out = Value(Kind.PACKED, origin=packed.origin, **common)  # type: ignore[arg-type]
    return Value(Kind.TUPLE, items=(out, Value(Kind.STATE, **common)))  # type: ignore[arg-type]
