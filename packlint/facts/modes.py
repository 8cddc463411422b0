"""Train and eval mode: models with dropout or batch norm that are evaluated after training, still training.

A model is followed only where the file shows what it is: a name (or `self.x`) bound to a class of
this file (or an `nn.Sequential(...)`) whose layers behave differently in training mode, in the scope
that trains it. Anything that might switch modes (`.eval()`, `.train(False)`, `.train(flag)`, a bare
`.eval` reference, `x.training = ...`) anywhere in the file makes the file unknown: rules stay quiet.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

from packlint.facts.evaluation import is_eval_call, turns_off_grad
from packlint.facts.loops import is_backward, step_of
from packlint.facts.nodes import Nodes
from packlint.facts.syntax import dotted
from packlint.facts.tensors import import_names, qualified

_DROPOUT = frozenset(
    f"torch.nn.{n}" for n in "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout".split()
)
_BATCH_NORM = frozenset(
    f"torch.nn.{n}" for n in "BatchNorm1d BatchNorm2d BatchNorm3d SyncBatchNorm LazyBatchNorm1d LazyBatchNorm2d".split()
)
_TRANSFORMER = frozenset(f"torch.nn.{n}" for n in "Transformer TransformerEncoderLayer TransformerDecoderLayer".split())
_RECURRENT = frozenset({"torch.nn.LSTM", "torch.nn.GRU", "torch.nn.RNN"})
# Functions whose name says they evaluate; a call of one that is given the model runs it for a score.
EVALUATION_NAME = re.compile(r"(^|_)(eval|evaluate|evaluation|valid|validate|validation|test|predict|infer)", re.I)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
Function = Union[ast.FunctionDef, ast.AsyncFunctionDef]  # a run-time alias: Python 3.9


@dataclass(frozen=True)
class TrainModeEval:
    """`model = Net()` (with dropout), trained by a loop, then run under `torch.no_grad()` with no `model.eval()`."""

    site: ast.AST  # the `with torch.no_grad():` block, or the call of an evaluation function
    statement: ast.stmt  # the statement that holds the site, where a fix puts `model.eval()`
    model: str  # the model as written: `model`, `self.net`
    layer: str  # what changes with the mode: `nn.Dropout`, `nn.BatchNorm1d`, `dropout=` of an LSTM
    training: ast.AST  # the training loop (or the call of a training function) before it
    back_to_training: bool  # the site sits in a loop that trains again on its next pass
    retrains_after: bool  # a later statement of the scope trains the model again


def train_mode_evals(tree: ast.Module, nodes: Nodes | None = None) -> list[TrainModeEval]:
    """Evaluations of a model with mode-dependent layers that the file never puts in eval mode."""
    nodes = nodes if nodes is not None else Nodes(tree)
    if switches_mode(tree, nodes):
        return []
    names = import_names(tree)
    classes = mode_classes(tree, names, nodes)
    functions = {f.name: f for f in nodes.walk(tree, ast.FunctionDef, ast.AsyncFunctionDef)}
    found: list[TrainModeEval] = []
    code = _Code(nodes)
    for scope, models in scope_models(tree, names, classes, nodes):
        if models:
            found.extend(scope_evals(scope, models, functions, code))
    return found


def switches_mode(tree: ast.Module, nodes: Nodes | None = None) -> bool:
    """Anything in the file that may put a model in eval mode (or choose its mode from a value)."""
    nodes = nodes if nodes is not None else Nodes(tree)
    called: set[int] = set()  # the attribute's parent is not kept by `ast`; a called one is some Call's `func`
    for node in nodes.inside(tree, ast.Call):
        if is_eval_call(node):
            return True
        if isinstance(node.func, ast.Attribute) and node.func.attr == "train" and (node.args or node.keywords):
            return True  # `train(False)`, `train(mode=is_training)`
        called.add(id(node.func))
    for attribute in nodes.inside(tree, ast.Attribute):
        if attribute.attr in ("eval", "training") and isinstance(attribute.ctx, ast.Store):
            return True  # `module.training = False`
        if attribute.attr == "eval" and id(attribute) not in called:
            return True  # `model.apply(nn.Module.eval)`, `switch = model.eval`
    return False


def mode_layer(call: ast.Call, names: dict[str, str]) -> str | None:
    """`nn.Dropout` for `nn.Dropout(0.5)`: the layer a call builds when it behaves differently in training."""
    name = qualified(call.func, names)
    if name is None:
        return None
    short = "nn." + name.rsplit(".", 1)[-1]
    if name in _DROPOUT:
        p = keyword_or_arg(call, "p", 0)
        return None if is_zero(p) else short
    if name in _BATCH_NORM:
        tracked = keyword_or_arg(call, "track_running_stats", 4)
        # Without running statistics batch norm uses the batch's own in both modes: eval() changes nothing.
        return None if isinstance(tracked, ast.Constant) and tracked.value is False else short
    if name in _TRANSFORMER:
        return None if is_zero(keyword_or_arg(call, "dropout", None)) else short
    if name in _RECURRENT:
        dropout = keyword_or_arg(call, "dropout", 5)
        layers = keyword_or_arg(call, "num_layers", 2)
        # torch applies an RNN's dropout between layers only: with one layer it has no effect.
        if (
            dropout is None
            or is_zero(dropout)
            or not (isinstance(layers, ast.Constant) and layers.value in range(2, 99))
        ):
            return None
        return f"`dropout=` of an {short}"
    if name == "torch.nn.functional.dropout":
        training = keyword_or_arg(call, "training", 2)
        if isinstance(training, ast.Attribute) and training.attr == "training":
            return "`F.dropout(..., training=self.training)`"
    return None


def keyword_or_arg(call: ast.Call, name: str, position: int | None) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args):
        return call.args[position]
    return None


def is_zero(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == 0


def mode_classes(tree: ast.Module, names: dict[str, str], nodes: Nodes | None = None) -> dict[str, str]:
    """Classes of this file whose modules hold a mode-dependent layer (directly or through another such class)."""
    nodes = nodes if nodes is not None else Nodes(tree)
    bodies = {c.name: c for c in nodes.walk(tree, ast.ClassDef)}
    calls = {name: nodes.walk(cls, ast.Call) for name, cls in bodies.items()}
    found: dict[str, str] = {}
    for name in bodies:
        layer = next((lay for n in calls[name] if (lay := mode_layer(n, names))), None)
        if layer is not None:
            found[name] = layer
    changed = True
    while changed:  # `self.encoder = Encoder(...)` where Encoder has dropout
        changed = False
        for name in bodies:
            if name in found:
                continue
            for node in calls[name]:
                if isinstance(node.func, ast.Name) and node.func.id in found:
                    found[name] = found[node.func.id]
                    changed = True
                    break
    return found


def built_model(value: ast.expr, names: dict[str, str], classes: dict[str, str]) -> str | None:
    """The mode-dependent layer of the model an expression builds: `Net(...).to(device)`, `nn.Sequential(...)`."""
    while (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr
        in (
            "to",
            "cuda",
            "cpu",
            "double",
            "float",
            "half",
        )
    ):
        value = value.func.value
    if not isinstance(value, ast.Call):
        return None
    if isinstance(value.func, ast.Name) and value.func.id in classes:
        return classes[value.func.id]
    if qualified(value.func, names) in ("torch.nn.Sequential", "torch.nn.DataParallel"):
        for node in ast.walk(value):
            if isinstance(node, ast.Call) and node is not value:
                if isinstance(node.func, ast.Name) and node.func.id in classes:
                    return classes[node.func.id]
                layer = mode_layer(node, names)
                if layer is not None:
                    return layer
    return None


def scope_models(
    tree: ast.Module, names: dict[str, str], classes: dict[str, str], nodes: Nodes | None = None
) -> Iterator[tuple[ast.Module | Function, dict[str, str]]]:
    """Each scope with the models it sees built: `model` -> its mode-dependent layer."""
    nodes = nodes if nodes is not None else Nodes(tree)
    attributes: dict[int, dict[str, str]] = {}  # per class: `self.net` built in one of its methods
    for cls in nodes.walk(tree, ast.ClassDef):
        seen: dict[str, str] = {}
        for node in nodes.walk(cls, ast.Assign):
            if len(node.targets) == 1:
                target = node.targets[0]
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    layer = built_model(node.value, names, classes)
                    if layer is not None:
                        seen[f"self.{target.attr}"] = layer
        for method in cls.body:
            if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
                attributes[id(method)] = seen
    scopes: list[ast.Module | Function] = [tree, *nodes.walk(tree, ast.FunctionDef, ast.AsyncFunctionDef)]
    for scope in scopes:
        models = dict(attributes.get(id(scope), {}))
        for node in nodes.own(scope, ast.Assign):
            if len(node.targets) == 1:
                key = dotted(node.targets[0])
                layer = built_model(node.value, names, classes)
                if key is not None and layer is not None:
                    models[key] = layer
        yield scope, models


class _Code:
    """What the searches of one file ask of its subtrees (does this loop train? is the model called in
    this block?), answered from position tables of `Nodes` built once, instead of a walk per question."""

    def __init__(self, nodes: Nodes) -> None:
        self.nodes = nodes
        root = nodes.order[0]
        calls = nodes.inside(root, ast.Call)
        at = nodes.positions
        self.backwards = [at[id(c)] for c in calls if is_backward(c)]
        self.steps = [at[id(c)] for c in calls if step_of(c, {}) is not None]
        self.loops = [at[id(n)] for n in nodes.inside(root, *_LOOPS)]
        self._called: dict[str, list[int]] | None = None
        self._named: dict[str, list[int]] | None = None
        self._stored: dict[str, list[int]] | None = None
        self._own: dict[int, list[ast.AST]] = {}

    def trains(self, body: ast.AST) -> bool:
        """A backward and an optimizer step in the same block of code."""
        return self.nodes.has(body, self.backwards) and self.nodes.has(body, self.steps)

    def backwards_in(self, node: ast.AST) -> bool:
        """A backward pass inside `node`."""
        return self.nodes.has(node, self.backwards)

    def has_loop(self, node: ast.AST) -> bool:
        """A loop inside `node`, or `node` itself."""
        return self.nodes.has(node, self.loops)

    def calls_model(self, node: ast.AST, model: str) -> bool:
        """A call of `model` (as written: `model(...)`, `self.net(...)`) inside `node`."""
        if self._called is None:
            self._called = {}
            for call in self.nodes.inside(self.nodes.order[0], ast.Call):
                key = dotted(call.func)
                if key is not None:
                    self._called.setdefault(key, []).append(self.nodes.positions[id(call)])
        return self.nodes.has(node, self._called.get(model, ()))

    def mentions_model(self, node: ast.AST, model: str) -> bool:
        """`model` (a name or `self.x`) read or written inside `node`."""
        if self._named is None:
            self._named = {}
            for named in self.nodes.inside(self.nodes.order[0], ast.Name, ast.Attribute):
                key = dotted(named)
                if key is not None:
                    self._named.setdefault(key, []).append(self.nodes.positions[id(named)])
        return self.nodes.has(node, self._named.get(model, ()))

    def stores(self, node: ast.AST, name: str) -> bool:
        """`name = ...` (any binding of the plain name) inside `node`."""
        if self._stored is None:
            self._stored = {}
            for bound in self.nodes.inside(self.nodes.order[0], ast.Name):
                if isinstance(bound.ctx, ast.Store):
                    self._stored.setdefault(bound.id, []).append(self.nodes.positions[id(bound)])
        return self.nodes.has(node, self._stored.get(name, ()))

    def own(self, scope: ast.AST) -> list[ast.AST]:
        """The scope's own loops, `with` blocks and calls, in `own_nodes` order."""
        found = self._own.get(id(scope))
        if found is None:
            found = self._own[id(scope)] = self.nodes.own(scope, *_LOOPS, ast.With, ast.AsyncWith, ast.Call)
        return found


