"""Nodes: one preorder walk of a module, so that file-wide searches stop walking the tree again.

Rules and facts used to call `ast.walk` on the module and on its functions, loops and blocks, once
per question (is this loop training? is the model called in this block?), which made their cost grow
with the tree's size times the number of questions. One walk records every node's position in
preorder, its depth and where its subtree ends; a subtree is then a contiguous run of positions, and
"the calls inside this loop" is a binary search in the list of the file's calls.

The index leaves out the contexts and operators (`Load()`, `Add()`, `Eq()`), which `ast` shares between
nodes. Where an answer depends on the order that `ast.walk` visits nodes in (the first match wins), `walk`
gives that order exactly: `ast.walk` is breadth-first, and among nodes of the same depth breadth-first
order is preorder (both follow the child order at every level), so it is preorder sorted by depth.
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Sequence
from typing import Any, TypeVar, overload

N = TypeVar("N", bound=ast.AST)
M = TypeVar("M", bound=ast.AST)


class Nodes:
    """Every node of a tree in preorder, with its parent, depth and subtree extent."""

    __slots__ = ("_depths", "_subtypes", "_types", "order", "parents", "positions", "stops")

    def __init__(self, tree: ast.AST) -> None:
        order: list[ast.AST] = []
        parents: list[int] = []
        types: dict[type, list[int]] = {}
        stack: list[tuple[ast.AST, int]] = [(tree, -1)]
        pop, push, add, up = stack.pop, stack.append, order.append, parents.append
        AST = ast.AST
        fields = _CHILD_FIELDS
        here = -1
        while stack:
            node, parent = pop()
            here += 1
            add(node)
            up(parent)
            kind = node.__class__
            found = types.get(kind)
            if found is None:
                types[kind] = [here]
                names = fields.get(kind)
                if names is None:
                    names = fields[kind] = tuple(reversed([f for f in kind._fields if f not in _LEAF_FIELDS]))
            else:
                found.append(here)
                names = fields[kind]
            # The children in `ast.iter_child_nodes` order, pushed last first so that they pop in order.
            for name in names:
                value = getattr(node, name, None)
                if value.__class__ is list:
                    for item in reversed(value):
                        if isinstance(item, AST):
                            push((item, here))
                elif isinstance(value, AST):
                    push((value, here))
        stops = list(range(1, len(order) + 1))
        for here in range(len(order) - 1, 0, -1):  # a subtree ends where its last descendant's does
            parent = parents[here]
            if stops[here] > stops[parent]:
                stops[parent] = stops[here]
        self.order = order
        self.parents = parents
        self.stops = stops
        self.positions = {id(node): at for at, node in enumerate(order)}
        self._depths: list[int] | None = None
        self._types = types
        self._subtypes: dict[tuple[type, ...], list[type]] = {}

    @property
    def depths(self) -> list[int]:
        """Each node's depth (the root's is 0), computed on first use: only `walk`'s order needs it."""
        if self._depths is None:
            depths = [0] * len(self.order)
            for here, parent in enumerate(self.parents):
                if parent >= 0:
                    depths[here] = depths[parent] + 1  # a parent comes before its children in preorder
            self._depths = depths
        return self._depths

    def __contains__(self, node: object) -> bool:
        return id(node) in self.positions

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The syntactic parent of `node` (None for the root, or a node not in this tree)."""
        at = self.positions.get(id(node))
        if at is None or self.parents[at] < 0:
            return None
        return self.order[self.parents[at]]

    @overload
    def inside(self, node: ast.AST, kind: type[N], /) -> list[N]: ...
    @overload
    def inside(self, node: ast.AST, kind: type[N], other: type[M], /) -> list[N | M]: ...
    @overload
    def inside(self, node: ast.AST, *kinds: type[ast.AST]) -> list[ast.AST]: ...
    def inside(self, node: ast.AST, *kinds: type[ast.AST]) -> list[Any]:
        """The nodes of these types in `node`'s subtree (itself included), in preorder."""
        at = self.positions.get(id(node))
        if at is None:
            return [n for n in ast.walk(node) if isinstance(n, kinds)]
        order = self.order
        return [order[i] for i in self._inside(at, kinds)]

    def subtree(self, node: ast.AST) -> list[ast.AST]:
        """`node` and everything beneath it, in preorder (`ast.walk`'s nodes, in another order)."""
        at = self.positions.get(id(node))
        if at is None:
            return list(ast.walk(node))
        return self.order[at : self.stops[at]]

    @overload
    def walk(self, node: ast.AST, kind: type[N], /) -> list[N]: ...
    @overload
    def walk(self, node: ast.AST, kind: type[N], other: type[M], /) -> list[N | M]: ...
    @overload
    def walk(self, node: ast.AST, *kinds: type[ast.AST]) -> list[ast.AST]: ...
    def walk(self, node: ast.AST, *kinds: type[ast.AST]) -> list[Any]:
        """The nodes of these types in `node`'s subtree, in `ast.walk`'s order (breadth first)."""
        at = self.positions.get(id(node))
        if at is None:
            return [n for n in ast.walk(node) if isinstance(n, kinds)]
        depths, order = self.depths, self.order
        found = self._inside(at, kinds)
        found.sort(key=lambda i: (depths[i], i))
        return [order[i] for i in found]

    def _inside(self, at: int, kinds: tuple[type, ...]) -> list[int]:
        # Positions (sorted) of the nodes of these types in the subtree at `at`. Nodes that `ast` shares
        # between parents (the `Load()` and `Store()` contexts) have one entry per place, as in `ast.walk`.
        stop = self.stops[at]
        found: list[int] = []
        for kind in self._kinds(kinds):
            positions = self._types[kind]
            found.extend(positions[bisect.bisect_left(positions, at) : bisect.bisect_left(positions, stop)])
        if len(kinds) > 1:
            found.sort()
        return found

    def has(self, node: ast.AST, positions: Sequence[int]) -> bool:
        """Whether one of `positions` (sorted) lies in `node`'s subtree."""
        at = self.positions.get(id(node))
        if at is None:
            raise KeyError("node not in this tree")
        i = bisect.bisect_left(positions, at)
        return i < len(positions) and positions[i] < self.stops[at]

    @overload
    def own(self, scope: ast.AST, kind: type[N], /) -> list[N]: ...
    @overload
    def own(self, scope: ast.AST, kind: type[N], other: type[M], /) -> list[N | M]: ...
    @overload
    def own(self, scope: ast.AST, *kinds: type[ast.AST]) -> list[ast.AST]: ...
    def own(self, scope: ast.AST, *kinds: type[ast.AST]) -> list[Any]:
        """The nodes of these types that are `scope`'s own code: in its subtree but not itself, and not
        inside a nested function, class or lambda (those are included, their bodies are not), in the
        order `facts.evaluation.own_nodes` yields them (depth first, last child first)."""
        at = self.positions[id(scope)]
        stops = self.stops
        hidden: list[tuple[int, int]] = []  # the bodies of the outermost nested definitions
        for start in self._inside(at, _DEFS):
            if start != at and (not hidden or start >= hidden[-1][1]):
                hidden.append((start + 1, stops[start]))
        found = []
        for here in self._inside(at, kinds):
            if here == at:
                continue
            i = bisect.bisect_right(hidden, (here, len(stops))) - 1
            if i >= 0 and hidden[i][0] <= here < hidden[i][1]:
                continue
            found.append(here)
        # Last child first, a node before its descendants: later subtrees first, ancestors before them.
        found.sort(key=lambda i: (-stops[i], i))
        order = self.order
        return [order[i] for i in found]

    def above(self, node: ast.AST, scope: ast.AST) -> tuple[ast.AST, ...]:
        """The ancestors of `node` below `scope`, outermost first (`own_nodes`' second element)."""
        chain: list[ast.AST] = []
        at = self.parents[self.positions[id(node)]]
        stop = self.positions[id(scope)]
        while at >= 0 and at != stop:
            chain.append(self.order[at])
            at = self.parents[at]
        return tuple(reversed(chain))

    def _kinds(self, kinds: tuple[type, ...]) -> list[type]:
        # A node's type is its exact class; a base class asked for (ast.stmt, ast.expr) means its subclasses.
        found = self._subtypes.get(kinds)
        if found is None:
            found = self._subtypes[kinds] = [kind for kind in self._types if issubclass(kind, kinds)]
        return found


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
# Fields that hold only the singletons `ast` shares between nodes (`Load()`, `Add()`, `Eq()`): they have no
# place of their own in a tree, so they are left out (no search here asks for a context or an operator).
_LEAF_FIELDS = frozenset({"ctx", "op", "ops"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}  # per node class, its other fields, last first
