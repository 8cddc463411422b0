"""One statement interpreter for the analyses that follow a single kind of value through a body.

`tensors` (what reaches an RNN: dtype and rank) and `padding` (padded outputs reaching a softmax, mean
or max) each follow values of their own; this walks the statements for both, and each analysis keeps
only its value logic: how an expression evaluates (`eval`), what a target other than a plain name
binds (`bind_pattern`) and, where the defaults do not fit, how paths join (`join`) and what a loop
forgets (`loop_forgets`).

The environment maps names to values; a name absent from it is unknown, and the analyses stay quiet
on unknown values. Paths join on agreement: after a branch a name keeps its value only when every
path ends with an equal one. A loop first forgets every name its body (or `else`) may bind, since an
iteration sees what the one before bound, and then walks its body once as a branch that may not run.
So each statement is visited once however deep the loops nest: the cost is linear in nesting, not
doubled per level as walking each body twice would be.

This is not `walker.Walker`, the main facts walk: that one records events, follows which paths
leave (`return`, `raise`), walks a loop twice while recording and joins `Value`s field by field.
These analyses need none of that, and their results are defined by the simpler rules above.
"""

from __future__ import annotations

import ast
from typing import Generic, TypeVar

V = TypeVar("V")


class Interpreter(Generic[V]):
    """A statement-order walk of one body over an environment of names to values of type `V`."""

    def __init__(self) -> None:
        self.env: dict[str, V] = {}

    # ------------------------------------------------------------------ the analysis's value hooks
    def eval(self, node: ast.expr | None) -> V | None:
        """What `node` evaluates to (None: unknown); evaluating it also visits what it contains."""
        raise NotImplementedError

    def bind_pattern(self, target: ast.expr, value_node: ast.expr | None, value: V | None) -> None:
        """Bind a target that is not a plain name (a tuple, an attribute, a subscript): by default,
        every name in it becomes unknown."""
        self.forget(target)

    def join(self, ends: list[dict[str, V]]) -> dict[str, V]:
        """The environment after paths that ended in `ends`: the names all of them bind to equal values."""
        first, *rest = ends
        return {name: value for name, value in first.items() if all(end.get(name) == value for end in rest)}

    def loop_forgets(self, stmt: ast.For | ast.AsyncFor | ast.While) -> set[str]:
        """The names a loop makes unknown before its body runs: every name it may bind, its target too."""
        return assigned(stmt)

    # ------------------------------------------------------------------ statement hooks
    def assign(self, stmt: ast.Assign) -> V | None:
        """`a = b = value`: evaluate once, bind every target; returns the value bound."""
        value = self.eval(stmt.value)
        for target in stmt.targets:
            self.bind(target, stmt.value, value)
        return value

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        """`x += value`: what `x` holds afterwards is unknown."""
        self.eval(stmt.value)
        self.forget(stmt.target)

    def returned(self, stmt: ast.Return) -> None:
        """`return value` (the walk goes on: what follows is walked as if reachable)."""
        self.other(stmt)

    def other(self, stmt: ast.stmt) -> None:
        """Any other statement: evaluate its expressions, walk its statements in order, then forget
        every name it binds (`global`, `match`, `try*`, a walrus, `del`, ...)."""
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.expr):
                self.eval(child)
            elif isinstance(child, ast.stmt):
                self.stmt(child)
        for name in assigned(stmt):
            self.env.pop(name, None)

    # ------------------------------------------------------------------ the walk
    def walk(self, body: list[ast.stmt]) -> None:
        """Walk statements in order."""
        for stmt in body:
            self.stmt(stmt)

    def stmt(self, stmt: ast.stmt) -> None:
        """Walk one statement."""
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.env.pop(stmt.name, None)  # walked as a scope of its own, if at all
        elif isinstance(stmt, ast.Assign):
            self.assign(stmt)
        elif isinstance(stmt, ast.AnnAssign):
            self.bind(stmt.target, stmt.value, self.eval(stmt.value) if stmt.value else None)
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt)
        elif isinstance(stmt, ast.If):
            self.eval(stmt.test)
            self.branches([stmt.body, stmt.orelse])
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            self.eval(stmt.test if isinstance(stmt, ast.While) else stmt.iter)
            # A later iteration sees what the body bound in the one before (the target included).
            for name in self.loop_forgets(stmt):
                self.env.pop(name, None)
            self.branches([stmt.body, []])
            self.branches([stmt.orelse, []])
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.eval(item.context_expr)
                if item.optional_vars is not None:
                    self.forget(item.optional_vars)
            self.walk(stmt.body)
        elif isinstance(stmt, ast.Try):
            # The body (then its `else`) or a handler, each walked from the state before the `try`.
            self.branches([stmt.body + stmt.orelse, *(h.body for h in stmt.handlers)])
            self.walk(stmt.finalbody)
        elif isinstance(stmt, ast.Return):
            self.returned(stmt)
        else:
            self.other(stmt)

    def branches(self, bodies: list[list[ast.stmt]]) -> None:
        """Walk alternative bodies from the same environment, then join where they end."""
        before = self.env
        ends = []
        for body in bodies:
            self.env = dict(before)
            self.walk(body)
            ends.append(self.env)
        self.env = self.join(ends)

    # ------------------------------------------------------------------ binding
    def bind(self, target: ast.expr, value_node: ast.expr | None, value: V | None) -> None:
        """Bind `target` to `value` (None: unknown), written as `value_node`."""
        if isinstance(target, ast.Name):
            if value is None:
                self.env.pop(target.id, None)
            else:
                self.env[target.id] = value
            return
        self.bind_pattern(target, value_node, value)

    def forget(self, target: ast.expr) -> None:
        """Every name in `target` becomes unknown."""
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                self.env.pop(node.id, None)


def assigned(stmt: ast.stmt) -> set[str]:
    """Names a statement (and the blocks inside it) binds or deletes: targets, imports, `except ... as`
    names and `match` captures."""
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])  # `import a.b` binds `a`
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif type(node).__name__ in ("MatchAs", "MatchStar", "MatchMapping"):
            # `case [x]`, `case [*rest]`, `case {**rest}` (the match classes are Python 3.10+)
            name = getattr(node, "rest" if type(node).__name__ == "MatchMapping" else "name", None)
            if name:
                names.add(name)
    return names
