"""Padded batches fed to a model across files: a loader whose collate function or dataset pads every sequence
at its end, iterated by a loop that passes the batch to a model class of another file (or the loader's
padding is in another file). The question is asked from the model's file, so every file of the project
that names the class is read (and is a dependency of the answer)."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from typing import TypeVar

from packlint.facts import FileFacts, Kind, RnnCall, called_name, dotted, parameter_names
from packlint.project.crossfile import passed_argument
from packlint.project.files import searched_files
from packlint.project.summary import ClassSummary, FunctionSummary, ModuleSummary, field_padding, summarise
from packlint.project.view import ProjectView

# Calls that wrap an iterable and yield its items: `for i, batch in enumerate(tqdm(loader))`.
_WRAPPERS = ("enumerate", "tqdm", "iter", "trange")
# Calls that only move or convert the model they are given: `Net(...).to(device)` is still a `Net`.
_MODEL_CHAIN = ("to", "cuda", "cpu", "train", "eval", "double", "float", "half")
T = TypeVar("T")
# Methods and calls that move, convert or reshape a batch without packing or trimming it.
_KEEPS_PADDING = frozenset(
    {"to", "cuda", "cpu", "t", "long", "float", "int", "transpose", "permute", "contiguous", "squeeze"}
    | {"unsqueeze", "view", "reshape", "detach", "clone", "type"}
)
_WRAPS_TENSOR = frozenset({"Variable", "tensor", "LongTensor", "as_tensor", "from_numpy"})
_STEPWISE_LAYERS = frozenset({"Embedding", "Dropout", "Linear", "LayerNorm", "ReLU", "Tanh"})


@dataclass(frozen=True)
class PaddedFeed:
    """Where the project gives a model's `forward` batches padded at the end."""

    call: str  # `train.py:30`: the call of the model
    padded_by: str  # `data.py:12`: the padding
    length: str  # `` `200` ``, or `the longest sequence of the batch`, for a message
    crosses: bool  # the call or the padding lies in another file than the model
    through: str = ""  # `model.py:70`: the outer model's call of this one, when the loop calls that model


@dataclass(frozen=True)
class _Pads:
    length: str
    file: str
    line: int


def padded_feed(view: ProjectView, klass: str, param: str, depth: int = 0) -> PaddedFeed | None:
    """A loop somewhere in the project that passes right-padded batches (not packed) as `param` of the
    `forward` of `klass`, a top-level class of the view's own file: directly, or (`depth` 0) through the
    `forward` of another model class that passes its own parameter on (`self.encoder(embedded)`)."""
    key = ("feed", klass, param, depth)
    if key not in view.answers:
        view.answers[key] = _padded_feed(view, klass, param, depth)
    answer = view.answers[key]
    return answer if isinstance(answer, PaddedFeed) else None


def _padded_feed(view: ProjectView, klass: str, param: str, depth: int) -> PaddedFeed | None:
    forward = summarise(view.data or b"").klass(klass) if view.data is not None else None
    method = forward.method("forward") if forward is not None else None
    if method is None or param not in method.params:
        return None
    files = searched_files(view.root, view.listed)
    if files is None:
        return None
    needle = klass.encode()
    here = os.path.realpath(view.path)
    for file in files:
        same = os.path.realpath(file) == here
        data = view.data if same else view.content(file)
        if data is None or needle not in data:
            continue
        other = view if same else view.view_of(file, data)
        if other is None:
            continue
        feeds = _Feeds(other, other.tree, data, here, klass, method)
        found = feeds.find(param) if b"for" in data else None
        for outer, outer_param, line in feeds.wrappers(param) if found is None and depth == 0 else ():
            fed = padded_feed(other, outer, outer_param, depth + 1)
            if fed is not None:
                crosses = fed.crosses or os.path.realpath(file) != here
                found = PaddedFeed(fed.call, fed.padded_by, fed.length, crosses, other.where(file, line))
                break
        if other is not view:
            view.depend_on(other)
        if found is not None:
            return found
    return None


