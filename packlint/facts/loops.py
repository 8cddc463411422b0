"""Training-loop facts: where gradients are computed (backward), applied (step) and reset.

Everything here is syntactic and deliberately generous about what counts as a reset: a rule that
reports a missing reset must be sure there is none, so anything that might reset gradients
(`opt.zero_grad`, `model.zero_grad`, `p.grad = None`, `p.grad.zero_()`, a same-file helper that
does one of these, a name like `clear_grads`) counts as one.
"""

from __future__ import annotations

import ast
import bisect
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Union

from packlint.facts.nodes import Nodes
from packlint.facts.syntax import called_name
from packlint.source import Source

LOOPS = (ast.For, ast.AsyncFor, ast.While)
Loop = Union[ast.For, ast.AsyncFor, ast.While]  # a run-time alias: `|` on classes needs Python 3.10
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
# Names that hold an optimizer by convention: `opt`, `optimizer`, `optimizerD`, `g_optim`, `self.opt`.
_OPTIMIZER_NAME = re.compile(r"optim|(^|_)opt($|_|[A-Z0-9])|^opt[A-Z_0-9]", re.I)
# ... and names that contain those letters but step something else: `lr_scheduler`, `warmup_opt`.
_NOT_OPTIMIZER = re.compile(r"sched|(^|_)lr($|_)|warmup|option", re.I)
_SCALER_NAME = re.compile(r"scaler", re.I)
# A callable whose name says it resets gradients: `zero_grad`, `zero_grads`, `clear_grad`, `reset_grads`.
_RESET_NAME = re.compile(r"(zero|clear|reset)_?grad", re.I)
# Branching constructs: a call beneath one of these does not run on every pass through the loop.
_CONDITIONAL = tuple(
    getattr(ast, name) for name in ("If", "Try", "TryStar", "IfExp", "BoolOp", "Match") if hasattr(ast, name)
)


@dataclass(frozen=True)
class Step:
    """An optimizer step: `opt.step()`, `scaler.step(opt)`, `xm.optimizer_step(opt)`."""

    call: ast.Call
    optimizer: ast.expr  # the optimizer as written: `opt`, `self.optimizer`
    key: str  # its normalised text, to compare optimizers
    closure: bool  # `opt.step(closure)`: the closure computes (and resets) gradients itself


@dataclass(frozen=True)
class TrainingLoop:
    """The innermost loop around a backward pass and an optimizer step: `for b in loader: ...`."""

    node: Loop
    backward: ast.Call  # the first backward pass inside
    steps: tuple[Step, ...]  # every optimizer step inside, nested ones included
    unconditional: tuple[bool, ...]  # per step: taken on every iteration that reaches the end
    resets: bool  # a gradient reset anywhere inside, or in a same-file helper called inside
    bound: frozenset[str]  # names (re)bound inside the loop, its target included


@dataclass(frozen=True)
class ResetBeforeStep:
    """`loss.backward(); opt.zero_grad(); opt.step()`: a reset between a backward and its step."""

    backward: ast.Call
    reset: ast.Expr  # the statement `opt.zero_grad()`
    step: ast.Expr  # the statement `opt.step()`
    optimizer: Step


def key_of(node: ast.expr) -> str:
    """Text of an expression with layout normalised, so that equal expressions compare equal."""
    return ast.unparse(node)


