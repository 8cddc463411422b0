"""Per-file summaries: what each top-level function, class and method of a project file does, in the
analysis' vocabulary, read off its syntax alone (nothing is imported or run).

A summary is plain data (strings, numbers, tuples), so that it can be cached by the file's content.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

from packlint.facts import argument, called_name, dotted, is_reset, parameter_names, resetting_functions
from packlint.facts.nodes import Nodes
from packlint.project.parse import parse_quietly

_RNN_CLASSES = ("LSTM", "GRU", "RNN")
_NO_GRAD = ("no_grad", "inference_mode")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class FunctionSummary:
    """What one function or method does, where it matters to a caller in another file."""

    name: str  # `forward`, or `Net.forward` for a method
    line: int
    params: tuple[str, ...]  # parameters in order, `self` included for a method (keyword-only ones last)
    positional: int  # how many of them a call can pass by position
    resets: int  # line of a gradient reset in it (or in a same-file function it calls); 0: none
    packs: tuple[tuple[str, int], ...]  # (parameter, line): the parameter reaches a pack call's lengths as given
    pads: tuple[tuple[str, int], ...]  # (length as written, line): it pads sequences
    sorts_descending: int  # line of a descending sort; 0: none
    unsorts: int  # line of an inverse permutation (`argsort`) it builds; 0: none
    moves: tuple[str, ...]  # parameters it returns moved to a device (`x.cuda()`, `x.to(device)`)
    no_grad: bool  # its whole body runs without autograd (decorator or an outer `with torch.no_grad()`)
    # (length as written, line): it pads sequences at their end, so a shorter one's last steps are padding
    # (`seq + [pad] * (200 - len(seq))`, `pad_sequence(...)`, `Field(fix_length=200)`); none where it packs
    right_pads: tuple[tuple[str, int], ...] = ()
    packs_any: int = 0  # line of a `pack_padded_sequence`/`pack_sequence` call in it; 0: none


@dataclass(frozen=True)
class ClassSummary:
    """A class of the project: its methods and the RNN modules it builds."""

    name: str
    line: int
    bases: tuple[str, ...]  # as written: `nn.Module`, `Base`
    methods: tuple[FunctionSummary, ...]
    rnns: tuple[tuple[str, str, bool | None, bool | None, int], ...]  # (attribute, class, batch_first, bidir, line)

    def method(self, name: str) -> FunctionSummary | None:
        """The method called `name`, if the class defines it."""
        return next((m for m in self.methods if m.name.split(".")[-1] == name), None)


@dataclass(frozen=True)
class ImportRecord:
    """A module-level import: `local` is bound to `symbol` of module `module` (None: the module itself)."""

    local: str  # "*" for a star import
    module: str
    level: int
    symbol: str | None


@dataclass(frozen=True)
class ModuleSummary:
    """Everything other files may ask about one project file."""

    functions: tuple[FunctionSummary, ...]
    classes: tuple[ClassSummary, ...]
    imports: tuple[ImportRecord, ...]
    exported: tuple[str, ...] | None  # a literal `__all__`, if any
    parsed: bool  # False: the file did not parse (nothing is known about it)

    def function(self, name: str) -> FunctionSummary | None:
        """The top-level function `name`."""
        return next((f for f in self.functions if f.name == name), None)

    def klass(self, name: str) -> ClassSummary | None:
        """The top-level class `name`."""
        return next((c for c in self.classes if c.name == name), None)

    def public(self) -> tuple[str, ...]:
        """What `from this import *` binds (its functions and classes)."""
        names = [f.name for f in self.functions] + [c.name for c in self.classes]
        if self.exported is not None:
            return tuple(n for n in names if n in self.exported)
        return tuple(n for n in names if not n.startswith("_"))


EMPTY = ModuleSummary((), (), (), None, False)


@functools.lru_cache(maxsize=2048)
def summarise(data: bytes) -> ModuleSummary:
    """The summary of a file's bytes (kept per content: a file read twice is summarised once)."""
    tree = parse_quietly(data)
    if tree is None:
        return EMPTY
    # Which functions reset costs a walk of the whole module: only where a reset can be written.
    return summarise_tree(tree, resets=b"grad" in data, left=b"padding_side" in data, torchtext=b"torchtext" in data)