def scope_evals(
    scope: ast.Module | Function, models: dict[str, str], functions: dict[str, Function], code: _Code
) -> list[TrainModeEval]:
    nodes = code.own(scope)
    found = []
    for model, layer in models.items():
        trainings = training_sites(nodes, model, functions, code)
        if not trainings:
            continue
        switched = [line(n) for n in nodes if is_train_call(n, model)]
        for site, statement in evaluation_sites(scope, nodes, model, functions, code):
            above = code.nodes.above(statement, scope)
            training = next((t for t in trainings if before(t, site, above, scope, code)), None)
            if training is None:
                continue
            start = end(training) if line(training) < line(site) else 0
            if any(start < row <= end(site) for row in switched):
                continue  # `model.train()` after training: dropout kept on at test time on purpose (MC dropout)
            loops = [a for a in above if isinstance(a, _LOOPS)]
            # A loop around the evaluation that also holds a training site trains again on its next pass.
            again = any(t in loops or any(a in loops for a in code.nodes.above(t, scope)) for t in trainings)
            later = any(line(t) > end(statement) for t in trainings)
            found.append(TrainModeEval(site, statement, model, layer, training, again, later))
    return found


def before(training: ast.AST, site: ast.AST, site_above: tuple[ast.AST, ...], scope: ast.AST, code: _Code) -> bool:
    """Training runs before the evaluation: earlier in the scope, or in a loop around both."""
    if training in site_above:
        # Inside the training loop itself: an evaluation function, or a pass over other data (a loop in
        # the block); a single `no_grad` forward there (training accuracy, pseudo-labels) is not one.
        return isinstance(site, ast.Call) or code.has_loop(site)
    if line(training) < line(site):
        return True
    shared = [a for a in code.nodes.above(training, scope) if isinstance(a, _LOOPS) and a in site_above]
    return bool(shared)