def is_backward(node: ast.AST) -> bool:
    """`loss.backward()`, `scaler.scale(loss).backward()`, `accelerator.backward(loss)`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr not in ("backward", "manual_backward"):
        return False
    receiver = node.func.value
    # `MyFunction.backward(ctx, grad)` runs an autograd.Function's formula by hand; it computes
    # values, not `.grad` fields.
    if isinstance(receiver, ast.Name) and receiver.id[:1].isupper():
        return False
    return not (node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "ctx")


def _grad_field(node: ast.expr) -> bool:
    """`p.grad` or `p.grad.data`."""
    if isinstance(node, ast.Attribute) and node.attr == "data":
        node = node.value
    return isinstance(node, ast.Attribute) and node.attr == "grad"


def is_reset(node: ast.AST) -> bool:
    """Anything that may reset gradients: `opt.zero_grad()`, `p.grad = None`, `p.grad.zero_()`, ..."""
    if isinstance(node, ast.Attribute):
        return bool(_RESET_NAME.search(node.attr))  # also a bound method kept for later: `reset = opt.zero_grad`
    if isinstance(node, ast.Name):
        return bool(_RESET_NAME.search(node.id))
    if isinstance(node, ast.keyword):
        return node.arg is not None and bool(_RESET_NAME.search(node.arg))  # `opt.first_step(zero_grad=True)`
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("zero_", "fill_", "detach_") and _grad_field(node.func.value):
            return True
        return node.func.attr.startswith("_foreach_zero")  # `torch._foreach_zero_(grads)`
    if isinstance(node, (ast.Assign, ast.Delete)):
        # `p.grad = None`, or any assignment: code that writes `.grad` manages gradients itself.
        return any(isinstance(t, ast.Attribute) and t.attr == "grad" for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Attribute) and node.target.attr == "grad"
    return False


def optimizer_names(tree: ast.Module, nodes: Nodes | None = None) -> dict[str, str | None]:
    """Expressions assigned an optimizer in this file (`opt = torch.optim.Adam(model.parameters())`),
    each with the model whose parameters it gets when that is visible."""
    nodes = nodes if nodes is not None else Nodes(tree)
    constructors: set[str] = set()
    for imported in nodes.inside(tree, ast.ImportFrom):
        if imported.module:
            module = imported.module
            constructors.update(a.asname or a.name for a in imported.names if _optimizer_class(module, a.name))
    found: dict[str, str | None] = {}
    for node in nodes.walk(tree, ast.Assign, ast.AnnAssign):  # in `ast.walk` order: a later binding wins
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not isinstance(value, ast.Call):
            continue
        func = value.func
        if isinstance(func, ast.Attribute):
            optimizer = _optimizer_class(key_of(func.value), func.attr)
        else:
            optimizer = isinstance(func, ast.Name) and func.id in constructors
        if not optimizer:
            continue
        params = value.args[0] if value.args else next((k.value for k in value.keywords if k.arg == "params"), None)
        model = None
        if isinstance(params, ast.Call) and isinstance(params.func, ast.Attribute) and params.func.attr == "parameters":
            model = key_of(params.func.value)
        for target in targets:
            found[key_of(target)] = model
    return found


def _optimizer_class(module: str, name: str) -> bool:
    """`torch.optim.Adam`, `apex.optimizers.FusedAdam`; not `torch.optim.lr_scheduler.StepLR`."""
    return (
        "optim" in module
        and not re.search("sched|swa", module, re.I)
        and name[:1].isupper()
        and not re.search(r"LR$|Sched|SWA|Averaged", name)
    )


def _looks_like_optimizer(node: ast.expr, optimizers: dict[str, str | None]) -> bool:
    if key_of(node) in optimizers:
        return True
    if isinstance(node, ast.Subscript):  # `optimizers[0]`, `self.optimizers[name]`
        node = node.value
    if isinstance(node, ast.Attribute):
        last = node.attr
    elif isinstance(node, ast.Name):
        last = node.id
    else:
        return False
    return bool(_OPTIMIZER_NAME.search(last)) and not _NOT_OPTIMIZER.search(last)


def step_of(node: ast.AST, optimizers: dict[str, str | None]) -> Step | None:
    """The optimizer step that `node` is, if it is one (`scheduler.step()` is not)."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    receiver, args = node.func.value, node.args
    if node.func.attr == "step":
        if args and not isinstance(args[0], ast.Starred):
            scaler = isinstance(receiver, (ast.Name, ast.Attribute)) and _SCALER_NAME.search(key_of(receiver))
            if scaler or (
                _looks_like_optimizer(args[0], optimizers) and not _looks_like_optimizer(receiver, optimizers)
            ):
                return Step(node, args[0], key_of(args[0]), False)  # `scaler.step(opt)`
        if _looks_like_optimizer(receiver, optimizers):
            given = [*args, *(k.value for k in node.keywords if k.arg == "closure")]
            closure = any(not (isinstance(a, ast.Constant) and a.value is None) for a in given)
            return Step(node, receiver, key_of(receiver), closure)  # `opt.step()`, `opt.step(closure)`
    if node.func.attr == "optimizer_step" and args and _looks_like_optimizer(args[0], optimizers):
        return Step(node, args[0], key_of(args[0]), False)  # torch_xla's `xm.optimizer_step(opt)`
    return None