class _Feeds:
    """One file's loaders, datasets and instances of the model class, read off its assignments."""

    def __init__(
        self, view: ProjectView, tree: ast.Module, data: bytes, model_file: str, klass: str, forward: FunctionSummary
    ) -> None:
        self.view = view
        self.tree = tree
        self.model_file = model_file
        self.klass = klass
        self.forward = forward
        self.own: ModuleSummary = summarise(data)
        self.here = os.path.realpath(view.path)
        self.classes: dict[str, tuple[ClassSummary, str] | None] = {}
        self.loaders: dict[str, _Pads | None] = {}
        self.fields = _field_pads(tree, view.path) if b"torchtext" in data else None
        assigns = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)]
        # `self.embed = nn.Embedding(...)`: layers that keep each step where it was (the padding included)
        self.layers = {
            key
            for node in assigns
            if isinstance(node.value, ast.Call) and called_name(node.value) in _STEPWISE_LAYERS
            for key in (dotted(t) for t in node.targets)
            if key is not None
        }
        for node in assigns:
            made = self.class_of(node.value)
            kept = dotted(_unchained(node.value))
            for target in node.targets:
                if kept is None or kept != dotted(target):  # `model = model.cuda()` keeps what `model` was
                    self._bind(self.classes, target, made)
        for node in assigns:
            value = node.value
            pads = self.loader_pads(value) if isinstance(value, ast.Call) else None
            for target in node.targets:
                if isinstance(target, ast.Tuple) and pads is not None and not _is_loader(value):
                    for element in target.elts:  # `train_iter, test_iter = load_data()`
                        self._bind(self.loaders, element, pads)
                else:
                    self._bind(self.loaders, target, pads)

    @staticmethod
    def _bind(table: dict[str, T | None], target: ast.expr, value: T | None) -> None:
        key = dotted(target)
        if key is None:
            return
        if key in table and table[key] != value:
            table[key] = None  # bound to two different things: not known
        else:
            table[key] = value

    # -- what names and calls are --------------------------------------------------------------------------

    def function_at(self, node: ast.expr) -> tuple[FunctionSummary, str] | None:
        """The project function a name or attribute means (this file's own top-level functions included)."""
        hit = self.view.resolve(node)
        if hit is not None:
            return (hit[0], hit[1]) if isinstance(hit[0], FunctionSummary) else None
        if isinstance(node, ast.Name) and node.id not in self.view.bindings:
            local = self.own.function(node.id)
            return (local, self.view.path) if local is not None else None
        if isinstance(node, ast.Attribute):
            owner = self.classes.get(dotted(node.value) or "")
            if owner is not None:
                method = owner[0].method(node.attr)
                return (method, owner[1]) if method is not None else None
        return None

    def class_of(self, value: ast.expr) -> tuple[ClassSummary, str] | None:
        """The project class `value` builds an instance of (`Net(...)`, `Net(...).to(device)`)."""
        value = _unchained(value)
        if not isinstance(value, ast.Call):
            return None
        hit = self.view.resolve(value.func)
        if hit is not None:
            return (hit[0], hit[1]) if isinstance(hit[0], ClassSummary) else None
        if isinstance(value.func, ast.Name) and value.func.id not in self.view.bindings:
            local = self.own.klass(value.func.id)
            return (local, self.view.path) if local is not None else None
        return None

    def loader_pads(self, call: ast.Call) -> _Pads | None:
        """How the batches of `call` are padded: a `DataLoader` by its collate function or its dataset's
        `__getitem__`; a project function (`load_data()` building torchtext fields) by its own padding."""
        if _is_text_iterator(call):
            return self.fields  # torchtext's iterators batch what the file's `Field`s pad
        if _is_loader(call):
            collate = next((k.value for k in call.keywords if k.arg == "collate_fn"), None)
            if collate is not None:
                function = self.function_at(collate)
                if function is None:
                    made = self.class_of(collate) if isinstance(collate, ast.Call) else None
                    method = made[0].method("__call__") if made is not None else None
                    function = (method, made[1]) if made is not None and method is not None else None
                if function is None or function[0].packs_any:
                    return None  # what an unknown collate function returns is not known
                if function[0].right_pads:
                    return _pads(function)
            dataset = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "dataset"), None)
            if dataset is None:
                return None
            made = self.class_of(dataset) if isinstance(dataset, ast.Call) else self.classes.get(dotted(dataset) or "")
            item = made[0].method("__getitem__") if made is not None else None
            return _pads((item, made[1])) if made is not None and item is not None and item.right_pads else None
        function = self.function_at(call.func)
        if function is not None and function[0].right_pads and not function[0].packs_any:
            return _pads(function)
        return None

    def is_model(self, key: str | None) -> bool:
        made = self.classes.get(key or "")
        return made is not None and made[0].name == self.klass and os.path.realpath(made[1]) == self.model_file

    # -- the loops ------------------------------------------------------------------------------------------

    def find(self, param: str) -> PaddedFeed | None:
        """The first loop over a padded loader that passes the batch to the model as `param`."""
        for loop in ast.walk(self.tree):
            if not isinstance(loop, (ast.For, ast.AsyncFor)):
                continue
            source = loop.iter
            while isinstance(source, ast.Call) and called_name(source) in _WRAPPERS and source.args:
                source = source.args[0]
            pads = self.loader_pads(source) if isinstance(source, ast.Call) else self.loaders.get(dotted(source) or "")
            if pads is None:
                continue
            call = self._model_call(loop, param)
            if call is not None:
                crosses = self.here != self.model_file or os.path.realpath(pads.file) != self.model_file
                return PaddedFeed(
                    self.view.where(self.view.path, call.lineno),
                    self.view.where(pads.file, pads.line),
                    pads.length,
                    crosses,
                )
        return None

    def wrappers(self, param: str) -> list[tuple[str, str, int]]:
        """(class, parameter, line): top-level model classes of this file whose `forward` passes a value
        made from that parameter of theirs to the model (`self.encoder = Encoder(...)`) as `param`."""
        found: list[tuple[str, str, int]] = []
        for stmt in self.tree.body:
            if not isinstance(stmt, ast.ClassDef) or (stmt.name == self.klass and self.here == self.model_file):
                continue
            forward = next((s for s in stmt.body if isinstance(s, ast.FunctionDef) and s.name == "forward"), None)
            if forward is None:
                continue
            for outer in [a.arg for a in (*forward.args.posonlyargs, *forward.args.args)][1:]:
                call = self._model_call_in(forward.body, {outer}, param)
                if call is not None:
                    found.append((stmt.name, outer, call.lineno))
                    break
        return found

    def _model_call(self, loop: ast.For | ast.AsyncFor, param: str) -> ast.Call | None:
        """A call of the model in `loop` that passes it, as `param`, a value made from the batch."""
        derived = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
        return self._model_call_in(loop.body, derived, param)

    def _model_call_in(self, statements: list[ast.stmt], derived: set[str], param: str) -> ast.Call | None:
        """A call of the model in `statements` that passes it, as `param`, a value made from `derived`."""
        derived = set(derived)
        body = [n for stmt in statements for n in ast.walk(stmt)]
        for node in sorted((n for n in body if isinstance(n, ast.Assign)), key=lambda n: (n.lineno, n.col_offset)):
            names = {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if self._made_from(node.value, derived):
                derived |= names
            else:
                derived -= names  # `x = prepare(x, lengths)`: what a helper returns is not known
        calls = [n for n in body if isinstance(n, ast.Call)]
        if any(called_name(c) in ("pack_padded_sequence", "pack_sequence") and _mentions(c, derived) for c in calls):
            return None  # the loop packs the batch itself
        for call in calls:
            func = call.func
            if not (
                self.is_model(dotted(func))
                or (isinstance(func, ast.Attribute) and func.attr == "forward" and self.is_model(dotted(func.value)))
            ):
                continue
            given = passed_argument(call, self.forward, 1, param)
            if given is not None and self._made_from(given, derived):
                return call
        return None

    def _made_from(self, value: ast.expr, derived: set[str]) -> bool:
        """Whether `value` is made from `derived` names by steps that keep the padding as it is: moves and
        reshapes (`x.to(device)`, `x.t()`), `Variable(x)`, an embedding or dropout layer built in the file.
        Any other call may pack or trim the batch: what it returns is not known."""
        if not _mentions(value, derived):
            return False
        for node in ast.walk(value):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in _KEEPS_PADDING:
                continue
            if (dotted(func) or "").split(".")[-1] in _WRAPS_TENSOR or dotted(func) in self.layers:
                continue
            return False
        return True


def _unchained(value: ast.expr) -> ast.expr:
    """`Net(...)` of `Net(...).to(device).train()`."""
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in _MODEL_CHAIN:
        value = value.func.value
    return value


def _is_text_iterator(call: ast.Call) -> bool:
    """torchtext's `BucketIterator(...)`, `Iterator.splits(...)` (not `BPTTIterator`: one stream, no padding)."""
    parts = (dotted(call.func) or "").split(".")
    if parts[-1] == "splits" and len(parts) > 1:
        parts = parts[:-1]
    return parts[-1] in ("BucketIterator", "Iterator")


def _field_pads(tree: ast.Module, file: str) -> _Pads | None:
    """The first torchtext `Field` of the file that pads at the end (texts of a batch share its length)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            length = field_padding(node)
            if length is not None:
                return _Pads(length if length.startswith("the ") else f"`{length}`", file, node.lineno)
    return None


def _is_loader(call: ast.expr) -> bool:
    return isinstance(call, ast.Call) and (called_name(call) or "").endswith("DataLoader")


def _pads(function: tuple[FunctionSummary, str]) -> _Pads:
    length, line = function[0].right_pads[0]
    return _Pads(length if length.startswith("the ") else f"`{length}`", function[1], line)


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def forward_input(facts: FileFacts, call: RnnCall) -> tuple[str, str] | None:
    """(class, parameter) when `call` runs in the `forward` of a top-level class of the file, on a value
    made from one of its parameters, unpacked and not known here to be padded (per-file rules decide
    those), outside a loop (a step-by-step decoder sees one step)."""
    if call.padded or call.input.kind is Kind.PACKED or facts.in_loop(call.node):
        return None
    function = facts.enclosing_function(call.node)
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or function.name != "forward":
        return None
    klass = facts.parent(function)
    if not isinstance(klass, ast.ClassDef) or not any(stmt is klass for stmt in facts.tree.body):
        return None
    root = call.input.root
    if root is None or root not in parameter_names(function)[1:]:
        return None
    return klass.name, root


def reads_final_state(facts: FileFacts, call: RnnCall) -> bool:
    """Whether the `forward` around `call` reads the RNN's final state itself (`self.fc(h_n[-1])`), beyond
    returning it as it is: a caller in another file may drop a returned state, and that is not known here."""
    statement = facts.parent(call.node)
    function = facts.enclosing_function(call.node)
    if not isinstance(statement, ast.Assign) or len(statement.targets) != 1 or function is None:
        return False
    target = statement.targets[0]
    if not isinstance(target, ast.Tuple) or len(target.elts) != 2:
        return False
    names = {n.id for n in ast.walk(target.elts[1]) if isinstance(n, ast.Name) and n.id != "_"}
    returned: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and node.value is not None:
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            returned.update(id(v) for v in values if isinstance(v, ast.Name))
    returned.update(id(n) for n in ast.walk(statement))  # `out, h = rnn(x, h)` reads the state it is given
    return any(
        isinstance(n, ast.Name) and n.id in names and isinstance(n.ctx, ast.Load) and id(n) not in returned
        for n in ast.walk(function)
        if getattr(n, "lineno", 0) >= statement.lineno
    )
