"""Reductions over the time axis of padded RNN outputs: softmax, mean and max that see the padding.

A padded output is `out` of `out, _ = pad_packed_sequence(y)` (padding: zeros, or `padding_value`)
or of `out, h = rnn(padded)` where the RNN ran over a padded batch (padding: states driven through
pad steps). It is followed through the operations whose effect on the time axis is certain (a
`Linear`, elementwise activations, `bmm`/`matmul`, `transpose`, `squeeze`/`unsqueeze`, a sum over
the features) to a softmax, mean or max; anything else (a call we do not know, a `view`, a
per-sequence slice) ends the trail, and a mask (`masked_fill`, `torch.where`, adding or
multiplying by a mask-like value) ends it too. Rules stay quiet wherever the trail ends.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Union

from packlint.facts.file_facts import FileFacts
from packlint.facts.interpreter import Interpreter
from packlint.facts.nodes import Nodes
from packlint.facts.syntax import argument
from packlint.facts.tensors import import_names, qualified
from packlint.facts.values import UNKNOWN, Kind

# What a mask or lengths value is called: seeing one in an operand (or in scope) means masking.
_MASKY = re.compile(r"mask|len|valid|inf", re.IGNORECASE)
# A name that holds lengths or a mask, with which the padding could have been masked.
_EVIDENCE = re.compile(r"mask|len", re.IGNORECASE)
# Elementwise activations, by name: (keeps zero padding at zero, result is non-negative).
_ELEMENTWISE: dict[str, tuple[bool, bool]] = {
    "tanh": (True, False),
    "relu": (True, True),
    "relu6": (True, True),
    "leaky_relu": (True, False),
    "elu": (True, False),
    "gelu": (True, False),
    "sigmoid": (False, True),
    "exp": (False, True),
    "abs": (True, True),
    "dropout": (True, False),
}
_KEEPS = frozenset({"contiguous", "clone", "detach", "cuda", "cpu", "to", "float", "double", "half", "type_as"})
_TORCH_ACTIVATIONS = {f"torch.{n}" for n in ("tanh", "relu", "sigmoid", "exp", "abs")}
_FUNCTIONAL = "torch.nn.functional."
# Modules of a class whose effect on a per-step tensor is known: name -> (keeps zero, non-negative).
_MODULES: dict[str, tuple[bool, bool]] = {
    "torch.nn.Linear": (False, False),
    "torch.nn.Dropout": (True, False),
    "torch.nn.Tanh": (True, False),
    "torch.nn.ReLU": (True, True),
    "torch.nn.Sigmoid": (False, True),
}


@dataclass(frozen=True)
class Padded:
    """A tensor whose steps past each sequence's length are padding, with its time axis.

    `out` of `out, _ = pad_packed_sequence(y, batch_first=True)` is `Padded(rank=3, time=1, pad="zero")`;
    `torch.tanh(self.attn(out)).squeeze(-1)` of it is `Padded(rank=2, time=1, pad="any")`.
    """

    time: int  # the time axis, counted from the front
    rank: int | None  # number of dimensions, when known
    pad: str  # what the padding holds: "zero", "-inf", "const" (another constant) or "any"
    nonneg: bool  # every real value is >= 0 (after a ReLU)
    source: ast.Call = field(compare=False)  # the pad_packed_sequence or RNN call
    source_kind: str  # "unpack" or "rnn"


@dataclass(frozen=True)
class Weights:
    """The result of a recorded softmax, followed to see whether a mask is applied afterwards."""

    index: int


@dataclass
class Reduction:
    """`softmax`, `mean` or `max` over the time axis of a padded value, with no mask before it."""

    node: ast.Call
    op: str  # "softmax", "mean" or "max"
    value: Padded
    masked_after: bool = False  # softmax only: weights multiplied by a mask (and renormalised) later


def padded_reductions(facts: FileFacts) -> list[Reduction]:
    """Every softmax/mean/max over the time axis of a padded output the file shows, in source order
    (computed once per file: PKL204 and PKL205 both read it)."""
    return facts.derived(_padded_reductions)


def _padded_reductions(facts: FileFacts) -> list[Reduction]:
    seeds = _seeds(facts)
    if not seeds:
        return []
    nodes = facts.nodes
    names = import_names(facts.tree)
    modules = _class_modules(facts.tree, names, nodes)
    callees = Callees.of(facts.tree, names, modules, nodes)
    found: list[Reduction] = []
    for scope, attrs in _scopes(facts.tree, modules, nodes):
        if not any(id(n) in seeds for n in nodes.inside(scope, ast.Call)):  # every seed is a call
            continue
        walker = PaddingWalker(names, seeds, attrs, _masky_names(scope, nodes), callees, callees.owner.get(id(scope)))
        walker.walk(scope.body)
        found.extend(walker.found)
    # A helper reached from two calls is one place to report; unmasked on either path is reported.
    unique: dict[int, Reduction] = {}
    for reduction in found:
        kept = unique.get(id(reduction.node))
        if kept is None or (kept.masked_after and not reduction.masked_after):
            unique[id(reduction.node)] = reduction
    return sorted(unique.values(), key=lambda r: (r.node.lineno, r.node.col_offset))


Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Callees:
    """Same-file code a padded value can be passed to: module-level functions, each class's methods,
    and `self.x = LocalModule(...)` attributes (called through their `forward`)."""

    functions: dict[str, Function]
    methods: dict[int, dict[str, Function]]  # class id -> name -> method
    submodules: dict[int, dict[str, ast.ClassDef]]  # class id -> attribute -> same-file module class
    owner: dict[int, ast.ClassDef]  # method id -> its class
    attrs: dict[int, dict[str, tuple[bool, bool]]]  # class id -> known per-step modules

    @staticmethod
    def of(
        tree: ast.Module, names: dict[str, str], attrs: dict[int, dict[str, tuple[bool, bool]]], nodes: Nodes
    ) -> Callees:
        """Index the file's functions, methods and module attributes."""
        functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        classes = {n.name: n for n in nodes.walk(tree, ast.ClassDef)}  # `ast.walk`'s order: the last one wins
        methods: dict[int, dict[str, Function]] = {}
        submodules: dict[int, dict[str, ast.ClassDef]] = {}
        owner: dict[int, ast.ClassDef] = {}
        for cls in classes.values():
            own = {n.name: n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            methods[id(cls)] = own
            for method in own.values():
                owner[id(method)] = cls
            built: dict[str, list[ast.expr]] = {}
            for node in nodes.inside(cls, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        built.setdefault(target.attr, []).append(node.value)
            submodules[id(cls)] = {
                attr: classes[values[0].func.id]
                for attr, values in built.items()
                if len(values) == 1
                and isinstance(values[0], ast.Call)
                and isinstance(values[0].func, ast.Name)
                and values[0].func.id in classes
                and values[0].func.id not in names
            }
        return Callees(functions, methods, submodules, owner, attrs)


def _seeds(facts: FileFacts) -> dict[int, Padded]:
    """Calls whose first result is a padded per-step output of known layout."""
    seeds: dict[int, Padded] = {}
    for unpack in facts.unpack_calls:
        if unpack.batch_first is None or unpack.opaque or unpack.packed.kind is not Kind.PACKED:
            continue
        rank = 3 if unpack.packed.from_rnn else None
        seeds[id(unpack.node)] = Padded(
            1 if unpack.batch_first else 0, rank, _padding_value(unpack.node), False, unpack.node, "unpack"
        )
    for call in facts.rnn_calls:
        if call.module.batch_first is None or call.input.kind is Kind.PACKED:
            continue
        # Over padding: a padded batch, or (checked when a reduction is recorded) a value we know
        # nothing of, not an RNN's own result, with lengths or a mask in scope.
        unknown = call.input.kind in (Kind.UNKNOWN, Kind.TENSOR) and not call.input.from_rnn
        if not (call.padded or call.input.kind is Kind.BATCH or (unknown and call.input != UNKNOWN)):
            continue
        if call.input.kind not in (Kind.BATCH, Kind.OUTPUT) and facts.in_loop(call.node):
            continue  # a step-by-step decoder: each call sees one step
        seeds[id(call.node)] = Padded(1 if call.module.batch_first else 0, 3, "any", False, call.node, "rnn")
    return seeds


def _padding_value(call: ast.Call) -> str:
    """What `pad_packed_sequence(..., padding_value=v)` puts past each length."""
    node = argument(call, 2, "padding_value")
    if node is None:
        return "zero"
    number = _number(node)
    if number is None:
        return "-inf" if _is_negative_infinity(node) else "any"
    if number == 0:
        return "zero"
    return "-inf" if number <= -1e4 else "const"


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def _is_negative_infinity(node: ast.expr) -> bool:
    """`float("-inf")`, `-float("inf")`, `-math.inf`, `-np.inf`, `-torch.inf`."""
    text = ast.unparse(node).replace(" ", "")
    return (text.startswith("-") and "inf" in text) or "'-inf'" in text or '"-inf"' in text


def _class_modules(tree: ast.Module, names: dict[str, str], nodes: Nodes) -> dict[int, dict[str, tuple[bool, bool]]]:
    """For each class: `self.x` attributes assigned exactly once, to a module whose effect is known."""
    result: dict[int, dict[str, tuple[bool, bool]]] = {}
    for cls in nodes.inside(tree, ast.ClassDef):
        seen: dict[str, list[ast.expr]] = {}
        for node in nodes.inside(cls, ast.Assign, ast.AugAssign, ast.AnnAssign):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        seen.setdefault(target.attr, []).append(node.value)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, ast.Attribute):
                seen.setdefault(node.target.attr, []).append(node.value or node.target)
        known = {}
        for attr, values in seen.items():
            if len(values) == 1 and isinstance(values[0], ast.Call):
                effect = _MODULES.get(qualified(values[0].func, names) or "")
                if effect is not None:
                    known[attr] = effect
        result[id(cls)] = known
    return result


def _scopes(
    tree: ast.Module, modules: dict[int, dict[str, tuple[bool, bool]]], nodes: Nodes
) -> Iterator[tuple[ast.Module | ast.FunctionDef | ast.AsyncFunctionDef, dict[str, tuple[bool, bool]]]]:
    """The module and every function (in `ast.walk`'s order), with the known modules of the class a
    method belongs to."""
    yield tree, {}
    methods: dict[int, dict[str, tuple[bool, bool]]] = {}
    for node in nodes.inside(tree, ast.ClassDef):
        for item in node.body:
            methods[id(item)] = modules.get(id(node), {})
    for function in nodes.walk(tree, ast.FunctionDef, ast.AsyncFunctionDef):
        yield function, methods.get(id(function), {})


def _masky_names(scope: ast.AST, nodes: Nodes | None = None) -> frozenset[str]:
    """Names in this scope that hold (or are named like) a mask or lengths."""
    names: set[str] = set()
    for node in nodes.inside(scope, ast.arg, ast.Name) if nodes is not None else ast.walk(scope):
        if isinstance(node, ast.arg) and _MASKY.search(node.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and node.id != "len" and _MASKY.search(node.id):
            names.add(node.id)
    return frozenset(names)


class PaddingWalker(Interpreter[Union[Padded, Weights]]):
    """A statement-order walk of one body (packlint.facts.interpreter), following padded values."""

    def __init__(
        self,
        names: dict[str, str],
        seeds: dict[int, Padded],
        attrs: dict[str, tuple[bool, bool]],
        masky: frozenset[str],
        callees: Callees | None = None,
        cls: ast.ClassDef | None = None,
        found: list[Reduction] | None = None,
        stack: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.names = names
        self.seeds = seeds
        self.attrs = attrs
        self.masky = set(masky)
        self.has_lengths = any(_EVIDENCE.search(name) for name in masky)
        self.found: list[Reduction] = [] if found is None else found
        self.callees = callees
        self.cls = cls
        self.stack = stack  # the helpers being walked, innermost last
        self.returns: list[Padded | Weights | None] = []

    # ------------------------------------------------------------------ statements
    def assign(self, stmt: ast.Assign) -> Padded | Weights | None:
        value = super().assign(stmt)
        if value is None and self.seed_of(stmt.value) is None and _builds_mask(stmt.value):
            for target in stmt.targets:
                self.masky.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        return value

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        self.eval(stmt.value)
        weights = self.env.get(stmt.target.id) if isinstance(stmt.target, ast.Name) else None
        if isinstance(weights, Weights):
            self.weights_op(weights, stmt.value, stmt.op)  # `alpha *= mask`
        else:
            self.forget(stmt.target)  # `scores += bias`: what the padding holds is unknown

    def returned(self, stmt: ast.Return) -> None:
        self.returns.append(self.eval(stmt.value))

    def other(self, stmt: ast.stmt) -> None:
        super().other(stmt)
        if isinstance(stmt, ast.Expr):
            self.in_place(stmt.value)

    def in_place(self, node: ast.expr) -> None:
        """`scores.masked_fill_(mask, -inf)`, `scores.data.masked_fill_(...)`: changed where it lies, so what
        its padding holds is no longer known (weights changed so are masked afterwards)."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.endswith("_")):
            return
        base = node.func.value
        if isinstance(base, ast.Attribute) and base.attr == "data":
            base = base.value
        if isinstance(base, ast.Name) and isinstance(self.env.get(base.id), Padded):
            del self.env[base.id]

    def bind_pattern(self, target: ast.expr, value_node: ast.expr | None, value: Padded | Weights | None) -> None:
        seed = self.seed_of(value_node)
        if seed is not None and isinstance(target, (ast.Tuple, ast.List)) and target.elts:
            # `out, _ = pad_packed_sequence(y)`, `out, (h, c) = self.lstm(padded)`: the first is the output.
            self.forget(target)
            first = target.elts[0]
            if isinstance(first, ast.Name):
                self.env[first.id] = seed
            return
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            # `scores[~mask] = -inf`: written through an index, so what the padding holds is unknown.
            self.env.pop(target.value.id, None)
            return
        self.forget(target)

    def seed_of(self, node: ast.expr | None) -> Padded | None:
        if isinstance(node, ast.Call):
            return self.seeds.get(id(node))
        return None

    # ------------------------------------------------------------------ masks
    def is_masky(self, node: ast.expr) -> bool:
        """An operand that is (or is built from) a mask or lengths, infinity, or a huge constant."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id != "len" and (sub.id in self.masky or _MASKY.search(sub.id)):
                return True
            if isinstance(sub, ast.Attribute) and _MASKY.search(sub.attr):
                return True
            if isinstance(sub, ast.Constant):
                if isinstance(sub.value, str) and "inf" in sub.value:
                    return True
                number = _number(sub)
                if number is not None and abs(number) >= 1e4:
                    return True
            if isinstance(sub, ast.Compare):
                return True
        return False

    def weights_op(self, weights: Weights, other: ast.expr, op: ast.operator) -> None:
        """`alpha * mask`, `alpha = alpha.masked_fill(...)`: the mask comes after the softmax."""
        if isinstance(op, (ast.Mult, ast.Div)) and self.is_masky(other):
            self.found[weights.index].masked_after = True

    # ------------------------------------------------------------------ expressions
    def eval(self, node: ast.expr | None) -> Padded | Weights | None:
        if node is None:
            return None
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.eval(child)
            elif isinstance(child, ast.comprehension):
                self.eval(child.iter)
        return None

    def subscript(self, node: ast.Subscript) -> Padded | Weights | None:
        base = self.eval(node.value)
        self.eval(node.slice)
        seed = self.seed_of(node.value)
        if seed is not None and _constant(node.slice) == 0:
            return seed  # `pad_packed_sequence(y)[0]`, `self.rnn(padded)[0]`
        if not isinstance(base, Padded):
            return None
        # `out[:, :, :h]`: full slices up to the time axis keep it where it was; an index or a bounded
        # slice on the batch or time axis is per-sequence code, which we do not follow.
        elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        rank = base.rank
        for i, element in enumerate(elements):
            full = isinstance(element, ast.Slice) and element.lower is None and element.upper is None
            if i <= base.time and not full:
                return None
            if not isinstance(element, ast.Slice):
                if isinstance(element, ast.Starred) or _constant(element) is None:
                    return None
                rank = None if rank is None else rank - 1  # an index past the time axis drops that axis
        return replace(base, rank=rank)

    def binop(self, node: ast.BinOp) -> Padded | Weights | None:
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.op, ast.MatMult):
            return self.matmul(left, right, node.left, node.right)
        for mine, other_node in ((left, node.right), (right, node.left)):
            if isinstance(mine, Weights):
                self.weights_op(mine, other_node, node.op)
                return mine if isinstance(node.op, (ast.Mult, ast.Div)) else None
        padded = left if isinstance(left, Padded) else right if isinstance(right, Padded) else None
        if padded is None:
            return None
        other_node = node.right if padded is left else node.left
        other = right if padded is left else left
        if self.is_masky(other_node):
            return None  # `scores + (1 - mask) * -1e9`, `out * mask`: masked
        if isinstance(other, Padded):
            return replace(padded, pad="any", nonneg=False) if other.time == padded.time else None
        number = _number(other_node)
        if isinstance(node.op, ast.Mult) or (isinstance(node.op, ast.Div) and padded is left):
            # 0 * x and 0 / x stay 0: zero padding stays zero; a positive scale keeps the sign.
            pad = "zero" if padded.pad == "zero" else "any"
            return replace(padded, pad=pad, nonneg=padded.nonneg and number is not None and number > 0)
        if isinstance(node.op, (ast.Add, ast.Sub)) and number == 0:
            return padded
        return replace(padded, pad="any", nonneg=False)

    def matmul(self, left: object, right: object, left_node: ast.expr, right_node: ast.expr) -> Padded | None:
        """`out @ w`, `torch.bmm(out, q)`, `torch.bmm(q, out.transpose(1, 2))` on 3-D values."""
        if self.is_masky(left_node if isinstance(right, Padded) else right_node):
            return None
        if isinstance(left, Padded) and not isinstance(right, Padded):
            # (B, T, H) @ (B, H, K) -> (B, T, K): the time axis stays unless it was the last one.
            if left.rank is None or left.time == left.rank - 1:
                return None
            return replace(left, pad="zero" if left.pad == "zero" else "any", nonneg=False)
        if isinstance(right, Padded) and not isinstance(left, Padded):
            # (B, K, H) @ (B, H, T) -> (B, K, T): the time axis must be the last one of the right side.
            if right.rank is None or right.time != right.rank - 1:
                return None
            return replace(right, pad="zero" if right.pad == "zero" else "any", nonneg=False)
        return None

    def call(self, node: ast.Call) -> Padded | Weights | None:
        func = node.func
        args = [self.eval(a) for a in node.args]
        kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords}
        if id(node) in self.seeds:
            return None  # bound through `bind` or `[0]`: the call itself is a tuple
        if any(isinstance(v, (Padded, Weights)) for v in [*args, *kwargs.values()]):
            callee = self.callee(func)
            if callee is not None:
                return self.follow(node, *callee, args, kwargs)
        q = qualified(func, self.names)
        if isinstance(func, ast.Attribute) and q is None:
            base = self.eval(func.value)
            if isinstance(base, Weights):
                if func.attr in ("masked_fill", "masked_fill_") or (
                    func.attr in ("mul", "mul_") and node.args and self.is_masky(node.args[0])
                ):
                    self.found[base.index].masked_after = True
                # Reshaped, moved or renormalised, they are still the same weights.
                return base if func.attr not in ("sum", "mean", "max", "bmm", "matmul") else None
            if isinstance(base, Padded):
                return self.method(base, func.attr, node)
            if (
                isinstance(func.value, ast.Name)
                and func.value.id == "self"
                and func.attr in self.attrs
                and len(node.args) == 1
                and not node.keywords
                and isinstance(args[0], Padded)
            ):
                keeps, nonneg = self.attrs[func.attr]
                return _activated(args[0], keeps, nonneg)
            return None
        if q is None:
            return None
        first = args[0] if args else None
        name = q.rsplit(".", 1)[-1]
        if q in _TORCH_ACTIVATIONS or (q.startswith(_FUNCTIONAL) and name in _ELEMENTWISE):
            if isinstance(first, Padded):
                keeps, nonneg = _ELEMENTWISE[name]
                return _activated(first, keeps, nonneg)
            return None
        if q in ("torch.bmm", "torch.matmul") and len(node.args) == 2:
            return self.matmul(args[0], args[1], node.args[0], node.args[1])
        if q in ("torch.softmax", _FUNCTIONAL + "softmax") and isinstance(first, Padded):
            return self.softmax(node, first, argument(node, 1, "dim"))
        if q in ("torch.mean", "torch.max", "torch.amax") and isinstance(first, Padded):
            return self.pool(node, first, name, argument(node, 1, "dim"))
        if q == "torch.sum" and isinstance(first, Padded):
            return self.summed(first, argument(node, 1, "dim"), node)
        if q == "torch.transpose" and isinstance(first, Padded) and len(node.args) == 3:
            return _transposed(first, node.args[1], node.args[2])
        return None

    def callee(self, func: ast.expr) -> tuple[Function, ast.ClassDef | None] | None:
        """The same-file function, method or module `forward` that `func` calls, if one is certain."""
        callees = self.callees
        if callees is None or len(self.stack) >= 2:
            return None  # two helpers deep is where the trail stops
        if isinstance(func, ast.Name) and func.id in callees.functions:
            return callees.functions[func.id], None
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"):
            return None
        if self.cls is None:
            return None
        method = callees.methods.get(id(self.cls), {}).get(func.attr)
        if method is not None:
            return method, self.cls
        module = callees.submodules.get(id(self.cls), {}).get(func.attr)
        forward = callees.methods.get(id(module), {}).get("forward") if module is not None else None
        return (forward, module) if forward is not None and module is not None else None

    def follow(
        self,
        node: ast.Call,
        fn: Function,
        cls: ast.ClassDef | None,
        args: list[Padded | Weights | None],
        kwargs: dict[str | None, Padded | Weights | None],
    ) -> Padded | Weights | None:
        """Walk a same-file helper with what its parameters receive; what it returns, if all agree."""
        if id(fn) in self.stack or fn.args.vararg or any(isinstance(a, ast.Starred) for a in node.args):
            return None
        if None in kwargs:
            return None  # `**options`: we cannot see every argument
        params = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]]
        if cls is not None:
            params = params[1:]  # `self`
        if len(node.args) > len(params):
            return None
        bound = dict(zip(params, zip(args, node.args)))
        kw_nodes = {kw.arg: kw.value for kw in node.keywords}
        for name, value in kwargs.items():
            assert name is not None
            bound[name] = (value, kw_nodes[name])
        # A parameter that receives a mask is a mask, whatever it is called there.
        masky = set(_masky_names(fn)) | {p for p, (_, written) in bound.items() if self.is_masky(written)}
        attrs = self.callees.attrs.get(id(cls), {}) if self.callees is not None and cls is not None else {}
        helper = PaddingWalker(
            self.names, self.seeds, attrs, frozenset(masky), self.callees, cls, self.found, (*self.stack, id(fn))
        )
        helper.has_lengths = helper.has_lengths or self.has_lengths
        helper.env = {p: v for p, (v, _) in bound.items() if v is not None}
        helper.walk(fn.body)
        first = helper.returns[0] if helper.returns else None
        return first if all(r == first for r in helper.returns) else None

    def method(self, base: Padded, name: str, node: ast.Call) -> Padded | Weights | None:
        if name in _KEEPS:
            return base
        if name in ("masked_fill", "masked_fill_", "masked_scatter", "where", "mul", "mul_"):
            if name in ("mul", "mul_") and node.args and not self.is_masky(node.args[0]):
                return replace(base, nonneg=False)
            return None  # masked
        if name in _ELEMENTWISE and not node.args:
            keeps, nonneg = _ELEMENTWISE[name]
            return _activated(base, keeps, nonneg)
        if name == "softmax":
            return self.softmax(node, base, argument(node, 0, "dim"))
        if name in ("mean", "max", "amax"):
            return self.pool(node, base, name, argument(node, 0, "dim"))
        if name == "sum":
            return self.summed(base, argument(node, 0, "dim"), node)
        if name in ("transpose", "permute", "squeeze", "unsqueeze"):
            return self.reshaped(base, name, node)
        if name in ("bmm", "matmul") and len(node.args) == 1:
            return self.matmul(base, self.eval(node.args[0]), node.func, node.args[0])
        return None

    def reshaped(self, base: Padded, name: str, node: ast.Call) -> Padded | None:
        if name == "transpose" and len(node.args) == 2:
            return _transposed(base, node.args[0], node.args[1])
        if name == "permute" and base.rank is not None:
            dims = [_constant(a) for a in node.args]
            if len(dims) == 1 and isinstance(node.args[0], (ast.Tuple, ast.List)):
                dims = [_constant(a) for a in node.args[0].elts]
            if len(dims) != base.rank or any(d is None for d in dims):
                return None
            order = [d % base.rank for d in dims if d is not None]
            return replace(base, time=order.index(base.time)) if base.time in order else None
        dim = _axis(node.args[0], base.rank + (1 if name == "unsqueeze" else 0)) if base.rank and node.args else None
        if dim is None or base.rank is None:
            return None
        if name == "squeeze":
            if dim == base.time:
                return None
            return replace(base, rank=base.rank - 1, time=base.time - (1 if dim < base.time else 0))
        return replace(base, rank=base.rank + 1, time=base.time + (1 if dim <= base.time else 0))

    def summed(self, base: Padded, dim_node: ast.expr | None, node: ast.Call) -> Padded | None:
        """A sum over the features keeps the time axis; a sum over time is correct for zero padding."""
        if dim_node is None or base.rank is None or _keepdim(node):
            return None
        dim = _axis(dim_node, base.rank)
        if dim is None or dim == base.time:
            return None
        return replace(base, rank=base.rank - 1, time=base.time - (1 if dim < base.time else 0), nonneg=False)

    def softmax(self, node: ast.Call, base: Padded, dim_node: ast.expr | None) -> Padded | Weights | None:
        if dim_node is None:
            # torch's legacy implicit dim (`_get_softmax_dim`): 0 for 0-, 1- and 3-D input, else 1.
            if base.rank is None:
                return None
            dim: int | None = 0 if base.rank in (0, 1, 3) else 1
        else:
            dim = _axis(dim_node, base.rank)
        if dim is None:
            return None
        if dim != base.time:
            return replace(base, pad="any", nonneg=True)  # over the features: still per-step
        if base.pad == "-inf":
            return None  # padded with -inf: exp gives those steps exactly zero weight
        if not self.evidence(base):
            return None
        self.found.append(Reduction(node, "softmax", base))
        return Weights(len(self.found) - 1)

    def pool(self, node: ast.Call, base: Padded, name: str, dim_node: ast.expr | None) -> Padded | None:
        """Record a mean or max over the time axis; the pooled value has no time axis left to follow."""
        if dim_node is None:
            return None
        dim = _axis(dim_node, base.rank)
        if dim is None or dim != base.time:
            return None
        op = "mean" if name == "mean" else "max"
        if op == "max" and (base.pad == "-inf" or (base.pad == "zero" and base.nonneg)):
            return None  # padding can never win: -inf, or zeros under non-negative values
        if self.evidence(base):
            self.found.append(Reduction(node, op, base))
        return None

    def evidence(self, base: Padded) -> bool:
        """Lengths or a mask to mask with: `pad_packed_sequence` returns them; after an RNN over a
        padded batch, a name in scope must hold them."""
        return base.source_kind == "unpack" or self.has_lengths


