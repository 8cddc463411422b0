"""Questions about syntax alone: which argument a call passes, what a key or index looks like."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from packlint.names import dotted as dotted  # re-exported: the facts modules read it from here


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


def is_plain_index(node: ast.expr) -> bool:
    """A constant index or a slice with constant bounds: `0`, `-1`, `"tokens"`, `:`, `1:`."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Slice):
        return all(part is None or is_plain_index(part) for part in (node.lower, node.upper, node.step))
    return False


def index_pattern(node: ast.Subscript) -> tuple[int | str | None, ...]:
    """`x[:, -1, :]` as `(":", -1, ":")`: an int for a constant, ":" for a full slice, else None."""
    elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    pattern: list[int | str | None] = []
    for e in elements:
        sign = 1
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
            sign, e = -1, e.operand
        if isinstance(e, ast.Constant) and type(e.value) is int:
            pattern.append(sign * e.value)
        elif isinstance(e, ast.Slice) and e.lower is None and e.upper is None and e.step is None:
            pattern.append(":")
        else:
            pattern.append(None)
    return tuple(pattern)


def parameter_names(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    """The names of a function's parameters, in order (not `*args` or `**kwargs`)."""
    arguments = function.args
    return [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]


def scopes(tree: ast.Module) -> Iterator[ast.Module | ast.FunctionDef | ast.AsyncFunctionDef]:
    """The module and every function in it, in `ast.walk`'s order."""
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def first_line(stmt: ast.stmt) -> int:
    """The first line of a statement, its decorators included."""
    decorators = getattr(stmt, "decorator_list", ())
    return min([stmt.lineno, *(d.lineno for d in decorators)]) if decorators else stmt.lineno


def called_name(node: ast.AST) -> str | None:
    """The last name of what a call calls: `reset_grads` for `self.reset_grads()`."""
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id
        if isinstance(node.func, ast.Attribute):
            return node.func.attr
    return None


def statements(node: ast.AST) -> Iterator[ast.stmt]:
    """Every statement inside `node`, nested blocks included; expressions are not entered, since
    an assignment statement never sits inside one (ast.walk over them cost most of walk_class)."""
    for name in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, name, ()):
            if isinstance(child, ast.stmt):
                yield child
            yield from statements(child)