def _functions_that(
    tree: ast.Module, *tests: Callable[[ast.AST], bool], nodes: Nodes | None = None
) -> tuple[set[str], ...]:
    """For each test, the names of same-file functions (and names bound to lambdas or bound methods)
    whose code passes it somewhere, directly or through a call of another such name; one pass over the
    nodes for all the tests. A function that defines a nested one counts as calling it."""
    nodes = nodes if nodes is not None else Nodes(tree)
    calls: dict[str, set[str]] = {}
    direct: tuple[set[str], ...] = tuple(set() for _ in tests)

    def visit(node: ast.AST, owner: str) -> None:
        for test, passed in zip(tests, direct):
            if owner not in passed and test(node):
                passed.add(owner)
        name = called_name(node)
        if name is not None:
            calls.setdefault(owner, set()).add(name)

    order, parents = nodes.order, nodes.parents
    owners: list[str | None] = [None] * len(order)  # the innermost function whose code each node is
    for here, node in enumerate(order):
        above = parents[here]
        if above >= 0:
            parent = order[above]
            owner = parent.name if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) else owners[above]
            owners[here] = owner
            if owner is not None:
                visit(node, owner)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    calls.setdefault(owner, set()).add(node.name)
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Lambda, ast.Attribute)):
            for target in node.targets:  # `reset = lambda: opt.zero_grad()`, `reset = opt.zero_grad`
                if isinstance(target, ast.Name):
                    for inner in nodes.subtree(node.value):
                        visit(inner, target.id)
    callers: dict[str, set[str]] = {}
    for caller, callees in calls.items():
        for callee in callees:
            callers.setdefault(callee, set()).add(caller)
    return tuple(_with_callers(passed, callers) for passed in direct)


def _with_callers(direct: set[str], callers: dict[str, set[str]]) -> set[str]:
    found = set(direct)
    pending = list(direct)
    while pending:
        for caller in callers.get(pending.pop(), ()):
            if caller not in found:
                found.add(caller)
                pending.append(caller)
    return found


def resetting_functions(tree: ast.Module, nodes: Nodes | None = None) -> set[str]:
    """Names of same-file functions that may reset gradients, directly or through another."""
    return _functions_that(tree, is_reset, nodes=nodes)[0]


def backward_functions(tree: ast.Module) -> set[str]:
    """Names of same-file functions that run a backward pass, directly or through another."""
    return _functions_that(tree, is_backward)[0]


