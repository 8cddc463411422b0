"""One file's view of its project: what its imports name in other files of the project, and their summaries.

Everything is lazy: nothing is resolved or read until a rule asks, and a rule asks only about a file that
passed the prefilter and holds what the question needs. Every file read, and every path looked for and not
found, is remembered: the result cache re-checks this file when one of them changes.
"""

from __future__ import annotations

import ast
import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Union

from packlint.names import dotted as _text  # `model`, `self.encoder`
from packlint.project.gate import module_text, reaches
from packlint.project.gate import read as read_project_file
from packlint.project.parse import parse_quietly
from packlint.project.resolve import Resolver
from packlint.project.root import inside, root_of
from packlint.project.store import summary_of
from packlint.project.summary import EMPTY, ClassSummary, FunctionSummary, ModuleSummary

MAX_REEXPORT = 3  # `from .model import Net` in a package's __init__, followed this many times
Found = Union[FunctionSummary, ClassSummary]  # a run-time alias: Python 3.9


@dataclass(frozen=True)
class Target:
    """What an imported name is: `symbol` of the project file `file` (None: the module itself)."""

    file: str
    symbol: str | None


@dataclass(frozen=True)
class Callee:
    """A call into project code: the function it runs and how many parameters the call does not pass
    (`self` for a method or a module's `forward`)."""

    function: FunctionSummary
    file: str
    skipped: int