def _builds_mask(node: ast.expr) -> bool:
    """`mask = torch.arange(t)[None] < lengths[:, None]`, `m = batch.mask.float()`: a mask, by its making."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Compare):
            return True
        if isinstance(sub, ast.Name) and "mask" in sub.id.lower():
            return True
        if isinstance(sub, ast.Attribute) and "mask" in sub.attr.lower():
            return True
    return False


def _activated(base: Padded, keeps_zero: bool, nonneg: bool) -> Padded:
    if base.pad == "zero":
        pad = "zero" if keeps_zero else "const"
    elif base.pad == "-inf":
        pad = "zero" if nonneg and keeps_zero else "const"  # relu(-inf) = 0; tanh(-inf) = -1
    else:
        pad = base.pad
    return replace(base, pad=pad, nonneg=nonneg or (base.nonneg and keeps_zero))


def _transposed(base: Padded, a: ast.expr, b: ast.expr) -> Padded | None:
    if base.rank is None:
        return None
    i, j = _axis(a, base.rank), _axis(b, base.rank)
    if i is None or j is None:
        return None
    time = j if base.time == i else i if base.time == j else base.time
    return replace(base, time=time)


def _constant(node: ast.expr) -> int | None:
    number = _number(node)
    return int(number) if number is not None and number == int(number) else None


def _axis(node: ast.expr | None, rank: int | None) -> int | None:
    """A literal dim, counted from the front (negative dims need the rank)."""
    if node is None:
        return None
    dim = _constant(node)
    if dim is None or (dim < 0 and rank is None):
        return None
    if dim < 0:
        assert rank is not None
        dim += rank
    return dim


def _keepdim(node: ast.Call) -> bool:
    keep = argument(node, None, "keepdim")
    return not (keep is None or (isinstance(keep, ast.Constant) and keep.value is False))