def line(node: ast.AST) -> int:
    """The first line of a statement or expression."""
    return int(getattr(node, "lineno", 0))


def end(node: ast.AST) -> int:
    """The last line of a statement or expression."""
    return int(getattr(node, "end_lineno", None) or line(node))


def is_train_call(node: ast.AST, model: str) -> bool:
    """`model.train()`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "train"
        and dotted(node.func.value) == model
    )


def training_sites(nodes: list[ast.AST], model: str, functions: dict[str, Function], code: _Code) -> list[ast.AST]:
    """Innermost loops that backward and step with the model in them; calls that hand it to a training function."""
    sites: list[ast.AST] = []
    for node in nodes:
        if isinstance(node, _LOOPS) and code.trains(node) and code.mentions_model(node, model):
            inner = [n for n in code.nodes.inside(node, *_LOOPS) if n is not node and code.trains(n)]
            if not inner:
                sites.append(node)
        elif isinstance(node, ast.Call) and passes_model(node, model):
            callee = functions.get(
                node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            )
            if callee is not None and not EVALUATION_NAME.search(callee.name) and code.trains(callee):
                sites.append(node)
    return sites


def passes_model(call: ast.Call, model: str) -> bool:
    """`train(model, ...)`, or `self.fit(...)` where the model is `self.x` and the method reads it."""
    if any(
        dotted(a) == model for a in [*call.args, *(k.value for k in call.keywords)] if not isinstance(a, ast.Starred)
    ):
        return True
    return model.startswith("self.") and isinstance(call.func, ast.Attribute) and dotted(call.func.value) == "self"


def evaluation_sites(
    scope: ast.AST, nodes: list[ast.AST], model: str, functions: dict[str, Function], code: _Code
) -> Iterator[tuple[ast.AST, ast.stmt]]:
    """`with torch.no_grad():` blocks that run the model and backward nothing; calls of evaluation functions."""
    module_level = isinstance(scope, ast.Module)
    for node in nodes:
        if turns_off_grad(node):
            if any(turns_off_grad(a) for a in code.nodes.above(node, scope)):
                continue
            if code.calls_model(node, model) and not code.backwards_in(node):
                yield node, node  # type: ignore[misc]
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            callee = functions.get(name)
            if callee is None or not EVALUATION_NAME.search(name) or code.trains(callee):
                continue
            if passes_model(node, model):
                parameter = model_parameter(callee, node, model)
                runs = parameter is not None and code.calls_model(callee, parameter)
            else:
                # `evaluate_randomly()` in a script: the function reads the module's own `model`.
                runs = module_level and "." not in model and runs_global(callee, model, functions, set(), code)
            above = code.nodes.above(node, scope)
            statement = next((a for a in reversed(above) if isinstance(a, ast.stmt)), None)
            if runs and statement is not None:
                yield node, statement


def runs_global(function: Function, model: str, functions: dict[str, Function], seen: set[str], code: _Code) -> bool:
    """Whether a function calls the module-level `model` (not a local of that name), or calls one that does."""
    seen.add(function.name)
    arguments = function.args
    if model in {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}:
        return False
    if code.stores(function, model):
        return False
    if code.calls_model(function, model):
        return True
    for node in code.nodes.walk(function, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id not in seen:
            callee = functions.get(node.func.id)
            if callee is not None and not code.trains(callee) and runs_global(callee, model, functions, seen, code):
                return True
    return False


def model_parameter(callee: Function, call: ast.Call, model: str) -> str | None:
    """The name the callee gives the model: its parameter at the model's position, or `self.x` itself."""
    if model.startswith("self.") and isinstance(call.func, ast.Attribute) and dotted(call.func.value) == "self":
        if not any(dotted(a) == model for a in call.args):
            return model
    params = [a.arg for a in (*callee.args.posonlyargs, *callee.args.args)]
    if isinstance(call.func, ast.Attribute) and params and params[0] == "self":
        params = params[1:]
    for i, arg in enumerate(call.args):
        if dotted(arg) == model and i < len(params):
            return params[i]
    for kw in call.keywords:
        if kw.arg is not None and dotted(kw.value) == model:
            return kw.arg
    return None