def _in_code(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes that run when `node` runs: not the bodies of nested functions, classes or lambdas."""
    if isinstance(node, _DEFS):
        return
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, _DEFS):
            stack.extend(ast.iter_child_nodes(child))


def _unconditional(loop: ast.AST, call: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """Whether `call` runs on every iteration of `loop` that gets that far."""
    node = call
    while id(node) in parents:
        node = parents[id(node)]
        if node is loop:
            return True
        if isinstance(node, (*_CONDITIONAL, *LOOPS, *_DEFS)):
            return False
    return False


# Module methods that return the module itself: `model = base.to(device)` builds nothing new.
_RETURNS_SELF = frozenset(
    {"to", "cuda", "cpu", "xpu", "mps", "train", "eval", "float", "double", "half", "bfloat16", "type"}
    | {"requires_grad_", "apply", "share_memory", "to_empty", "zero_grad", "register_module"}
)
_PARAMETER_CALLS = frozenset({"parameters", "named_parameters"})
_Position = tuple[int, int]


@dataclass(frozen=True)
class _Pass:
    """One loop's assignments that run on every pass before the optimizer step does: `name = value`
    statements inside the loop that are the only binding of their name there and that every path
    from the top of the pass to the step goes through."""

    loop: Loop
    step: ast.Call
    parents: dict[int, ast.AST]
    stores: dict[str, int]  # how often each name is bound inside the loop, comprehensions included

    def value(self, name: str, before: _Position) -> tuple[ast.expr, _Position] | None:
        """The value `name` holds at `before`, bound earlier in this pass, and where it was bound."""
        if self.stores.get(name) != 1:
            return None
        for node in ast.walk(self.loop):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name
            ):
                at = (node.lineno, node.col_offset)
                if at < before and _dominates(node, self.step, self.loop, self.parents):
                    return node.value, at
        return None


def _dominates(stmt: ast.stmt, node: ast.AST, loop: Loop, parents: dict[int, ast.AST]) -> bool:
    """Whether every pass of `loop` that reaches `node` has run `stmt` before it: `stmt` sits in a
    block that holds `node` (or the statement around it) further down."""
    owner = parents.get(id(stmt))
    block = next(
        (b for b in _blocks(owner) if any(s is stmt for s in b)) if owner is not None else iter(()),
        None,
    )
    if block is None:
        return False
    index = next(i for i, s in enumerate(block) if s is stmt)
    current: ast.AST | None = node
    while current is not None and current is not loop and not isinstance(current, _DEFS):
        if parents.get(id(current)) is owner:
            return any(s is current for s in block[index + 1 :])
        current = parents.get(id(current))
    return False


def _blocks(node: ast.AST) -> Iterator[list[ast.stmt]]:
    for field in ("body", "orelse", "finalbody"):
        block = getattr(node, field, None)
        if isinstance(block, list):
            yield block


def _fresh_each_iteration(loop: Loop, step: Step, parents: dict[int, ast.AST]) -> bool:
    """`model = build(); opt = SGD(model.parameters())` on every pass before the step: a fresh
    model each iteration, so no gradient is left over from the last one (parameter-grid tests).
    The optimizer's parameters may go through names and comprehensions bound in the pass
    (`trainable = {n: p for n, p in model.named_parameters()}; SGD(trainable.values())`)."""
    if not isinstance(step.optimizer, ast.Name):
        return False
    stores: dict[str, int] = {}
    for node in ast.walk(loop):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
    facts = _Pass(loop, step.call, parents, stores)
    made = facts.value(step.optimizer.id, (step.call.lineno, step.call.col_offset))
    if made is None:
        return False
    built, at = made
    if not isinstance(built, ast.Call):
        return False
    params = built.args[0] if built.args else next((k.value for k in built.keywords if k.arg == "params"), None)
    if params is None:
        return False
    receivers: list[tuple[ast.expr, _Position]] = []
    if not _parameter_sources(facts, params, at, receivers, set()):
        return False
    return bool(receivers) and all(_fresh_module(facts, module, where, set()) for module, where in receivers)


def _parameter_sources(
    facts: _Pass, expr: ast.expr, at: _Position, receivers: list[tuple[ast.expr, _Position]], seen: set[str]
) -> bool:
    """Collect the modules whose `.parameters()` make up `expr` (evaluated at `at`) into `receivers`;
    False when a name in it is bound inside the loop in a way this pass cannot follow."""
    local = {
        n.id
        for node in ast.walk(expr)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
        for gen in node.generators
        for n in ast.walk(gen.target)
        if isinstance(n, ast.Name)
    }
    lambdas = [node.args for node in ast.walk(expr) if isinstance(node, ast.Lambda)]
    local |= {a.arg for args in lambdas for a in ast.walk(args) if isinstance(a, ast.arg)}
    stack: list[ast.AST] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _PARAMETER_CALLS:
            receivers.append((node.func.value, at))
            stack.extend([*node.args, *(k.value for k in node.keywords)])
            continue
        if isinstance(node, ast.Name) and node.id not in local:
            if node.id in seen or node.id not in facts.stores:
                continue  # bound outside the loop: a function (`filter`, `itertools`) or data that is not a module's
            made = facts.value(node.id, at)
            if made is None:
                return False
            seen.add(node.id)
            if not _parameter_sources(facts, made[0], made[1], receivers, seen):
                return False
            continue
        stack.extend(ast.iter_child_nodes(node))
    return True


def _fresh_module(facts: _Pass, expr: ast.expr, at: _Position, seen: set[str]) -> bool:
    """Whether `expr` is a module built on this pass (`Net()`, `Net().to(dev)`, `model.encoder`)."""
    if isinstance(expr, ast.Call):
        if isinstance(expr.func, ast.Attribute) and expr.func.attr in _RETURNS_SELF:
            return _fresh_module(facts, expr.func.value, at, seen)
        return True  # a constructor or a factory: a new module, as far as this file shows
    if isinstance(expr, ast.Attribute):
        return _fresh_module(facts, expr.value, at, seen)  # a submodule of a fresh module
    if isinstance(expr, ast.Name) and expr.id not in seen:
        made = facts.value(expr.id, at)
        return made is not None and _fresh_module(facts, made[0], made[1], seen | {expr.id})
    return False


def _bound_names(loop: Loop, nodes: Nodes | None = None) -> frozenset[str]:
    """Names that the loop (re)binds anywhere inside, nested definitions included."""
    names: set[str] = set()
    for node in nodes.subtree(loop) if nodes is not None else ast.walk(loop):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
    return frozenset(names)


@dataclass(frozen=True)
class _Index:
    """What one walk of a module finds: parents, backward passes and `.step(...)` calls, each with
    the loops around it (innermost last; a function, class or lambda starts afresh)."""

    parents: dict[int, ast.AST]
    backwards: list[tuple[ast.Call, tuple[Loop, ...]]]
    steps: list[tuple[ast.Call, tuple[Loop, ...]]]


# Where a backward pass can be: `loss.backward(`, `accelerator.backward(`, `self.manual_backward(`.
_BACKWARD_TEXT = re.compile(r"backward\s*\(")


def _index(tree: ast.Module, source: Source | None) -> _Index:
    """Walk only the top-level statements (methods, within classes) that may hold a backward pass."""
    parents: dict[int, ast.AST] = {}
    roots: list[ast.AST] = [tree]
    if source is not None:
        rows = sorted({source.location(m.start()).row for m in _BACKWARD_TEXT.finditer(source.text)})
        roots = []
        bodies: list[ast.Module | ast.ClassDef] = [tree]
        while bodies:
            owner = bodies.pop()
            for stmt in owner.body:
                at = bisect.bisect_left(rows, stmt.lineno)
                if at == len(rows) or rows[at] > (stmt.end_lineno or stmt.lineno):
                    continue  # no `backward(` in this statement's lines
                parents[id(stmt)] = owner
                (bodies if isinstance(stmt, ast.ClassDef) else roots).append(stmt)  # type: ignore[arg-type]
    backwards: list[tuple[ast.Call, tuple[Loop, ...]]] = []
    steps: list[tuple[ast.Call, tuple[Loop, ...]]] = []
    stack: list[tuple[ast.AST, tuple[Loop, ...]]] = [(root, ()) for root in reversed(roots)]
    while stack:
        node, chain = stack.pop()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if is_backward(node):
                backwards.append((node, chain))
            elif node.func.attr in ("step", "optimizer_step"):
                steps.append((node, chain))
        inner = () if isinstance(node, _DEFS) else (*chain, node) if isinstance(node, LOOPS) else chain
        children = list(ast.iter_child_nodes(node))
        for child in children:
            parents[id(child)] = node
        stack.extend((child, inner) for child in reversed(children))
    return _Index(parents, backwards, steps)


class LoopFacts:
    """One file's loop index and optimizer table, each built at most once and shared by the
    training-loop rules (with the source, only statements whose text holds `backward(` are walked)."""

    def __init__(self, tree: ast.Module, source: Source | None = None, nodes: Nodes | None = None) -> None:
        self.tree = tree
        self.source = source
        self._nodes = nodes

    @property
    def nodes(self) -> Nodes:
        """The tree's nodes in preorder (`FileFacts.nodes` when given, else built on first use)."""
        if self._nodes is None:
            self._nodes = Nodes(self.tree)
        return self._nodes

    @cached_property
    def index(self) -> _Index:
        """Parents, backward passes and steps, with the loops around each."""
        return _index(self.tree, self.source)

    @cached_property
    def optimizers(self) -> dict[str, str | None]:
        """Expressions assigned an optimizer in this file."""
        return optimizer_names(self.tree, self.nodes)

    @cached_property
    def helpers(self) -> tuple[set[str], set[str]]:
        """Same-file functions that may reset gradients, and those that run a backward pass (one walk)."""
        resetting, backward = _functions_that(self.tree, is_reset, is_backward, nodes=self.nodes)
        return resetting, backward

    @property
    def resetting(self) -> set[str]:
        """Names of same-file functions that may reset gradients (`resetting_functions`), built once."""
        return self.helpers[0]


def training_loops(facts: LoopFacts) -> list[TrainingLoop]:
    """Innermost loops around a backward and a step, and whether they reset gradients."""
    index = facts.index
    backwards = [(call, chain) for call, chain in index.backwards if chain]
    if not backwards:
        return []
    optimizers = facts.optimizers
    steps = [(step, chain) for call, chain in index.steps if chain and (step := step_of(call, optimizers))]
    if not steps:
        return []
    loops: dict[int, tuple[Loop, ast.Call]] = {}
    for backward, b_chain in backwards:
        for _, s_chain in steps:
            common = None
            for b_loop, s_loop in zip(b_chain, s_chain):
                if b_loop is not s_loop:
                    break
                common = b_loop
            if common is not None and id(common) not in loops:
                loops[id(common)] = (common, backward)
    if not loops:
        return []
    helpers = facts.resetting
    # A model whose `forward` resets (`self.zero_grad()`) resets whenever it is called, and we
    # cannot tell which calls in a loop are calls of that model.
    any_call_resets = bool(helpers & {"forward", "__call__"})
    parents = index.parents
    found: list[TrainingLoop] = []
    for loop, backward in sorted(loops.values(), key=lambda pair: (pair[0].lineno, pair[0].col_offset)):
        inside = [step for step, chain in steps if any(s is loop for s in chain)]
        resets = any(
            is_reset(n) or called_name(n) in helpers or (any_call_resets and isinstance(n, ast.Call))
            for n in facts.nodes.subtree(loop)
        ) or (bool(inside) and all(_fresh_each_iteration(loop, step, parents) for step in inside))
        found.append(
            TrainingLoop(
                loop,
                backward,
                tuple(inside),
                tuple(_unconditional(loop, step.call, parents) for step in inside),
                resets,
                _bound_names(loop, facts.nodes),
            )
        )
    return found


def _straight_blocks(call: ast.Call, parents: dict[int, ast.AST]) -> Iterator[tuple[list[ast.stmt], int]]:
    """The blocks in which `call` runs as part of a statement every time that statement runs:
    the block of its own statement, and outwards through `with` statements."""
    node: ast.AST = call
    while (parent := parents.get(id(node))) is not None:
        if isinstance(node, ast.stmt):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(parent, field, None)
                if isinstance(block, list):
                    for i, stmt in enumerate(block):
                        if stmt is node:
                            yield block, i
            if not isinstance(parent, (ast.With, ast.AsyncWith)):
                return
        elif isinstance(parent, (*_CONDITIONAL, *_DEFS, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        node = parent


def resets_before_step(facts: LoopFacts) -> list[ResetBeforeStep]:
    """Resets between a backward and the step of the same optimizer, in one straight-line block."""
    index = facts.index
    if not index.backwards:
        return []
    scan = _BlockScan(facts)
    found: list[ResetBeforeStep] = []
    seen: set[tuple[int, int]] = set()
    for backward, _ in index.backwards:
        for block, at in _straight_blocks(backward, index.parents):
            if (id(block), at) not in seen:
                seen.add((id(block), at))
                found.extend(scan.after(backward, block, at))
    return found


class _BlockScan:
    """Scans a block forward from a backward pass; optimizer and helper names are found on demand."""

    def __init__(self, facts: LoopFacts) -> None:
        self.facts = facts
        self.tree = facts.tree
        self.parents = facts.index.parents
        self._backward_helpers: set[str] | None = None

    @property
    def optimizers(self) -> dict[str, str | None]:
        return self.facts.optimizers

    def may_backward(self, stmt: ast.stmt) -> bool:
        """Whether `stmt` may compute gradients: a backward, or a call of a helper that runs one."""
        for node in [stmt, *_in_code(stmt)]:
            name = called_name(node)
            if name is None:
                continue
            if is_backward(node) or re.search("backward|closure", name, re.I):
                return True
            if self._backward_helpers is None:
                self._backward_helpers = self.facts.helpers[1]
            if name in self._backward_helpers:
                return True
        return False

    def steps_in(self, stmt: ast.stmt) -> list[Step]:
        return [s for n in [stmt, *_in_code(stmt)] if (s := step_of(n, self.optimizers)) is not None]

    def after(self, backward: ast.Call, block: list[ast.stmt], at: int) -> Iterator[ResetBeforeStep]:
        """Resets in `block` after `block[at]` (which runs `backward`) and before the step they empty."""
        for r in range(at + 1, len(block)):
            reset = block[r]
            nodes = [reset, *_in_code(reset)]
            resets = any(is_reset(n) for n in nodes)
            if not resets and not any(isinstance(n, ast.Call) for n in nodes):
                continue  # nothing here can step, compute or reset gradients
            if self.may_backward(reset) or self.steps_in(reset):
                return  # a step before any reset (the right order), or another backward
            if not resets:
                continue
            receiver = _reset_receiver(reset)
            if receiver is None:
                return  # a reset we could not move: `for p in params: p.grad = None`
            scope = _scope(reset, self.parents)
            step = self.next_step(block, r, functools.partial(_empties, receiver, self.optimizers, scope))
            if step is not None:
                yield ResetBeforeStep(backward, reset, *step)  # type: ignore[arg-type]

    def next_step(
        self, block: list[ast.stmt], after: int, emptied: Callable[[Step], bool]
    ) -> tuple[ast.Expr, Step] | None:
        """The first step after `block[after]` of gradients the reset empties, with nothing in between
        that computes gradients; another optimizer's step on the way (`opt_a.step()` before
        `opt_b.step()`) is passed over, since it neither computes nor needs those gradients."""
        for stmt in block[after + 1 :]:
            if self.may_backward(stmt):
                return None
            steps = self.steps_in(stmt)
            if not steps:
                continue
            simple = isinstance(stmt, ast.Expr) and steps[0].call is stmt.value and not steps[0].closure
            if simple and not emptied(steps[0]):
                continue
            return (stmt, steps[0]) if simple else None  # type: ignore[return-value]
        return None


def _empties(receiver: ast.expr, optimizers: dict[str, str | None], scope: ast.AST, step: Step) -> bool:
    """Whether the reset of `receiver` empties the gradients `step` applies."""
    return _same_gradients(receiver, step, optimizers, scope)


def _scope(node: ast.AST, parents: dict[int, ast.AST]) -> ast.AST:
    """The function (or module) whose code `node` is part of."""
    while id(node) in parents:
        node = parents[id(node)]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return node


def _reset_receiver(stmt: ast.AST) -> ast.expr | None:
    """`opt` for the statement `opt.zero_grad(...)`."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute) and func.attr == "zero_grad":
            return func.value
    return None


def _same_gradients(node: ast.expr, step: Step, optimizers: dict[str, str | None], scope: ast.AST) -> bool:
    """Whether resetting through `node` clears the gradients that `step` applies."""
    receiver = key_of(node)
    if receiver == step.key:
        return True
    model = optimizers.get(step.key)
    if model is not None or _looks_like_optimizer(node, optimizers):
        return receiver == model
    # `model.zero_grad()` before `optimizer.step()` with both passed in: the same parameters when the
    # function steps one optimizer and resets one model. A GAN steps two, or resets both nets.
    code = [n for stmt in getattr(scope, "body", []) for n in [stmt, *_in_code(stmt)]]
    stepped = {s.key for n in code if (s := step_of(n, optimizers)) is not None}
    reset = {key_of(r) for n in code if (r := _reset_receiver(n)) is not None}
    return stepped == {step.key} and reset - {step.key} == {receiver}