class ProjectView:
    """The project as seen from one file (its path decides the root and the import search)."""

    def __init__(self, path: str, tree: ast.Module, root: str | None = None, data: bytes | None = None) -> None:
        self.path = os.path.abspath(path)
        self.tree = tree
        self.data = data
        self.root = os.path.realpath(root) if root is not None else root_of(self.path)
        self.resolver = Resolver(self.root, self.path)
        self.read: dict[str, str] = {}  # file -> content digest (hex), for the cache
        self.listed: dict[str, str] = {}  # directory -> digest of its listing (`files.listing_digest`)
        self._summaries: dict[str, ModuleSummary] = {}
        self._instances: dict[bytes | None, dict[str, tuple[ClassSummary, str]]] = {}
        self._views: dict[str, ProjectView | None] = {}
        self.answers: dict[tuple[object, ...], object] = {}  # questions about the project, asked once per view

    # -- what the cache needs ---------------------------------------------------------------------------

    def dependencies(self) -> tuple[tuple[str, str], ...]:
        """(path, digest) of every project file whose content was used, (path, "+") of each whose existence
        was (a module found, never read), and (path, "") of each looked for and absent."""
        found = self.resolver.found
        absent = {p: "+" if p in found else "" for p in self.resolver.probed if p not in self.read}
        deps = {**absent, **self.listed, **self.read}
        deps.pop(self.path, None)
        return tuple(sorted(deps.items()))

    def where(self, file: str, line: int) -> str:
        """`data/load.py:41`: a place in another file, relative to the project root."""
        relative = os.path.relpath(os.path.realpath(file), self.root).replace(os.sep, "/")
        return f"{relative}:{line}"

    def reaches(self, word: bytes, fact: str | None = None) -> bool:
        """Whether a module this file imports from the project (re-exports followed) holds `word` in its
        text (and, with `fact`, has that summary fact): the cheap test before any other file is parsed
        (packlint.project.gate)."""
        if self.data is None:
            return True
        found, read = reaches(self.path, self.data, word, self.root, fact)
        for path, digest in read:
            if digest not in ("", "+"):
                self.read.setdefault(path, digest)
            else:
                self.resolver.probed.add(path)
                if digest == "+":
                    self.resolver.found.add(path)
        return found

    def depend_on(self, other: ProjectView) -> None:
        """Make what `other` (the view of another file this one's answer read) used part of this file's
        dependencies."""
        for path, digest in other.read.items():
            self.read.setdefault(path, digest)
        self.listed.update(other.listed)
        self.resolver.probed.update(other.resolver.probed)
        self.resolver.found.update(other.resolver.found)

    # -- reading other files ----------------------------------------------------------------------------

    def content(self, file: str) -> bytes | None:
        """The bytes of a project file (recorded as used), None when it cannot be read."""
        if os.path.realpath(file) == os.path.realpath(self.path) and self.data is not None:
            return self.data
        if not inside(file, self.root):
            return None
        try:
            with open(file, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        self.read[file] = hashlib.sha256(data).hexdigest()
        return data

    def summary(self, file: str) -> ModuleSummary:
        """The summary of a project file (read once per view, summarised once per content)."""
        if file in self._summaries:
            return self._summaries[file]
        summary = EMPTY
        if inside(file, self.root):
            try:
                data = read_project_file(file)
            except OSError:
                data = None
            if data is not None:
                self.read[file] = hashlib.sha256(data).hexdigest()
                summary = summary_of(data)
        self._summaries[file] = summary
        return summary

    def view_of(self, file: str, data: bytes | None = None) -> ProjectView | None:
        """The project as seen from another of its files (that file's imports resolved from there), for a
        question two calls deep or a search of the project; None when it cannot be read or parsed. `data`:
        the file's bytes, when the caller has just read them. What it reads is this view's too."""
        if file not in self._views:
            data = self.content(file) if data is None else data
            tree = parse_quietly(data) if data is not None else None
            self._views[file] = ProjectView(file, tree, self.root, data) if tree is not None else None
        return self._views[file]

    def definition(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The top-level function `name`, or the method `Class.method`, of this view's own file."""
        *owner, short = name.split(".")
        body: list[ast.stmt] = self.tree.body
        if owner:
            klass = next((s for s in body if isinstance(s, ast.ClassDef) and s.name == owner[0]), None)
            body = klass.body if klass is not None and len(owner) == 1 else []
        return next(
            (s for s in body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == short), None
        )

    @cached_property
    def bindings(self) -> dict[str, Target]:
        """Names this file's imports bind to project code (imports anywhere in the file; the last wins)."""
        bound: dict[str, Target] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom):
                self._bind_from(bound, node.module or "", node.level, [(a.name, a.asname) for a in node.names])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    file = self.resolver.module(alias.name)
                    if file is not None:
                        bound[alias.asname or alias.name] = Target(file, None)
        return bound

    def _bind_from(
        self, bound: dict[str, Target], module: str, level: int, names: list[tuple[str, str | None]]
    ) -> None:
        file = self.resolver.module(module, level)
        for name, asname in names:
            if name == "*":
                if file is not None:
                    for public in self.star_names(file):
                        bound[public] = Target(file, public)
                continue
            # `from pkg import model`: a submodule first, else a name defined in the package.
            sub = self.resolver.module(f"{module}.{name}" if module else name, level)
            if sub is not None:
                bound[asname or name] = Target(sub, None)
            elif file is not None:
                bound[asname or name] = Target(file, name)

    def star_names(self, file: str, depth: int = 0) -> list[str]:
        """What `from <file> import *` binds, its own star imports of the project included."""
        summary = self.summary(file)
        names = list(summary.public())
        if depth < MAX_REEXPORT:
            for record in summary.imports:
                if record.local == "*":
                    inner = self.resolver.module(record.module, record.level, importer=file)
                    if inner is not None and inner != file:
                        names.extend(self.star_names(inner, depth + 1))
        return names

    def lookup(self, target: Target, depth: int = 0, need: bytes | None = None) -> tuple[Found, str] | None:
        """The function or class an imported name is, with its file (re-exports followed). With `need`, only
        a file whose text holds that word is parsed for its own definitions (a package's __init__ and a
        module with star imports are still followed): the question asked cannot be answered by the others."""
        if target.symbol is None:
            return None
        if need is not None and not self._may_hold(target.file, need):
            return None
        summary = self.summary(target.file)
        found: Found | None = summary.function(target.symbol) or summary.klass(target.symbol)
        if found is not None:
            return found, target.file
        if depth >= MAX_REEXPORT:
            return None
        for record in summary.imports:
            if record.local == target.symbol and record.symbol is not None:
                inner = self.resolver.module(record.module, record.level, importer=target.file)
                if inner is not None and inner != target.file:
                    return self.lookup(Target(inner, record.symbol), depth + 1, need)
        for record in summary.imports:
            if record.local == "*":
                inner = self.resolver.module(record.module, record.level, importer=target.file)
                if inner is not None and inner != target.file:
                    hit = self.lookup(Target(inner, target.symbol), depth + 1, need)
                    if hit is not None:
                        return hit
        return None

    def _may_hold(self, file: str, need: bytes) -> bool:
        """Whether `file` may define, or re-export, something that holds `need`."""
        try:
            stat = os.stat(file)
            _, lines, words = module_text(file, stat.st_size, stat.st_mtime_ns)
        except OSError:
            return False
        if need in words:
            return True
        return os.path.basename(file) == "__init__.py" or any("*" in line.names for line in lines)

    def resolve(self, node: ast.expr, need: bytes | None = None) -> tuple[Found, str] | None:
        """The project function or class that `node` names: `Net`, `models.Net`, `pkg.models.Net`."""
        if isinstance(node, ast.Name):
            target = self.bindings.get(node.id)
            return self.lookup(target, need=need) if target is not None else None
        if isinstance(node, ast.Attribute):
            # `models.Net`, or `pkg.models.Net` after `import pkg.models` (bound under its dotted name)
            target = self.bindings.get(_text(node.value) or "")
            if target is not None and target.symbol is None:
                return self.lookup(Target(target.file, node.attr), need=need)
        return None

    # -- facts about this file's calls into the project ------------------------------------------------

    def instances(self, need: bytes | None = None) -> dict[str, tuple[ClassSummary, str]]:
        """Names and attributes assigned an instance of one project class (`model = Net(...)`,
        `self.encoder = Encoder(...).to(device)`); a name assigned two different classes is left out.
        With `need`, only classes whose file holds that word (see `lookup`)."""
        if need not in self._instances:
            self._instances[need] = self._find_instances(need)
        return self._instances[need]

    def _find_instances(self, need: bytes | None) -> dict[str, tuple[ClassSummary, str]]:
        found: dict[str, tuple[ClassSummary, str] | None] = {}
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Assign):
                continue
            value = node.value
            while (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr in ("to", "cuda", "cpu", "train", "eval", "double", "float", "half")
            ):
                value = value.func.value
            hit = self.resolve(value.func, need) if isinstance(value, ast.Call) else None
            made = (hit[0], hit[1]) if hit is not None and isinstance(hit[0], ClassSummary) else None
            for target in node.targets:
                key = _text(target)
                if key is None or _text(value) == key:
                    continue  # `model = model.to(device)` keeps what `model` was
                if key in found and (made is None or found[key] is None or found[key] != made):
                    found[key] = None  # bound to two different things: not known
                else:
                    found[key] = made
        return {k: v for k, v in found.items() if v is not None}

    def callee(self, call: ast.Call, need: bytes | None = None) -> Callee | None:
        """The project function a call runs: a function, or the `forward` of a module instance (with
        `need`: only functions whose file holds that word)."""
        direct = self.resolve(call.func, need)
        if direct is not None:
            found, file = direct
            if isinstance(found, FunctionSummary):
                return Callee(found, file, 0)
            return None  # building an instance runs `__init__`
        instances = self.instances(need)
        key = _text(call.func)
        if key in instances:
            klass, file = instances[key]
            forward = klass.method("forward") or klass.method("__call__")
            return Callee(forward, file, 1) if forward is not None else None
        if isinstance(call.func, ast.Attribute):
            owner = _text(call.func.value)
            if owner in instances:
                klass, file = instances[owner]
                method = klass.method(call.func.attr)
                return Callee(method, file, 1) if method is not None else None
        return None

    def imported_classes(self, need: bytes | None = None) -> list[tuple[ClassSummary, str]]:
        """Every project class an import of this file names (with `need`, see `lookup`)."""
        classes: list[tuple[ClassSummary, str]] = []
        for target in self.bindings.values():
            hit = self.lookup(target, need=need)
            if hit is not None and isinstance(hit[0], ClassSummary):
                classes.append((hit[0], hit[1]))
        return classes