def summarise_tree(tree: ast.Module, resets: bool = True, left: bool = True, torchtext: bool = False) -> ModuleSummary:
    """The summary of a parsed file (with `resets` False, no function is taken to reset gradients; with
    `left`, a tokenizer's side of padding may have been set to the left, so its padding is not known to
    be at the end)."""
    nodes = Nodes(tree)  # one index of the file for every search below
    resetting = resetting_functions(tree, nodes) if resets else set()
    packers = _pack_names(tree, nodes)
    functions: list[FunctionSummary] = []
    classes: list[ClassSummary] = []
    imports: list[ImportRecord] = []
    exported: tuple[str, ...] | None = None
    for stmt in tree.body:
        if isinstance(stmt, _DEFS):
            functions.append(
                _function(stmt, stmt.name, resetting, packers, nodes, method=False, left=left, torchtext=torchtext)
            )
        elif isinstance(stmt, ast.ClassDef):
            methods = tuple(
                _function(
                    s, f"{stmt.name}.{s.name}", resetting, packers, nodes, method=True, left=left, torchtext=torchtext
                )
                for s in stmt.body
                if isinstance(s, _DEFS)
            )
            bases = tuple(d for d in (dotted(b) for b in stmt.bases) if d is not None)
            classes.append(ClassSummary(stmt.name, stmt.lineno, bases, methods, _rnns(stmt, nodes)))
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                local = "*" if alias.name == "*" else alias.asname or alias.name
                imports.append(ImportRecord(local, stmt.module or "", stmt.level, alias.name))
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    imports.append(ImportRecord(alias.asname, alias.name, 0, None))
        elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets):
            if isinstance(stmt.value, (ast.List, ast.Tuple)):
                items = [e.value for e in stmt.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                exported = tuple(items)
    return ModuleSummary(tuple(functions), tuple(classes), tuple(imports), exported, True)


def _pack_names(tree: ast.Module, nodes: Nodes) -> frozenset[str]:
    """Names that call `pack_padded_sequence` here (`pack_padded_sequence`, or an alias it was imported as)."""
    names = {"pack_padded_sequence"}
    for node in nodes.inside(tree, ast.ImportFrom):
        names.update(a.asname for a in node.names if a.name == "pack_padded_sequence" and a.asname)
    return frozenset(names)


def _function(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    name: str,
    resetting: set[str],
    packers: frozenset[str],
    nodes: Nodes,
    method: bool,
    left: bool = True,
    torchtext: bool = False,
) -> FunctionSummary:
    params = tuple(parameter_names(node))
    positional = len(node.args.posonlyargs) + len(node.args.args)
    # Every node of the function, in `ast.walk`'s order (first matches below depend on it), from the file's
    # index: the contexts and operators it leaves out are nothing these searches look for.
    walked = nodes.walk(node, ast.AST)
    stored = {n.id for n in walked if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    resets = 0
    packs: list[tuple[str, int]] = []
    pads: list[tuple[str, int]] = []
    sorts = unsorts = 0
    moves: list[str] = []
    pack_line = next((n.lineno for n in walked if isinstance(n, ast.Call) and _packs(n)), 0)
    if node.name in resetting:
        resets = next((n.lineno for n in walked if is_reset(n) and hasattr(n, "lineno")), node.lineno)
    for n in walked:
        if isinstance(n, ast.Call):
            called = called_name(n)
            if called in packers:
                lengths = argument(n, 1, "lengths")
                if isinstance(lengths, ast.Name) and lengths.id in params and lengths.id not in stored:
                    packs.append((lengths.id, n.lineno))
            length = _padded_length(n, called)
            if length is not None:
                pads.append((length, n.lineno))
            if not sorts and _sorts_descending(n, called):
                sorts = n.lineno
            if not unsorts and called == "argsort":
                unsorts = n.lineno
        elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
            length = _list_padding(n)
            if length is not None:
                pads.append((length, n.lineno))
        elif isinstance(n, ast.Return) and n.value is not None:
            moved = _moved_name(n.value)
            if moved is not None and moved in params and moved not in stored:
                moves.append(moved)
    return FunctionSummary(
        name,
        node.lineno,
        params,
        positional,
        resets,
        tuple(packs),
        tuple(pads),
        sorts,
        unsorts,
        tuple(moves),
        _without_grad(node),
        () if pack_line else _right_pads(walked, left, torchtext),
        pack_line,
    )


_PACKS = ("pack_padded_sequence", "pack_sequence")
_GRID = ("zeros", "ones", "full", "empty", "fill_", "zeros_like", "full_like", "LongTensor", "Tensor")


def _packs(node: ast.Call) -> bool:
    return called_name(node) in _PACKS


def _right_pads(walked: list[ast.AST], left: bool, torchtext: bool = False) -> tuple[tuple[str, int], ...]:
    """Padding at the end of each sequence in a function (`walked`: its nodes in `ast.walk`'s order): (length
    as written, line); with `left`, a tokenizer's padding side may have been set in the file."""
    found: list[tuple[str, int]] = []
    grids = _grids(walked)
    for n in walked:
        if isinstance(n, ast.Call):
            length = _right_padded_length(n, called_name(n), left)
            if length is None and torchtext:
                length = field_padding(n)
            if length is not None:
                found.append((length, n.lineno))
        elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add) and isinstance(n.right, ast.BinOp):
            length = _list_padding(n.right) if isinstance(n.right.op, ast.Mult) else None
            if length is not None:  # `seq + [pad] * (200 - len(seq))`: the pad goes after the tokens
                found.append((length, n.lineno))
        elif isinstance(n, ast.AugAssign) and isinstance(n.op, ast.Add) and isinstance(n.value, ast.BinOp):
            length = _list_padding(n.value) if isinstance(n.value.op, ast.Mult) else None
            if length is not None:  # `seq += [pad] * (200 - len(seq))`
                found.append((length, n.lineno))
        elif isinstance(n, ast.Assign) and len(n.targets) == 1:
            grid = _grid_row_fill(n.targets[0], grids)
            if grid is not None:  # `padded[i, :len(seq)] = seq` into `torch.zeros(B, T)`: the rest stays pad
                found.append(grid)
        elif isinstance(n, (ast.For, ast.While)):
            # `txt = torch.zeros(200)`, then `txt[count] = token` in a loop: filled from the front, the rest pad
            for inner in ast.walk(n):
                vector = _vector_fill(inner, grids) if isinstance(inner, ast.Assign) else None
                if vector is not None:
                    found.append(vector)
                    break
    return tuple(found)


def _right_padded_length(call: ast.Call, called: str | None, left: bool) -> str | None:
    """The length a call pads to, when the padding is known to go at the end (None: not padding, or not
    known to be at the end)."""
    keywords = {kw.arg: kw.value for kw in call.keywords if kw.arg is not None}
    if called == "pad_sequence":
        side = keywords.get("padding_side")
        if side is None or (isinstance(side, ast.Constant) and side.value == "right"):
            return "the longest sequence of the batch"
        return None
    if called == "extend" and len(call.args) == 1 and isinstance(call.args[0], ast.BinOp):
        return _list_padding(call.args[0]) if isinstance(call.args[0].op, ast.Mult) else None
    length = _padded_length(call, called)
    if length is None:
        return None
    if "fix_length" in keywords:
        return field_padding(call)
    if called == "pad_sequences":  # Keras pads at the front unless told `padding="post"`
        side = keywords.get("padding")
        return length if isinstance(side, ast.Constant) and side.value == "post" else None
    # A tokenizer pads at the end unless its `padding_side` was set (somewhere in the file): then unknown.
    if "padding_side" in keywords or left:
        return None
    return length


def field_padding(call: ast.Call) -> str | None:
    """The length a torchtext `Field(...)` pads its texts to, at their end: `fix_length`, else the longest
    text of each batch (None: not sequential, padded first, or not known)."""
    if called_name(call) != "Field" or call.args or any(k.arg is None for k in call.keywords):
        return None
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    for flag, unpadded in (("sequential", False), ("pad_first", True)):
        value = keywords.get(flag)
        if value is not None and not (isinstance(value, ast.Constant) and value.value is not unpadded):
            return None  # not sequential, padded at the front, or not a literal: nothing known
    fixed = keywords.get("fix_length")
    if fixed is None or (isinstance(fixed, ast.Constant) and fixed.value is None):
        return "the longest text of the batch"
    return ast.unparse(fixed)


def _grids(walked: list[ast.AST]) -> dict[str, tuple[str, int]]:
    """Names assigned a fresh tensor of pads: `padded = torch.zeros(len(batch), max_len)` -> its width; a
    vector (`txt = torch.LongTensor(np.zeros(200))`) under `1:` and its name -> its length."""
    grids: dict[str, tuple[str, int]] = {}
    for n in walked:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            value = n.value
            while (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr in ("long", "float", "int", "to", "cuda", "fill_")
            ):
                if value.func.attr == "fill_":
                    break
                value = value.func.value
            # `np.zeros(200)` inside `torch.LongTensor(...)`/`torch.tensor(...)`/`torch.from_numpy(...)`
            if (
                isinstance(value, ast.Call)
                and called_name(value) in ("LongTensor", "tensor", "from_numpy", "as_tensor")
                and len(value.args) == 1
                and isinstance(value.args[0], ast.Call)
                and called_name(value.args[0]) in _GRID
            ):
                value = value.args[0]
            if isinstance(value, ast.Call) and called_name(value) in _GRID and len(value.args) >= 2:
                grids[n.targets[0].id] = (ast.unparse(value.args[1]), n.lineno)
            elif isinstance(value, ast.Call) and called_name(value) in _GRID and len(value.args) == 1:
                size = value.args[0]
                if not isinstance(size, (ast.Tuple, ast.List)):
                    grids["1:" + n.targets[0].id] = (ast.unparse(size), n.lineno)
            elif isinstance(value, ast.Call) and called_name(value) == "fill_":
                inner = value.func.value if isinstance(value.func, ast.Attribute) else None
                if isinstance(inner, ast.Call) and called_name(inner) in _GRID and len(inner.args) >= 2:
                    grids[n.targets[0].id] = (ast.unparse(inner.args[1]), n.lineno)
    return grids


def _vector_fill(node: ast.Assign, grids: dict[str, tuple[str, int]]) -> tuple[str, int] | None:
    """`txt[count] = token` into a vector of pads (`txt = torch.zeros(200)`): its length and line."""
    if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Subscript):
        return None
    target = node.targets[0]
    if not (isinstance(target.value, ast.Name) and isinstance(target.slice, ast.Name)):
        return None
    return grids.get("1:" + target.value.id)


