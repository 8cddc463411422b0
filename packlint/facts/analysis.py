"""The analysis pass over a file: the module body, then each class and function with what it may see."""

from __future__ import annotations

import ast

from packlint.facts.file_facts import FileFacts
from packlint.facts.gating import Gate, needed
from packlint.facts.perms import IDENTITY
from packlint.facts.summaries import Helper
from packlint.facts.syntax import statements
from packlint.facts.values import UNKNOWN, Kind, Value, join
from packlint.facts.walker import Walker


def analyse(tree: ast.Module, gate: Gate | None = None) -> FileFacts:
    """Run the analysis pass over a parsed module (with a gate, only over what the selected rules can use)."""
    facts = FileFacts(tree)
    if gate is not None and not gate.words:
        return facts  # the rules this file triggers read only its tree and text
    walker = Walker(facts, {})
    walker.walk_body(tree.body)
    bound_at_module: dict[str, int] = {}
    for made in facts.bindings.values():
        if made.scope is None:
            bound_at_module[made.name] = bound_at_module.get(made.name, 0) + 1
    module_env = {
        name: value
        for name, value in walker.env.items()
        if value.kind in (Kind.REF, Kind.RNN, Kind.OPTIMIZER)
        or ((value.kind in _CONSTANTS or value.is_constant) and bound_at_module.get(name) == 1)
        or (value.kind is Kind.FUNCTION and name not in bound_at_module)
    }
    facts.module_env = module_env
    # A function sees the module's imports, RNN modules and optimizers, and its constants (bound once:
    # `device = torch.device("cpu")`, `BATCH_FIRST = True`), not its other globals (which may be
    # rebound before it runs); copying those into every function made big modules quadratic.
    deferred = walker.deferred
    if gate is not None and not gate.walks_everything:
        module_names = [name.split(".")[0] for name in (*walker.env, *bound_at_module)]
        chosen = needed(gate, tree, [node for node, _, _ in deferred], module_names)
        deferred = [item for item in deferred if id(item[0]) in chosen]
    pending = [(node, module_env, attrs) for node, _, attrs in deferred]
    while pending:
        node, env, attrs = pending.pop(0)
        if isinstance(node, ast.ClassDef):
            pending.extend(walk_class(facts, node, env))
        else:
            pending.extend(walk_function(facts, node, env, attrs))  # type: ignore[arg-type]
    return facts


_CONSTANTS = (Kind.NUMBER, Kind.DEVICE, Kind.MODULES)


def walk_function(
    facts: FileFacts,
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    env: dict[str, Value],
    class_attrs: dict[str, Value],
    recording: bool = True,
    is_method: bool = False,
    known_params: dict[str, Value] | None = None,
) -> list[tuple[ast.AST, dict[str, Value], dict[str, Value]]]:
    """Walk one function body; returns the nested definitions still to walk."""
    env = dict(env)
    params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
    walker = Walker(facts, env, class_attrs, scope=node)
    walker.recording = recording
    walker.role = role_of(node, is_method)
    walker.params = frozenset(a.arg for a in params)
    for default in [*node.args.defaults, *node.args.kw_defaults]:
        walker.eval(default)
    for i, arg in enumerate(params):
        if i == 0 and is_method:
            env[arg.arg] = Value(Kind.SELF, arg.arg)
            continue
        binding = walker.new_binding(arg.arg, node)
        known = (known_params or {}).get(arg.arg)
        if known is not None:
            env[arg.arg] = known.but(label=arg.arg, binding=binding)
        else:
            env[arg.arg] = Value(label=arg.arg, perm=IDENTITY, param=True, binding=binding, root=arg.arg)
    for extra in (node.args.vararg, node.args.kwarg):
        if extra is not None:
            env[extra.arg] = UNKNOWN
    walker.walk_body(node.body)
    return walker.deferred if recording else []


