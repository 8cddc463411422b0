"""What reaches an RNN: whether it holds integers and how many dimensions it has, where the file shows it.

Only tensors built in the file are followed (`torch.tensor([1, 2, 3])`, `.long()`, `dtype=torch.long`),
through lists of them, `pad_sequence`, packing, reordering and device moves. Anything else (a parameter,
an embedding's output, a call we do not know) is unknown, and rules stay quiet on it.
"""

from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass, field

from packlint.facts.file_facts import FileFacts
from packlint.facts.interpreter import Interpreter
from packlint.facts.syntax import argument, dotted, scopes, statements

INTEGER_DTYPES = frozenset({"long", "int64", "int", "int32", "int16", "short", "int8", "uint8"})
FLOAT_DTYPES = frozenset({"float", "float32", "double", "float64", "half", "float16", "bfloat16"})
# Methods that keep a tensor's dtype and shape (device moves, copies).
KEEPS = frozenset({"cuda", "cpu", "contiguous", "clone", "detach", "requires_grad_", "pin_memory"})
# Methods that keep the dtype but may change the shape.
RESHAPES = frozenset({"view", "reshape", "squeeze", "permute", "transpose", "flatten", "expand", "repeat", "t"})
RECURRENT = frozenset({"torch.nn.LSTM", "torch.nn.GRU", "torch.nn.RNN"})
RNN_UTILS = "torch.nn.utils.rnn."


@dataclass(frozen=True)
class Shape:
    """A tensor (or list of tensors, or PackedSequence) built in this file, as far as it is known.

    `torch.tensor([1, 2, 3])` is `Shape("tensor", integer=True, rank=1)`; a list of those is
    `Shape("seqs", ...)` with each element's rank; `pad_sequence` of it is `Shape("tensor", rank=2,
    padded=True)`; packing that is `Shape("packed", rank=2)`, the rank of the padded input.
    """

    form: str  # "tensor", "seqs", "packed" or "perm"
    integer: bool | None = None
    rank: int | None = None
    padded: bool = False  # a padded batch of sequences (B×T×...), not one unbatched sequence
    origin: ast.expr | None = field(default=None, compare=False)  # where the dtype became known
    pack_input: ast.expr | None = field(default=None, compare=False)  # `x` of `pack_padded_sequence(x, ...)`


@dataclass(frozen=True)
class RnnInput:
    """The first argument of a call to an RNN module that the file builds."""

    call: ast.Call
    arg: ast.expr
    shape: Shape | None
    constructor: ast.Call | None  # `nn.LSTM(...)` that built the module, when one assignment shows it
    input_size: int | None  # a literal `input_size`, else None


def rnn_inputs(facts: FileFacts) -> list[RnnInput]:
    """The inputs of every RNN call the analysis recognised, with what this module knows of each."""
    return list(facts.derived(_rnn_inputs))  # computed once per file, for each rule that reads them


def _rnn_inputs(facts: FileFacts) -> tuple[RnnInput, ...]:
    targets = {id(c.node): c.node for c in facts.rnn_calls}
    if not targets:
        return ()
    names = import_names(facts.tree)
    found: dict[int, Shape | None] = {}
    lines = sorted({call.lineno for call in targets.values()})
    for scope in scopes(facts.tree):
        # A scope's walk records only the calls of its own body (nested ones are scopes of their own),
        # so one whose lines hold no RNN call has nothing to say.
        if isinstance(scope, ast.Module) or _spans(scope, lines):
            TensorWalker(names, targets, found).walk(scope.body)
    inputs = []
    for call in (c.node for c in facts.rnn_calls):
        arg = call.args[0] if call.args else (call.keywords[0].value if call.keywords else None)
        if arg is None or isinstance(arg, ast.Starred):
            continue
        constructor = constructor_of(facts, call, names)
        inputs.append(RnnInput(call, arg, found.get(id(call)), constructor, input_size(constructor)))
    return tuple(inputs)


def _spans(scope: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[int]) -> bool:
    """Whether one of the sorted `lines` lies within the lines of `scope`."""
    at = bisect.bisect_left(lines, scope.lineno)
    return at < len(lines) and lines[at] <= (scope.end_lineno or scope.lineno)


def import_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name it was imported as, for torch names (`nn` -> `torch.nn`)."""
    names: dict[str, str] = {}
    for node in statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "torch":
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        names["torch"] = "torch"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def qualified(node: ast.expr, names: dict[str, str]) -> str | None:
    """`torch.nn.utils.rnn.pad_sequence` for `R.pad_sequence`, when the head is an imported torch name."""
    written = dotted(node)
    if written is None:
        return None
    head, dot, rest = written.partition(".")
    return names[head] + dot + rest if head in names else None


def dtype_of(node: ast.expr | None, names: dict[str, str]) -> bool | None:
    """True for an integer dtype (`torch.long`), False for a floating one, None otherwise."""
    if node is None:
        return None
    q = qualified(node, names)
    if q is None or not q.startswith("torch."):
        return None
    name = q[len("torch.") :]
    if name in INTEGER_DTYPES:
        return True
    if name in FLOAT_DTYPES:
        return False
    return None


def literal(node: ast.expr) -> tuple[bool | None, int | None]:
    """(all integers?, nesting depth) of a nested list literal of numbers; (None, None) if not one."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return type(node.value) is int, 0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return literal(node.operand)
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        parts = [literal(e) for e in node.elts]
        depths = {d for _, d in parts}
        if None in depths or len(depths) != 1:
            return None, None
        kinds = [k for k, _ in parts]
        if None in kinds:
            return None, None
        return all(kinds), depths.pop() + 1  # type: ignore[operator]
    return None, None