def _grid_row_fill(target: ast.expr, grids: dict[str, tuple[str, int]]) -> tuple[str, int] | None:
    """`padded[i, :n] = seq` (or `padded[i][:n]`) where `padded` is a grid of pads: its width and line."""
    if not isinstance(target, ast.Subscript):
        return None
    base, index = target.value, target.slice
    if isinstance(index, ast.Tuple) and len(index.elts) == 2:
        row, cols = index.elts
    elif isinstance(base, ast.Subscript):
        row, cols, base = base.slice, index, base.value
    else:
        return None
    if not (isinstance(base, ast.Name) and base.id in grids and isinstance(cols, ast.Slice)):
        return None
    if isinstance(row, ast.Slice) or cols.lower is not None or cols.upper is None or cols.step is not None:
        return None
    return grids[base.id]


def _padded_length(call: ast.Call, called: str | None) -> str | None:
    """The fixed length a call pads to: `tokenizer(..., padding="max_length", max_length=200)`,
    torchtext's `Field(fix_length=200)`, Keras' `pad_sequences(seqs, maxlen=200)`."""
    for kw in call.keywords:
        if kw.arg == "padding" and isinstance(kw.value, ast.Constant) and kw.value.value == "max_length":
            given = next((k.value for k in call.keywords if k.arg == "max_length"), None)
            return ast.unparse(given) if given is not None else "the tokenizer's maximum length"
        if kw.arg == "fix_length" and not (isinstance(kw.value, ast.Constant) and kw.value.value is None):
            return ast.unparse(kw.value)
        if kw.arg == "maxlen" and called == "pad_sequences":
            return ast.unparse(kw.value)
    return None