def role_of(node: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> str | None:
    """ "collate" for a collate function or `__getitem__` (dataset order), "forward" for a module's forward."""
    name = node.name.lower()
    if "collate" in name or node.name == "__getitem__":
        return "collate"
    if is_method and node.name == "forward":
        return "forward"
    return None


def walk_class(
    facts: FileFacts, node: ast.ClassDef, env: dict[str, Value]
) -> list[tuple[ast.AST, dict[str, Value], dict[str, Value]]]:
    """Learn `self.x = nn.LSTM(...)` from every method, then walk each method with that knowledge.

    An attribute assigned in several places (two branches, two methods) holds what all agree on.
    """
    attrs: dict[str, Value] = {}
    methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
    init_params: dict[str, Value] = {}
    for method in methods:
        self_name = method.args.args[0].arg if method.args.args else None
        method_env = env
        if method.name == "__init__":
            init_params = constructor_params(facts, node, method, env)
            method_env = {**env, **init_params}
        for stmt in statements(method):
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == self_name
                    ):
                        value = attr_value(stmt.value, method_env)
                        attrs[target.attr] = join(attrs[target.attr], value) if target.attr in attrs else value
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and isinstance(stmt.target, ast.Attribute):
                attrs[stmt.target.attr] = UNKNOWN
    known = {name: value for name, value in attrs.items() if value.kind is not Kind.UNKNOWN or value.is_constant}
    for method in methods:
        if method.name not in attrs and not method.decorator_list and method.name != "__init__":
            helper_id = facts.new_helper(Helper(method, known, True, env))
            known[method.name] = Value(Kind.FUNCTION, method.name, origin=helper_id)
    pending: list[tuple[ast.AST, dict[str, Value], dict[str, Value]]] = []
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in stmt.decorator_list)
            params = init_params if stmt.name == "__init__" else None
            pending.extend(walk_function(facts, stmt, env, known, is_method=not static, known_params=params))
        elif isinstance(stmt, ast.ClassDef):
            pending.append((stmt, env, {}))
        else:
            Walker(facts, dict(env), known).walk_stmt(stmt)
    return pending


_RNN_CLASS_NAMES = frozenset({"LSTM", "GRU", "RNN"})


def builds_rnn(method: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether `__init__` assigns an `nn.LSTM(...)`-like call (looked up by name only, cheaply)."""
    for stmt in statements(method):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in _RNN_CLASS_NAMES or name in ("ModuleList", "Sequential"):
                return True
    return False


def constructor_params(
    facts: FileFacts, cls: ast.ClassDef, init: ast.FunctionDef | ast.AsyncFunctionDef, env: dict[str, Value]
) -> dict[str, Value]:
    """`__init__` parameters whose literal value is known: its default joined with what every place in
    this file that builds the class passes (`bidirectional=True` in the signature, `Model(8, 16)`)."""
    if not builds_rnn(init):
        return {}
    args = init.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)][1:]
    defaults: dict[str, ast.expr] = {}
    for arg, default in zip(reversed([a.arg for a in (*args.posonlyargs, *args.args)]), reversed(args.defaults)):
        defaults[arg] = default
    for kwarg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
        if kw_default is not None:
            defaults[kwarg.arg] = kw_default
    names = [*positional, *(a.arg for a in args.kwonlyargs)]
    scratch = Walker(FileFacts(ast.Module(body=[], type_ignores=[])), dict(env))
    scratch.recording = False
    sites = facts.calls_named(cls.name)
    known: dict[str, Value] = {}
    for name in names:
        value: Value | None = None
        # Where the file builds the class, those calls decide (the default where one omits it);
        # where it never does, the default is what a user who omits the argument gets.
        for site in (*sites,) if sites else (None,):
            if site is not None and (
                any(isinstance(a, ast.Starred) for a in site.args) or any(k.arg is None for k in site.keywords)
            ):
                value = UNKNOWN
                break
            passed = None
            if site is not None:
                passed = next((k.value for k in site.keywords if k.arg == name), None)
                if passed is None and name in positional and positional.index(name) < len(site.args):
                    passed = site.args[positional.index(name)]
            expr = passed if passed is not None else defaults.get(name)
            here = scratch.eval(expr) if expr is not None else UNKNOWN
            value = here if value is None else join(value, here)
        if value is not None and (value.is_constant or value.kind is Kind.DEVICE):
            known[name] = value
    return known


def attr_value(node: ast.expr, env: dict[str, Value]) -> Value:
    """What `self.x = <node>` stores, when it is a module or optimizer we recognise."""
    scratch = FileFacts(ast.Module(body=[], type_ignores=[]))
    walker = Walker(scratch, dict(env))
    walker.recording = False
    value = walker.eval(node)
    kept = (Kind.RNN, Kind.MODULES, Kind.OPTIMIZER, Kind.NUMBER, Kind.DEVICE)
    return value if value.kind in kept or value.is_constant or value.qualname == "<loss>" else UNKNOWN
