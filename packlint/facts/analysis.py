"""The analysis pass over a file: the module body, then each class and function with what it may see."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.facts.file_facts import FileFacts
from packlint.facts.perms import IDENTITY
from packlint.facts.values import UNKNOWN, Kind, Value
from packlint.facts.walker import Walker


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
