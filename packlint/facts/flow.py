"""The one analysis pass: a statement-order walk of every body that records what rules ask about.

Each function (and the module body) is walked once in statement order with an environment from
names to `Value`s. Where two paths disagree (branches, loops) the name becomes what both agree on,
usually UNKNOWN, so rules that need a fact stay quiet.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from packlint.facts.events import (
    Exit,
    PackCall,
    Reorder,
    RnnCall,
    SortSite,
    SubscriptRead,
    UnpackCall,
)
from packlint.facts.values import IDENTITY, UNKNOWN, Device, Kind, Order, Value, merge

RNN_MODULE = "torch.nn.utils.rnn"
RNN_FUNCTIONS = ("pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence")
RNN_CLASSES = ("LSTM", "GRU", "RNN")
_LENGTHS_PARAM = re.compile(r"(^|_)(lengths|lens|seq_lens)($|_)")
_LOSS_FUNCTIONS = re.compile(
    r"torch\.nn\.functional\.(cross_entropy|nll_loss|mse_loss|l1_loss|smooth_l1_loss|huber_loss|"
    r"binary_cross_entropy(_with_logits)?|kl_div|ctc_loss|cosine_embedding_loss|margin_ranking_loss)$"
)
_KEEP_METHODS = frozenset(
    "long int float double half bool byte contiguous detach clone type requires_grad_ "
    "squeeze view reshape flatten".split()
)
_MASK_METHODS = frozenset("ne gt ge eq lt le".split())
_CONVERSIONS = frozenset(
    "torch.tensor torch.as_tensor torch.LongTensor torch.Tensor torch.FloatTensor torch.from_numpy".split()
)
_KEEP_SORTED = _KEEP_METHODS | {"numpy", "tolist"}
_PERM_SHAPE_METHODS = frozenset("unsqueeze expand expand_as repeat view_as".split())


@dataclass
class FileFacts:
    """Everything the analysis pass learned about one file; rules only read this."""

    tree: ast.Module
    pack_calls: list[PackCall] = field(default_factory=list)
    unpack_calls: list[UnpackCall] = field(default_factory=list)
    rnn_calls: list[RnnCall] = field(default_factory=list)
    subscripts: list[SubscriptRead] = field(default_factory=list)
    reorders: list[Reorder] = field(default_factory=list)
    exits: list[Exit] = field(default_factory=list)
    sorts: list[SortSite] = field(default_factory=list)
    uses: dict[int, list[ast.Name]] = field(default_factory=dict)
    bindings: dict[int, tuple[str, ast.AST]] = field(default_factory=dict)
    used_calls: set[int] = field(default_factory=set)  # ids of RNN calls whose final state is read
    escaped: set[str] = field(default_factory=set)  # perm tokens that leave the function
    perm_names: dict[str, str] = field(default_factory=dict)
    uses_rnn_utils: bool = False
    _parents: dict[int, ast.AST] | None = None

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The syntactic parent of `node` (computed once, on first use)."""
        if self._parents is None:
            self._parents = {}
            for p in ast.walk(self.tree):
                for c in ast.iter_child_nodes(p):
                    self._parents[id(c)] = p
        return self._parents.get(id(node))

    def in_loop(self, node: ast.AST) -> bool:
        """Whether `node` runs in a `for`/`while` (or comprehension) of its own function."""
        current = self.parent(node)
        while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if isinstance(current, (ast.For, ast.AsyncFor, ast.While, ast.comprehension)):
                return True
            if isinstance(current, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                return True
            current = self.parent(current)
        return False

    def within(self, node: ast.AST, targets: set[int]) -> bool:
        """Whether `node` lies inside (or is) one of the expressions whose ids are `targets`,
        without leaving its statement."""
        current: ast.AST | None = node
        while current is not None and not isinstance(current, ast.stmt):
            if id(current) in targets:
                return True
            current = self.parent(current)
        return False

    def perm_label(self, token: str | None) -> str:
        """How to name a permutation token in a message."""
        if not token:
            return "the original order"
        return self.perm_names.get(token, token.split("@")[0])


def bool_literal(node: ast.expr | None) -> bool | None:
    """True/False for a literal, None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def argument(call: ast.Call, position: int | None, name: str) -> ast.expr | None:
    """The argument passed as `name` (by keyword or at `position`), if written."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and position < len(call.args):
        arg = call.args[position]
        if not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
            return arg
    return None


def is_opaque(call: ast.Call) -> bool:
    """Whether `*args` or `**kwargs` hide some arguments."""
    return any(isinstance(a, ast.Starred) for a in call.args) or any(kw.arg is None for kw in call.keywords)


def dotted(node: ast.expr) -> str | None:
    """`self.rnn` for an attribute chain rooted at a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def canonical(expr: ast.expr, var: str) -> str:
    """A key expression with its variable renamed, so that equal keys compare equal."""

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            return ast.Name(id="_v_" if node.id == var else node.id, ctx=ast.Load())

    return ast.dump(Rename().visit(_copy(expr)), annotate_fields=False)


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


def sort_key(key: ast.expr | None) -> str | None:
    """Canonical form of a `key=` argument: `len` and `lambda s: len(s)` are the same key."""
    if key is None:
        return canonical(ast.Name(id="_v_", ctx=ast.Load()), "_v_")
    if isinstance(key, ast.Name):
        call = ast.Call(func=key, args=[ast.Name(id="_v_", ctx=ast.Load())], keywords=[])
        return canonical(call, "_v_")
    if isinstance(key, ast.Lambda) and len(key.args.args) == 1 and not key.args.vararg:
        return canonical(key.body, key.args.args[0].arg)
    return None


def is_length_of(elt: ast.expr, var: str) -> bool:
    """`len(s)`, `s.size(0)`, `s.shape[0]`, `len(s[0])`: the length of something derived from `var`."""
    mentions = any(isinstance(n, ast.Name) and n.id == var for n in ast.walk(elt))
    if not mentions:
        return False
    if isinstance(elt, ast.Call) and isinstance(elt.func, ast.Name) and elt.func.id == "len":
        return len(elt.args) == 1
    if (
        isinstance(elt, ast.Call)
        and isinstance(elt.func, ast.Attribute)
        and elt.func.attr == "size"
        and len(elt.args) == 1
        and isinstance(elt.args[0], ast.Constant)
        and elt.args[0].value == 0
    ):
        return True
    return (
        isinstance(elt, ast.Subscript)
        and isinstance(elt.value, ast.Attribute)
        and elt.value.attr == "shape"
        and isinstance(elt.slice, ast.Constant)
        and elt.slice.value == 0
    )


class Walker:
    """Walks one body (function or module) in statement order, recording events into `facts`."""

    _counter = itertools.count(1)

    def __init__(
        self,
        facts: FileFacts,
        env: dict[str, Value],
        class_attrs: dict[str, Value] | None = None,
    ) -> None:
        self.facts = facts
        self.env = env
        self.class_attrs = class_attrs or {}
        self.recording = True
        self.deferred: list[tuple[ast.AST, dict[str, Value], dict[str, Value]]] = []
        self.current_stmt: ast.stmt | None = None

    # ----------------------------------------------------------------- statements
    def walk_body(self, body: Iterable[ast.stmt]) -> bool:
        """Walk statements; True when the body always leaves (return, raise, break, continue)."""
        for stmt in body:
            if self.walk_stmt(stmt):
                return True
        return False

    def walk_stmt(self, stmt: ast.stmt) -> bool:
        self.current_stmt = stmt
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.bind_imports(stmt)
        elif isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value)
            for target in stmt.targets:
                self.bind(target, value, stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.bind(stmt.target, self.eval(stmt.value), stmt)
        elif isinstance(stmt, ast.AugAssign):
            self.eval(stmt.value)
            self.eval(stmt.target) if isinstance(stmt.target, ast.Name) else None
            self.bind(stmt.target, UNKNOWN, stmt)
        elif isinstance(stmt, ast.Expr):
            self.eval(stmt.value)
        elif isinstance(stmt, ast.Return):
            value = self.eval(stmt.value) if stmt.value is not None else UNKNOWN
            self.escape(value)
            if self.recording:
                self.facts.exits.append(Exit(stmt, "return", tuple(flatten(value))))
            return True
        elif isinstance(stmt, (ast.Raise, ast.Break, ast.Continue)):
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.eval(child)
            return True
        elif isinstance(stmt, ast.If):
            self.eval(stmt.test)
            return self.branches([stmt.body, stmt.orelse])
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            self.walk_loop(stmt)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.eval(item.context_expr)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, UNKNOWN, stmt)
            return self.walk_body(stmt.body)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            return self.walk_try(stmt)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in stmt.decorator_list:
                self.eval(deco)
            self.env[stmt.name] = UNKNOWN
            self.deferred.append((stmt, known(self.env), self.class_attrs))
        elif isinstance(stmt, ast.ClassDef):
            self.env[stmt.name] = UNKNOWN
            self.deferred.append((stmt, known(self.env), {}))
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                key = dotted(target)
                if key is not None:
                    self.env.pop(key, None)
        elif type(stmt).__name__ == "Match":
            self.eval(stmt.subject)  # type: ignore[attr-defined]
            return self.branches([case.body for case in stmt.cases] + [[]])  # type: ignore[attr-defined]
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.eval(child)
        return False

    def branches(self, bodies: list[list[ast.stmt]]) -> bool:
        """Walk alternative bodies from the same state and keep what all continuing paths agree on."""
        start = dict(self.env)
        ends: list[dict[str, Value]] = []
        for body in bodies:
            self.env = dict(start)
            if not self.walk_body(body):
                ends.append(self.env)
        if not ends:
            self.env = start
            return True
        self.env = merge_envs(ends)
        return False

    def walk_loop(self, stmt: ast.For | ast.AsyncFor | ast.While) -> None:
        if isinstance(stmt, ast.While):
            self.eval(stmt.test)
        else:
            self.eval(stmt.iter)
        before = dict(self.env)
        recording = self.recording
        # First pass, silent: what the body changes, so the second pass starts from what holds
        # on every iteration.
        self.recording = False
        self.loop_target(stmt)
        self.walk_body(stmt.body)
        after = self.env
        self.recording = recording
        self.env = merge_envs([before, after])
        self.loop_target(stmt)
        self.walk_body(stmt.body)
        self.env = merge_envs([before, self.env])
        self.walk_body(stmt.orelse)

    def loop_target(self, stmt: ast.For | ast.AsyncFor | ast.While) -> None:
        if not isinstance(stmt, ast.While):
            self.bind(stmt.target, UNKNOWN, stmt)

    def walk_try(self, stmt: ast.stmt) -> bool:
        start = dict(self.env)
        ends: list[dict[str, Value]] = []
        if not self.walk_body(stmt.body) and not self.walk_body(stmt.orelse):  # type: ignore[attr-defined]
            ends.append(self.env)
        for handler in stmt.handlers:  # type: ignore[attr-defined]
            self.env = merge_envs([start, *ends]) if ends else dict(start)
            if handler.name:
                self.env[handler.name] = UNKNOWN
            if not self.walk_body(handler.body):
                ends.append(self.env)
        self.env = merge_envs(ends) if ends else start
        left = self.walk_body(stmt.finalbody)  # type: ignore[attr-defined]
        return left or not ends

    # ----------------------------------------------------------------- binding
    def new_binding(self, name: str, node: ast.AST) -> int:
        binding = next(self._counter)
        self.facts.bindings[binding] = (name, node)
        # A sort is recorded while its statement's right side is evaluated, before the targets bind.
        sorts = self.facts.sorts
        i = len(sorts) - 1
        while i >= 0 and self.current_stmt is not None and sorts[i].statement is self.current_stmt:
            sorts[i] = replace(sorts[i], bindings=(*sorts[i].bindings, binding))
            i -= 1
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
                spread = Value(perm=value.perm, root=value.root) if value.kind is Kind.TUPLE else UNKNOWN
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
                self.env[key] = Value(Kind.PERM, key, "tensor", perm=inverse(base.blank_of))
            elif key is not None and key in self.env and self.env[key].kind in (Kind.LENGTHS, Kind.PERM):
                self.env[key] = UNKNOWN
            elif key is not None and key in self.env and not all(is_plain_index(e) for e in elements):
                # `x[i] = seq`, `out[perm] = y`: rows written by position, so their order is not known.
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
        method = getattr(self, f"eval_{type(node).__name__}", None)
        if method is not None:
            return method(node)  # type: ignore[no-any-return]
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.eval(child)
            elif isinstance(child, ast.comprehension):
                self.eval(child.iter)
        return UNKNOWN

    def eval_Constant(self, node: ast.Constant) -> Value:
        if isinstance(node.value, str):
            text = node.value.split(":")[0]
            if text == "cpu":
                return Value(Kind.DEVICE, repr(node.value), device=Device.CPU)
            if text in ("cuda", "mps", "xpu", "npu", "hpu", "xla"):
                return Value(Kind.DEVICE, repr(node.value), device=Device.ACCELERATOR)
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return Value(Kind.NUMBER, repr(node.value))
        return UNKNOWN

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
        if node.attr in ("values", "indices") and base.kind is Kind.TENSOR:
            # `out.max(dim=1).values`: one row per batch row, as in `out`
            return Value(Kind.TENSOR, perm=base.perm, from_rnn=base.from_rnn, device=base.device, root=base.root)
        if base.kind is Kind.UNKNOWN and base.perm is not None:
            return Value(perm=base.perm, root=base.root)  # `batch.seqs`: same order as `batch`
        return UNKNOWN

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
        return merge(self.eval(node.body), self.eval(node.orelse))

    def eval_Lambda(self, node: ast.Lambda) -> Value:
        return UNKNOWN

    def eval_UnaryOp(self, node: ast.UnaryOp) -> Value:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.USub) and value.kind in (Kind.LENGTHS, Kind.NUMBER):
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
                SubscriptRead(node, base, index[0], lengths_name, lengths_container, self.torch_name())
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
        # Selecting with constants and slices keeps the batch order; any other index may reorder.
        perm = base.perm if all(is_plain_index(e) for e in elements) else None
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
            if source.sort_key is None:
                order = Order.UNSORTED
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
        if perm is not None and source.sort_key is not None:
            # After `batch.sort(key=len)`, `[torch.as_tensor(t) for t in batch]` keeps each length and
            # so the order; any other mapping may change the lengths, and their order is unknown.
            if self.keeps_length(node.elt, var):
                return source.but(kind=Kind.SEQS, container="list", perm=perm, binding=None, items=())
            return Value(Kind.SEQS, container="list", perm=perm, sort_key="?", root=source.root)
        if perm is not None:
            return Value(Kind.SEQS, container="list", order=Order.UNSORTED, perm=perm, root=source.root)
        return UNKNOWN

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

    # ----------------------------------------------------------------- calls
    def eval_Call(self, node: ast.Call) -> Value:
        func = node.func
        qual = self.qualname(func)
        if qual is not None:
            args = [self.eval(a) for a in node.args]
            kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg}
            return self.torch_call(qual, node, args, kwargs)
        key = dotted(func)
        callee = self.lookup(key) if key is not None else None
        if callee is not None and callee.kind is not Kind.UNKNOWN:
            self.eval(func)
            args = [self.eval(a) for a in node.args]
            for kw in node.keywords:
                self.eval(kw.value)
            return self.call_value(node, callee, args)
        if isinstance(func, ast.Attribute):
            receiver = self.eval(func.value)
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

    def escape(self, value: Value) -> None:
        """A permutation that leaves the function may be undone by the caller."""
        for item in flatten(value):
            if item.kind is Kind.PERM and item.perm:
                self.facts.escaped.add(item.perm.lstrip("~"))

    def call_value(self, node: ast.Call, callee: Value, args: list[Value]) -> Value:
        if callee.kind is Kind.RNN and args:
            return self.rnn_call(node, callee, args[0])
        if callee.kind is Kind.RNN and not args and node.keywords:
            return self.rnn_call(node, callee, self.eval(node.keywords[0].value))
        if callee.qualname == "<loss>":
            self.record_loss(node, args)
            return UNKNOWN
        if callee.kind is Kind.REF and callee.qualname:
            return self.torch_call(callee.qualname, node, args, {})
        return self.unknown_call(node, args, dotted(node.func))

    def rnn_call(self, node: ast.Call, module: Value, x: Value) -> Value:
        packed = x.kind is Kind.PACKED
        lengths = self.lengths_in_scope()
        # With lengths in scope, an unknown input is taken to be their padded batch; a state or
        # other result of an RNN (`h_n.unsqueeze(0)`) is not.
        padded = (
            not packed
            and not x.left_padded
            and (
                x.kind is Kind.BATCH
                or (x.kind is Kind.OUTPUT and x.padded)
                or (bool(lengths) and x.kind in (Kind.UNKNOWN, Kind.TENSOR) and not x.from_rnn)
            )
        )
        if self.recording:
            self.facts.rnn_calls.append(RnnCall(node, module, x, padded))
        common = dict(
            perm=x.perm,
            from_rnn=True,
            bidirectional=module.bidirectional,
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
        return UNKNOWN

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
                order = Order.UNSORTED
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
        token = f"{ast.unparse(node)}@{node.lineno}"
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
        if self.current_stmt is None:
            return None
        bindings = tuple(b for b, (_, stmt) in self.facts.bindings.items() if stmt is self.current_stmt)
        self.facts.sorts.append(SortSite(node, self.current_stmt, flag, flag_node, descending, bindings))
        return len(self.facts.sorts) - 1

    def tensor_sort(self, node: ast.Call, source: Value, descending_node: ast.expr | None, want_values: bool) -> Value:
        """`torch.sort(x)`, `x.sort(descending=True)`, `torch.argsort(x)`, `x.argsort()`."""
        if source.kind is Kind.PERM and source.perm:
            inv = Value(Kind.PERM, container="tensor", perm=inverse(source.perm))
            return Value(Kind.TUPLE, items=(UNKNOWN, inv)) if want_values else inv
        descending = bool_literal(descending_node) if descending_node is not None else False
        if descending is None or is_opaque(node):
            return UNKNOWN
        site = self.record_sort(node, "descending", descending_node, descending)
        token = f"{ast.unparse(node)}@{node.lineno}"
        effective = descending != source.negated
        order = Order.DESCENDING if effective else Order.ASCENDING
        perm = Value(
            Kind.PERM,
            container="tensor",
            perm=token,
            order=order,
            origin=source.origin if source.kind is Kind.LENGTHS else sorted_binding(source),
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
                perm=compose(source.perm, token) if source.perm is not None else None,
                sort_site=site,
                device=source.device,
                root=source.root,
            )
        else:
            values = UNKNOWN
        return Value(Kind.TUPLE, items=(values, perm))

    def device_of(self, node: ast.Call, arg: Value | None, arg_node: ast.expr | None) -> Device | None:
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
        if name is not None and "device" in name.split(".")[-1].lower():
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
        keywords = {kw.arg for kw in node.keywords}
        if name == "sort":
            if keywords & {"key", "reverse"} or receiver.container == "list" or receiver.kind is Kind.SEQS:
                reverse = argument(node, None, "reverse")
                direction = bool_literal(reverse) if reverse is not None else False
                key = dotted(func.value)
                if direction is None or key is None or is_opaque(node):
                    if key is not None:
                        self.env[key] = UNKNOWN
                    return UNKNOWN
                sorted_value = self.sorted_value(
                    node, receiver, argument(node, None, "key"), direction, "reverse", reverse
                )
                self.env[key] = sorted_value.but(label=key, binding=self.new_binding(key, node))
                return UNKNOWN
            stmt = self.current_stmt
            unpacked = (
                isinstance(stmt, ast.Assign)
                and stmt.value is node
                and isinstance(stmt.targets[0], ast.Tuple)
                and len(stmt.targets[0].elts) == 2
            )
            if receiver.kind in (Kind.LENGTHS, Kind.PERM) or keywords & {"descending", "dim"} or unpacked:
                return self.tensor_sort(node, receiver, argument(node, 1, "descending"), True)
            return UNKNOWN
        sortable = receiver.kind in (Kind.LENGTHS, Kind.PERM) or (
            receiver.kind in (Kind.UNKNOWN, Kind.TENSOR) and receiver.perm is not None
        )
        if name == "argsort" and sortable:
            return self.tensor_sort(node, receiver, argument(node, 1, "descending"), False)
        if name == "index_select" and len(args) == 2:
            return self.reorder(node, receiver, args[1])
        if name in ("scatter_", "scatter") and receiver.blank_of and len(args) >= 2:
            if args[1].kind is Kind.PERM and args[1].perm == receiver.blank_of:
                result = Value(Kind.PERM, container="tensor", perm=inverse(receiver.blank_of))
                key = dotted(func.value)
                if name == "scatter_" and key is not None:
                    self.env[key] = result.but(label=key)
                return result
        # A parameter moves too: `lengths.cuda()` of a `lengths` the caller passed in.
        movable = receiver.kind is not Kind.UNKNOWN or receiver.perm is not None
        if name in ("cuda", "to", "cpu") and movable:
            if name == "cuda":
                device: Device | None = Device.ACCELERATOR
            elif name == "cpu":
                device = Device.CPU
            else:
                target = node.args[0] if node.args else argument(node, None, "device")
                value = args[0] if node.args else kwargs.get("device")
                device = self.device_of(node, value, target)
            if device is not None:
                return receiver.but(device=device, binding=None)
            if receiver.kind is not Kind.UNKNOWN:
                return receiver
        if name == "tolist" and receiver.kind in (Kind.LENGTHS, Kind.PERM):
            return receiver.but(container="list", device=Device.CPU, binding=None)
        if name == "numpy" and receiver.kind in (Kind.LENGTHS, Kind.PERM):
            return receiver.but(container="numpy", device=Device.CPU, binding=None)
        if receiver.kind is Kind.TENSOR and receiver.order is not Order.UNKNOWN and name in _KEEP_SORTED:
            return receiver.but(binding=None)  # a parameter's lengths, sorted: `lengths.sort(0)[0].long()`
        if name in _KEEP_METHODS and receiver.kind in (Kind.LENGTHS, Kind.PERM, Kind.BATCH, Kind.OUTPUT):
            return receiver.but(binding=None)
        if name in _KEEP_METHODS and receiver.mask:
            return receiver
        if name in _MASK_METHODS and len(args) == 1 and (receiver.is_tensor_like or receiver.root):
            return Value(Kind.TENSOR, perm=receiver.perm, device=receiver.device, mask=True, root=receiver.root)
        if name == "sum" and receiver.mask and (node.args or "dim" in keywords):
            return Value(
                Kind.LENGTHS,
                container="tensor",
                order=Order.UNSORTED,
                perm=receiver.perm,
                device=receiver.device,
                origin=next(self._counter),
                root=receiver.root,
            )
        if name in ("backward", "step", "zero_grad"):
            return UNKNOWN
        if receiver.kind is Kind.SELF:
            return self.unknown_call(node, args, dotted(func))  # a submodule: `self.fc(h)`, `self.loss_fn(y, t)`
        if receiver.kind is Kind.PERM and name in _PERM_SHAPE_METHODS:
            return receiver.but(binding=None)  # `perm.unsqueeze(1).expand_as(out)`: still the permutation
        for arg in args:
            self.escape(arg)
        if any(a.kind is Kind.PERM or a.blank_of for a in args):
            return UNKNOWN
        if receiver.is_tensor_like or (receiver.kind is Kind.UNKNOWN and receiver.perm is not None):
            return Value(
                Kind.TENSOR if receiver.is_tensor_like else Kind.UNKNOWN,
                perm=receiver.perm,
                from_rnn=receiver.from_rnn,
                device=receiver.device,
                root=receiver.root,
            )
        return UNKNOWN

    def torch_call(self, qual: str, node: ast.Call, args: list[Value], kwargs: dict[str, Value]) -> Value:
        head, _, last = qual.rpartition(".")
        if head == RNN_MODULE and last in RNN_FUNCTIONS:
            self.facts.uses_rnn_utils = True
            return getattr(self, f"call_{last}")(node, args, kwargs)  # type: ignore[no-any-return]
        if last in RNN_CLASSES and head in ("torch.nn", "torch.nn.modules.rnn", "torch.nn.modules"):
            return self.rnn_module(node, last)
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
        if qual == "torch.device":
            return args[0] if args and args[0].kind is Kind.DEVICE else Value(Kind.DEVICE)
        if qual in ("torch.tensor", "torch.as_tensor", "torch.LongTensor", "torch.IntTensor", "torch.Tensor"):
            data = args[0] if args else UNKNOWN
            device = Device.CPU
            device_node = argument(node, None, "device")
            if device_node is not None:
                device = self.device_of(node, kwargs.get("device"), device_node) or Device.UNKNOWN
            if data.kind is Kind.LENGTHS:
                return data.but(container="tensor", device=device, binding=None)
            if data.kind is Kind.PERM:
                return data.but(container="tensor", binding=None)
            return Value(Kind.TENSOR, container="tensor", perm=data.perm, device=device, root=data.root)
        if qual in ("torch.sort", "torch.argsort") and args:
            descending = argument(node, 2, "descending")
            return self.tensor_sort(node, args[0], descending, qual == "torch.sort")
        if qual == "torch.randperm":
            return Value(Kind.PERM, container="tensor", perm=f"{ast.unparse(node)}@{node.lineno}")
        if qual == "torch.index_select" and len(args) == 3:
            return self.reorder(node, args[0], args[2])
        if qual in ("torch.empty_like", "torch.zeros_like") and args and args[0].kind is Kind.PERM:
            return Value(Kind.TENSOR, blank_of=args[0].perm)
        if qual == "torch.sum" and args and args[0].mask and len(node.args) + len(node.keywords) >= 2:
            return self.method_call(node, ast.Attribute(value=node.args[0], attr="sum"), args[0], args[1:], kwargs)
        if qual in ("torch.cat", "torch.stack") and args and args[0].kind is Kind.TUPLE:
            items = args[0].items
            perms = {i.perm for i in items}
            if items and len(perms) == 1 and all(i.is_tensor_like for i in items):
                return Value(
                    Kind.TENSOR,
                    perm=items[0].perm,
                    from_rnn=all(i.from_rnn for i in items),
                    root=items[0].root,
                )
            return UNKNOWN
        for arg in args:
            self.escape(arg)
        result = derived_call(node, args)
        return result.but(kind=Kind.TENSOR, container="tensor") if result.perm is not None else result

    def rnn_module(self, node: ast.Call, rnn_type: str) -> Value:
        opaque = is_opaque(node)

        def flag(position: int, name: str) -> bool | None:
            written = argument(node, position, name)
            if written is None:
                return None if opaque else False
            return bool_literal(written)

        return Value(
            Kind.RNN,
            rnn_type=rnn_type,
            batch_first=flag(4, "batch_first"),
            bidirectional=flag(6, "bidirectional"),
        )

    # ----------------------------------------------------------------- torch.nn.utils.rnn
    def flag_arg(self, node: ast.Call, position: int, name: str, default: bool) -> tuple[bool | None, ast.expr | None]:
        written = argument(node, position, name)
        if written is None:
            return (None if is_opaque(node) else default), None
        return bool_literal(written), written

    def call_pack_padded_sequence(self, node: ast.Call, args: list[Value], kwargs: dict[str, Value]) -> Value:
        x = args[0] if args else kwargs.get("input", UNKNOWN)
        lengths = args[1] if len(args) > 1 else kwargs.get("lengths", UNKNOWN)
        return self.pack(node, "pack_padded_sequence", x, lengths, argument(node, 1, "lengths"), 2, 3)

    def call_pack_sequence(self, node: ast.Call, args: list[Value], kwargs: dict[str, Value]) -> Value:
        seqs = args[0] if args else kwargs.get("sequences", UNKNOWN)
        if seqs.kind in (Kind.SEQS, Kind.LENGTHS) or (seqs.kind is Kind.UNKNOWN and seqs.root):
            order = seqs.order if seqs.kind is not Kind.UNKNOWN else Order.UNKNOWN
            if seqs.sort_key is not None and seqs.sort_key != sort_key(ast.Name(id="len", ctx=ast.Load())):
                order = Order.UNKNOWN
            lengths = Value(Kind.LENGTHS, seqs.label, order=order, perm=seqs.perm, sort_site=seqs.sort_site)
        else:
            lengths = UNKNOWN
        return self.pack(node, "pack_sequence", seqs, lengths, None, None, 1)

    def pack(
        self,
        node: ast.Call,
        function: str,
        x: Value,
        lengths: Value,
        lengths_node: ast.expr | None,
        batch_first_at: int | None,
        enforce_at: int,
    ) -> Value:
        if batch_first_at is None:
            batch_first: bool | None = True
            batch_first_node: ast.expr | None = None
        else:
            batch_first, batch_first_node = self.flag_arg(node, batch_first_at, "batch_first", False)
        enforce, enforce_node = self.flag_arg(node, enforce_at, "enforce_sorted", True)
        index = len(self.facts.pack_calls)
        call = PackCall(
            node,
            function,
            x,
            lengths,
            lengths_node,
            batch_first,
            batch_first_node,
            enforce,
            enforce_node,
            is_opaque(node),
            index,
        )
        if self.recording:
            self.facts.pack_calls.append(call)
        perm = x.perm if x.perm == lengths.perm or lengths.kind is Kind.UNKNOWN else None
        if function == "pack_sequence":
            perm = x.perm
        lengths_name = lengths_node.id if isinstance(lengths_node, ast.Name) else None
        return Value(
            Kind.PACKED,
            perm=perm,
            origin=index if self.recording else None,
            batch_first=batch_first,
            lengths_name=lengths_name,
            lengths_container=lengths.container,
            root=x.root,
        )

    def call_pad_packed_sequence(self, node: ast.Call, args: list[Value], kwargs: dict[str, Value]) -> Value:
        packed = args[0] if args else kwargs.get("sequence", UNKNOWN)
        batch_first, batch_first_node = self.flag_arg(node, 1, "batch_first", False)
        if self.recording:
            self.facts.unpack_calls.append(UnpackCall(node, packed, batch_first, batch_first_node, is_opaque(node)))
        if packed.kind is not Kind.PACKED:
            return UNKNOWN
        lengths_name = None
        if packed.origin is not None and packed.origin < len(self.facts.pack_calls):
            pack = self.facts.pack_calls[packed.origin]
            if isinstance(pack.lengths_node, ast.Name):
                bound = self.env.get(pack.lengths_node.id)
                if bound is not None and bound.binding == pack.lengths.binding:
                    lengths_name = pack.lengths_node.id
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

    def call_pad_sequence(self, node: ast.Call, args: list[Value], kwargs: dict[str, Value]) -> Value:
        seqs = args[0] if args else kwargs.get("sequences", UNKNOWN)
        batch_first, _ = self.flag_arg(node, 1, "batch_first", False)
        # torch 2.5+: padding at the front leaves every sequence's last step at the end.
        side = argument(node, 3, "padding_side")
        left = side is not None and not (isinstance(side, ast.Constant) and side.value == "right")
        return Value(Kind.BATCH, batch_first=batch_first, perm=seqs.perm, root=seqs.root, left_padded=left)


def is_plain_index(node: ast.expr) -> bool:
    """A constant index or a slice with constant bounds: `0`, `-1`, `"tokens"`, `:`, `1:`."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Slice):
        return all(part is None or is_plain_index(part) for part in (node.lower, node.upper, node.step))
    return False


def compose(current: str | None, token: str) -> str | None:
    """The perm of a value in order `current` after indexing it with permutation `token`."""
    if current is None:
        return None
    if current == IDENTITY:
        return token
    if token == inverse(current):
        return IDENTITY
    return None


def inverse(token: str) -> str:
    """The token of the permutation that undoes `token`."""
    return token[1:] if token.startswith("~") else f"~{token}"


def derived_call(node: ast.Call, args: list[Value]) -> Value:
    """The result of a call we do not model: it keeps the batch order of its first argument.

    `self.fc(h)` and `self.dropout(out)` keep the order of their input; a call that is given a
    permutation may apply it, so its result's order is unknown.
    """
    if any(a.kind is Kind.PERM or a.blank_of for a in args):
        return UNKNOWN
    if not args or all(
        a.kind is Kind.NUMBER or (a.kind is Kind.UNKNOWN and not a.root and a.perm is None) for a in args
    ):
        return Value(perm=IDENTITY)  # fresh data: `load_batch()`, `torch.randn(3, 4)`
    first = args[0]
    if len(args) == 1 and not node.keywords and first.kind in (Kind.OUTPUT, Kind.BATCH):
        return first.but(binding=None)
    if first.perm is None:
        return UNKNOWN
    return Value(
        Kind.TENSOR if first.is_tensor_like else Kind.UNKNOWN,
        perm=first.perm,
        from_rnn=first.from_rnn,
        device=first.device,
        root=first.root,
    )


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


def opaque_rnn_result(packed: Value) -> Value:
    """`rnn(packed)` with an `rnn` we did not see built: only a recurrent module takes a PackedSequence."""
    common = dict(perm=packed.perm, from_rnn=True, root=packed.root)
    out = Value(Kind.PACKED, origin=packed.origin, **common)  # type: ignore[arg-type]
    return Value(Kind.TUPLE, items=(out, Value(Kind.STATE, **common)))  # type: ignore[arg-type]


def flatten(value: Value) -> Iterator[Value]:
    """A value and, for tuples, every item inside."""
    if value.kind is Kind.TUPLE:
        for item in value.items:
            yield from flatten(item)
    else:
        yield value


def merge_envs(envs: list[dict[str, Value]]) -> dict[str, Value]:
    """Names bound on every path, each to what all paths agree on."""
    first, *rest = envs
    merged: dict[str, Value] = {}
    for name, value in first.items():
        for env in rest:
            other = env.get(name)
            if other is None:
                value = UNKNOWN if value.kind is not Kind.REF else value
                break
            if other is not value:
                value = merge(value, other)
        merged[name] = value
    for env in rest:
        for name, value in env.items():
            merged.setdefault(name, UNKNOWN if value.kind is not Kind.REF else value)
    return merged


def analyse(tree: ast.Module) -> FileFacts:
    """Run the analysis pass over a parsed module."""
    facts = FileFacts(tree)
    walker = Walker(facts, {})
    walker.walk_body(tree.body)
    module_env = {
        name: value for name, value in walker.env.items() if value.kind in (Kind.REF, Kind.RNN, Kind.OPTIMIZER)
    }
    # A function sees the module's imports, RNN modules and optimizers, not its other globals (which
    # may be rebound before it runs); copying those into every function made big modules quadratic.
    pending = [(node, module_env, attrs) for node, _, attrs in walker.deferred]
    while pending:
        node, env, attrs = pending.pop(0)
        if isinstance(node, ast.ClassDef):
            pending.extend(walk_class(facts, node, env))
        else:
            pending.extend(walk_function(facts, node, env, attrs))  # type: ignore[arg-type]
    return facts


def known(env: dict[str, Value]) -> dict[str, Value]:
    """The entries of `env` that say something (closures and nested functions get only these)."""
    return {name: value for name, value in env.items() if value.kind is not Kind.UNKNOWN}


def walk_function(
    facts: FileFacts,
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    env: dict[str, Value],
    class_attrs: dict[str, Value],
    recording: bool = True,
    is_method: bool = False,
) -> list[tuple[ast.AST, dict[str, Value], dict[str, Value]]]:
    """Walk one function body; returns the nested definitions still to walk."""
    env = dict(env)
    params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
    walker = Walker(facts, env, class_attrs)
    walker.recording = recording
    for default in [*node.args.defaults, *node.args.kw_defaults]:
        walker.eval(default)
    for i, arg in enumerate(params):
        if i == 0 and is_method:
            env[arg.arg] = Value(Kind.SELF, arg.arg)
        else:
            binding = walker.new_binding(arg.arg, node)
            env[arg.arg] = Value(label=arg.arg, perm=IDENTITY, param=True, binding=binding, root=arg.arg)
    for extra in (node.args.vararg, node.args.kwarg):
        if extra is not None:
            env[extra.arg] = UNKNOWN
    walker.walk_body(node.body)
    return walker.deferred if recording else []


def walk_class(
    facts: FileFacts, node: ast.ClassDef, env: dict[str, Value]
) -> list[tuple[ast.AST, dict[str, Value], dict[str, Value]]]:
    """Learn `self.x = nn.LSTM(...)` from every method, then walk each method with that knowledge."""
    attrs: dict[str, Value] = {}
    seen: dict[str, int] = {}
    methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for method in methods:
        self_name = method.args.args[0].arg if method.args.args else None
        for stmt in statements(method):
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == self_name
                    ):
                        seen[target.attr] = seen.get(target.attr, 0) + 1
                        attrs[target.attr] = attr_value(stmt.value, env)
    known = {name: value for name, value in attrs.items() if seen[name] == 1 and value.kind is not Kind.UNKNOWN}
    pending: list[tuple[ast.AST, dict[str, Value], dict[str, Value]]] = []
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in stmt.decorator_list)
            pending.extend(walk_function(facts, stmt, env, known, is_method=not static))
        elif isinstance(stmt, ast.ClassDef):
            pending.append((stmt, env, {}))
        else:
            Walker(facts, dict(env), known).walk_stmt(stmt)
    return pending


def statements(node: ast.AST) -> Iterator[ast.stmt]:
    """Every statement inside `node`, nested blocks included; expressions are not entered, since
    an assignment statement never sits inside one (ast.walk over them cost most of walk_class)."""
    for name in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, name, ()):
            if isinstance(child, ast.stmt):
                yield child
            yield from statements(child)


def attr_value(node: ast.expr, env: dict[str, Value]) -> Value:
    """What `self.x = <node>` stores, when it is a module or optimizer we recognise."""
    scratch = FileFacts(ast.Module(body=[], type_ignores=[]))
    walker = Walker(scratch, dict(env))
    walker.recording = False
    value = walker.eval(node)
    return value if value.kind in (Kind.RNN, Kind.OPTIMIZER) or value.qualname == "<loss>" else UNKNOWN