def _list_padding(node: ast.BinOp) -> str | None:
    """`[pad] * (200 - len(seq))`: a list padded up to the length on the left of the subtraction."""
    for side, other in ((node.left, node.right), (node.right, node.left)):
        if (
            isinstance(side, ast.List)
            and isinstance(other, ast.BinOp)
            and isinstance(other.op, ast.Sub)
            and isinstance(other.right, ast.Call)
            and called_name(other.right) == "len"
        ):
            return ast.unparse(other.left)
    return None


def _sorts_descending(call: ast.Call, called: str | None) -> bool:
    if called not in ("sort", "sorted"):
        return False
    return any(
        kw.arg in ("descending", "reverse") and isinstance(kw.value, ast.Constant) and kw.value.value is True
        for kw in call.keywords
    )


def _moved_name(node: ast.expr) -> str | None:
    """`x` of `x.cuda()` / `x.to(device)` (a device: a name or attribute with `device` in it, or "cuda")."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    inner = node.func.value
    if not isinstance(inner, ast.Name):
        return None
    if node.func.attr == "cuda" and not node.args:
        return inner.id
    if node.func.attr == "to" and len(node.args) == 1 and not node.keywords:
        target = node.args[0]
        text = dotted(target)
        if text is not None and "device" in text.split(".")[-1].lower():
            return inner.id
        if isinstance(target, ast.Constant) and str(target.value).startswith("cuda"):
            return inner.id
    return None


def _without_grad(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (dotted(target) or "").split(".")[-1] in _NO_GRAD:
            return True
    body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.With):
        return any(
            isinstance(item.context_expr, ast.Call) and called_name(item.context_expr) in _NO_GRAD
            for item in body[0].items
        )
    return False


def _rnns(node: ast.ClassDef, nodes: Nodes) -> tuple[tuple[str, str, bool | None, bool | None, int], ...]:
    """`self.rnn = nn.LSTM(..., batch_first=True)` in the class's methods."""
    found: list[tuple[str, str, bool | None, bool | None, int]] = []
    for n in nodes.walk(node, ast.Assign):
        if not isinstance(n.value, ast.Call):
            continue
        kind = called_name(n.value)
        if kind not in _RNN_CLASSES:
            continue
        flags = {kw.arg: kw.value.value for kw in n.value.keywords if isinstance(kw.value, ast.Constant)}
        batch_first = flags.get("batch_first", False)
        bidirectional = flags.get("bidirectional", False)
        for target in n.targets:
            attr = dotted(target)
            if attr is not None:
                found.append(
                    (
                        attr,
                        kind,
                        batch_first if isinstance(batch_first, bool) else None,
                        bidirectional if isinstance(bidirectional, bool) else None,
                        n.lineno,
                    )
                )
    return tuple(found)
