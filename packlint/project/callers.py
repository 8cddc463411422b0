"""Who in the project calls a function, and whether autograd is off at every call: the question PKL304 asks
of an evaluation function whose loop runs with autograd on, when its callers live in other files.

The question is asked from the function's file, so every project file that names the function is read
(and is a dependency of the answer, as is every directory walked)."""

from __future__ import annotations

import ast
import os

from packlint.facts.evaluation import guarded_functions, turns_off_grad
from packlint.facts.syntax import called_name
from packlint.project.files import searched_files
from packlint.project.summary import FunctionSummary
from packlint.project.view import ProjectView


def callers_without_grad(view: ProjectView, function: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, ...] | None:
    """Where other files of the project call `function` (a top-level function, or a method of a top-level
    class, of the view's file), when there is at least one such call and autograd is off at every one of
    them; None otherwise (a call with autograd on, a call in its own file, no call found, or unknown)."""
    klass = _owner(view.tree, function)
    if klass is None:
        return None
    name = function.name
    if any(called_name(n) == name and not _inside(n, function) for n in ast.walk(view.tree)):
        return None  # called in its own file with autograd on (a call under no_grad there quiets PKL304 already)
    files = searched_files(view.root, view.listed)
    if files is None:
        return None
    here = os.path.realpath(view.path)
    needle = name.encode()
    others: list[tuple[str, ProjectView]] = []
    defined_elsewhere = False
    for file in files:
        if os.path.realpath(file) == here:
            continue
        data = view.content(file)
        if data is None or needle not in data:
            continue
        other = view.view_of(file, data)
        if other is None:
            return None  # a file that may call it cannot be parsed: unknown
        others.append((file, other))
        defined_elsewhere = defined_elsewhere or any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in ast.walk(other.tree)
        )
    places: list[str] = []
    for file, other in others:
        for call, off in _calls(other.tree, name):
            if not _ours(other, call, here, klass, function.name, by_name=not defined_elsewhere):
                continue
            if not off:
                view.depend_on(other)
                return None
            places.append(other.where(file, call.lineno))
        view.depend_on(other)
    return tuple(places) or None


def _owner(tree: ast.Module, function: ast.AST) -> ast.ClassDef | ast.Module | None:
    """The module, for a top-level function; its class, for a method of a top-level class."""
    for stmt in tree.body:
        if stmt is function:
            return tree
        if isinstance(stmt, ast.ClassDef) and any(s is function for s in stmt.body):
            return stmt
    return None


def _inside(node: ast.AST, scope: ast.AST) -> bool:
    start, end = getattr(scope, "lineno", 0), getattr(scope, "end_lineno", 0) or 0
    return start <= getattr(node, "lineno", -1) <= end


def _calls(tree: ast.Module, name: str) -> list[tuple[ast.Call, bool]]:
    """Every call named `name` in `tree`, with whether autograd is off there: under a `no_grad` block of its
    function, or in a function decorated so or called in its file only from where autograd is off."""
    guarded = guarded_functions(tree)
    found: list[tuple[ast.Call, bool]] = []
    stack: list[tuple[ast.AST, bool]] = [(child, False) for child in ast.iter_child_nodes(tree)]
    while stack:
        node, off = stack.pop()
        if isinstance(node, ast.Call) and called_name(node) == name:
            found.append((node, off))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            off = node.name in guarded  # decorated so, or called in its file only with autograd off
        elif isinstance(node, (ast.ClassDef, ast.Lambda)):
            off = False
        else:
            off = off or turns_off_grad(node)
        stack.extend((child, off) for child in ast.iter_child_nodes(node))
    return found


def _ours(
    view: ProjectView, call: ast.Call, file: str, owner: ast.ClassDef | ast.Module, name: str, by_name: bool
) -> bool:
    """Whether `call` (in another file) runs the function `name` of `file`: it resolves there through the
    imports, or, for a method called on an object whose class is not known, no other file defines `name`."""
    hit = view.resolve(call.func)
    if hit is not None:
        found, where = hit
        return isinstance(found, FunctionSummary) and found.name == name and os.path.realpath(where) == file
    callee = view.callee(call)
    if callee is not None:
        short = callee.function.name.split(".")[-1]
        return short == name and os.path.realpath(callee.file) == file and isinstance(owner, ast.ClassDef)
    if isinstance(owner, ast.ClassDef) and isinstance(call.func, ast.Attribute):
        receiver = call.func.value
        if isinstance(receiver, ast.Name) and receiver.id in view.bindings:
            return False  # a module or class of the project (or not) that resolved to nothing of ours
        return by_name
    return False
