"""The statement-order walk of one body: branches and loops join what each path knows.

Each function (and the module body) is walked once in statement order with an environment from
names to `Value`s. Where two paths disagree (branches, loops) the name becomes what both agree on,
usually UNKNOWN, so rules that need a fact stay quiet.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from packlint.facts.calls import CallEvaluator
from packlint.facts.events import Exit
from packlint.facts.expressions import flatten
from packlint.facts.summaries import Helper, at_call_site, summarize
from packlint.facts.syntax import dotted
from packlint.facts.values import UNKNOWN, Kind, Value, join


class Walker(CallEvaluator):
    """Walks one body (function or module) in statement order, recording events into `facts`."""

    # ----------------------------------------------------------------- statements
    def walk_body(self, body: Iterable[ast.stmt]) -> bool:
        """Walk statements; True when the body always leaves (return, raise, break, continue)."""
        for stmt in body:
            if self.walk_stmt(stmt):
                return True
        return False

    def walk_stmt(self, stmt: ast.stmt) -> bool:
        self.current_stmt = stmt
        self.stmt_sorts = []
        self.facts.statement_visits += 1
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
            if not isinstance(stmt.value, ast.Constant):  # a docstring records nothing
                self.eval(stmt.value)
        elif isinstance(stmt, ast.Return):
            value = self.eval(stmt.value) if stmt.value is not None else UNKNOWN
            if self.returns is not None:
                self.returns.append(value)
            else:
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
            self.env[stmt.name] = self.define(stmt)
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

    def define(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Value:
        """A function defined here: calls of it are summarised (decorated ones are not: the decorator
        may return anything)."""
        if node.decorator_list or self.summarizing:
            return UNKNOWN
        env = None if self.scope is None else known(self.env)
        helper_id = self.facts.new_helper(Helper(node, {}, False, env))
        return Value(Kind.FUNCTION, node.name, origin=helper_id)

    def apply_summary(self, node: ast.Call, callee: Value, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """A same-file helper's call: what its summary says it returns, for these arguments."""
        helper = self.facts.helpers.get(callee.origin) if callee.origin is not None else None
        if helper is None or callee.origin is None:
            return super().apply_summary(node, callee, args, kwargs)
        value = summarize(self, callee.origin, helper, args, kwargs)
        if value.kind is Kind.UNKNOWN and value.perm is None:
            return super().apply_summary(node, callee, args, kwargs)
        return at_call_site(value, [*args, *kwargs.values()], node)

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
            element = UNKNOWN
        else:
            iterated = self.eval(stmt.iter)
            # `for layer in self.layers:` over a ModuleList of LSTMs: each element is one of them.
            element = iterated.items[0] if iterated.kind is Kind.MODULES and iterated.items else UNKNOWN
        before = dict(self.env)
        recording = self.recording
        if recording:
            # First pass, silent: what the body changes, so the recording pass starts from what holds
            # on every iteration. Inside a silent pass a loop is walked once and joined with what held
            # before it: walking every nested body twice made the cost double with each level.
            self.recording = False
            self.loop_target(stmt, element)
            self.walk_body(stmt.body)
            self.recording = recording
            self.env = merge_envs([before, self.env])
        self.loop_target(stmt, element)
        self.walk_body(stmt.body)
        if element.kind is Kind.UNKNOWN:
            self.env = merge_envs([before, self.env])
        # else: a loop over a container we saw built with its modules runs at least once.
        self.walk_body(stmt.orelse)

    def loop_target(self, stmt: ast.For | ast.AsyncFor | ast.While, element: Value) -> None:
        if not isinstance(stmt, ast.While):
            self.bind(stmt.target, element, stmt)

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
                value = join(value, other)
        merged[name] = value
    for env in rest:
        for name, value in env.items():
            merged.setdefault(name, UNKNOWN if value.kind is not Kind.REF else value)
    return merged


def known(env: dict[str, Value]) -> dict[str, Value]:
    """The entries of `env` that say something (closures and nested functions get only these)."""
    return {name: value for name, value in env.items() if value.kind is not Kind.UNKNOWN}