class TensorWalker(Interpreter[Shape]):
    """A statement-order walk of one body (packlint.facts.interpreter), following the tensors built in it."""

    def __init__(self, names: dict[str, str], targets: dict[int, ast.Call], found: dict[int, Shape | None]) -> None:
        super().__init__()
        self.names = names
        self.targets = targets
        self.found = found

    def bind_pattern(self, target: ast.expr, value_node: ast.expr | None, value: Shape | None) -> None:
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value_node, (ast.Tuple, ast.List)):
            if len(target.elts) == len(value_node.elts) and not any(
                isinstance(e, ast.Starred) for e in [*target.elts, *value_node.elts]
            ):
                # `padded, lengths = padded[order], lengths[order]`: every value is read before any bind.
                values = [self.eval(v) for v in value_node.elts]
                for t, v, n in zip(target.elts, values, value_node.elts):
                    self.bind(t, n, v)
                return
        if (
            isinstance(target, ast.Tuple)
            and len(target.elts) == 2
            and isinstance(target.elts[1], ast.Name)
            and isinstance(value_node, ast.Call)
            and isinstance(value_node.func, ast.Attribute)
            and value_node.func.attr == "sort"
        ):
            # `lengths, order = lengths.sort(descending=True)`: the second is a permutation.
            self.forget(target.elts[0])
            self.env[target.elts[1].id] = Shape("perm")
            return
        self.forget(target)

    # ------------------------------------------------------------------ expressions
    def eval(self, node: ast.expr | None) -> Shape | None:
        if node is None:
            return None
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value)
            index = node.slice
            perm = self.eval(index)
            is_perm = (perm is not None and perm.form == "perm") or self.is_argsort(index)
            if base is not None and base.form in ("tensor", "seqs") and is_perm:
                return base  # reordered along the batch: same dtype and rank
            return None
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.eval(e) for e in node.elts]
            if items and all(i is not None and i.form == "tensor" for i in items):
                return seqs_of(items)  # type: ignore[arg-type]
            return None
        if isinstance(node, ast.ListComp):
            saved = dict(self.env)
            for gen in node.generators:
                self.eval(gen.iter)
                self.forget(gen.target)
            elt = self.eval(node.elt)
            self.env = saved
            if elt is not None and elt.form == "tensor":
                return Shape("seqs", elt.integer, elt.rank, origin=elt.origin)
            return None
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.eval(child)
        return None

    def is_argsort(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Call):
            return False
        if isinstance(node.func, ast.Attribute) and node.func.attr == "argsort":
            return True
        return qualified(node.func, self.names) == "torch.argsort"

    def call(self, node: ast.Call) -> Shape | None:
        args = [self.eval(a) for a in node.args]
        kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg}
        func = node.func
        if isinstance(func, ast.Attribute):
            base = self.eval(func.value)
        else:
            base = None
        if id(node) in self.targets:
            self.found[id(node)] = args[0] if node.args else (next(iter(kwargs.values()), None))
            return None
        q = qualified(func, self.names)
        if q is not None:
            return self.torch_call(q, node, args, kwargs)
        if base is not None and isinstance(func, ast.Attribute):
            return self.method(base, func.attr, node)
        if isinstance(func, ast.Attribute) and (func.attr == "long" or (func.attr == "to" and self.to_integer(node))):
            # `x.long()` of a value we know nothing else of: only tensors have it, and it makes integers.
            return Shape("tensor", True, None, origin=node)
        if isinstance(func, ast.Name) and func.id in ("list", "sorted") and args and args[0] is not None:
            return args[0] if args[0].form == "seqs" else None
        return None

    def to_integer(self, node: ast.Call) -> bool:
        return dtype_of(argument(node, 0, "dtype"), self.names) is True

    def torch_call(
        self, q: str, node: ast.Call, args: list[Shape | None], kwargs: dict[str, Shape | None]
    ) -> Shape | None:
        dtype = dtype_of(argument(node, None, "dtype"), self.names)
        name = q.rsplit(".", 1)[-1]
        if q in ("torch.tensor", "torch.as_tensor", "torch.LongTensor", "torch.IntTensor", "torch.FloatTensor"):
            data = node.args[0] if node.args else None
            integer, rank = literal(data) if data is not None else (None, None)
            if data is not None and rank is None and args and args[0] is not None and args[0].form == "tensor":
                integer, rank = args[0].integer, args[0].rank
            if name in ("LongTensor", "IntTensor"):
                integer = True
            elif name == "FloatTensor":
                integer = False
            if dtype is not None:
                integer = dtype
            return Shape("tensor", integer, rank, origin=node)
        if q == "torch.randint":
            size = argument(node, 2 if len(node.args) > 2 else 1, "size")
            rank = len(size.elts) if isinstance(size, (ast.Tuple, ast.List)) else None
            return Shape("tensor", True if dtype is None else dtype, rank, origin=node)
        if q in ("torch.randn", "torch.rand", "torch.zeros", "torch.ones"):
            dims = node.args
            if len(dims) == 1 and isinstance(dims[0], (ast.Tuple, ast.List)):
                dims = dims[0].elts
            rank = len(dims) if dims and not any(isinstance(d, ast.Starred) for d in dims) else None
            return Shape("tensor", False if dtype is None else dtype, rank, origin=node)
        if q == RNN_UTILS + "pad_sequence":
            seqs = args[0] if args else kwargs.get("sequences")
            if seqs is None or seqs.form != "seqs":
                return None
            return Shape("tensor", seqs.integer, None if seqs.rank is None else seqs.rank + 1, True, seqs.origin)
        if q == RNN_UTILS + "pack_padded_sequence":
            x = args[0] if args else kwargs.get("input")
            x_node = argument(node, 0, "input")
            if x is None or x.form != "tensor":
                return None
            return Shape("packed", x.integer, x.rank, x.padded or x.rank == 2, x.origin, x_node)
        if q == RNN_UTILS + "pack_sequence":
            seqs = args[0] if args else kwargs.get("sequences")
            if seqs is None or seqs.form != "seqs":
                return None
            return Shape("packed", seqs.integer, None if seqs.rank is None else seqs.rank + 1, True, seqs.origin)
        if q == "torch.argsort":
            return Shape("perm")
        return None

    def method(self, base: Shape, name: str, node: ast.Call) -> Shape | None:
        if base.form == "perm":
            return base if name in KEEPS or name == "to" else None
        if base.form not in ("tensor", "packed"):
            return None
        if name in KEEPS:
            return base
        if name in ("long", "int", "short", "byte"):
            return Shape(base.form, True, base.rank, base.padded, node, base.pack_input)
        if name in ("float", "double", "half", "bfloat16"):
            return Shape(base.form, False, base.rank, base.padded, node, base.pack_input)
        if name in ("to", "type"):
            target = argument(node, 0, "dtype")
            dtype = dtype_of(target, self.names)
            if dtype is not None:
                return Shape(base.form, dtype, base.rank, base.padded, node, base.pack_input)
            if target is not None and moves_only(target):
                return base
            return None
        if base.form == "packed":
            return None
        if name == "unsqueeze" and base.rank is not None:
            return Shape("tensor", base.integer, base.rank + 1, base.padded, base.origin)
        if name in RESHAPES:
            return Shape("tensor", base.integer, None, False, base.origin)
        return None


def moves_only(node: ast.expr) -> bool:
    """`.to(device)`, `.to("cuda")`, `.to(x.device)`: a move that keeps the dtype."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.split(":")[0] in ("cpu", "cuda", "mps", "xpu")
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return "device" in name.lower()


def seqs_of(items: list[Shape]) -> Shape:
    """A list literal of tensors: what all its elements agree on."""
    integer = items[0].integer if all(i.integer == items[0].integer for i in items) else None
    rank = items[0].rank if all(i.rank == items[0].rank for i in items) else None
    return Shape("seqs", integer, rank, origin=items[0].origin)


def constructor_of(facts: FileFacts, call: ast.Call, names: dict[str, str]) -> ast.Call | None:
    """`nn.LSTM(...)` bound, by the file's one assignment to it, to the module that `call` calls."""
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        key: tuple[str, str] | None = ("attr", func.attr)
    elif isinstance(func, ast.Name):
        key = ("name", func.id)
    else:
        key = None
    if key is None:
        return None
    built = facts.derived(_single_assignments).get(key, [])
    if len(built) != 1 or not isinstance(built[0], ast.Call):
        return None
    return built[0] if qualified(built[0].func, names) in RECURRENT else None


def _single_assignments(facts: FileFacts) -> dict[tuple[str, str], list[ast.expr]]:
    # The values of one-target assignments, by target (`self.rnn = ...` under ("attr", "rnn")), in file order.
    built: dict[tuple[str, str], list[ast.expr]] = {}
    for node in ast.walk(facts.tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            built.setdefault(("attr", target.attr), []).append(node.value)
        elif isinstance(target, ast.Name):
            built.setdefault(("name", target.id), []).append(node.value)
    return built


def input_size(constructor: ast.Call | None) -> int | None:
    """The literal `input_size` of `nn.LSTM(...)`."""
    if constructor is None:
        return None
    written = argument(constructor, 0, "input_size")
    if isinstance(written, ast.Constant) and type(written.value) is int:
        return written.value
    return None
