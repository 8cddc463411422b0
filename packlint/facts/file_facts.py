"""FileFacts: everything the analysis pass learned about one file, the only thing rules read."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from packlint.facts.events import Exit, PackCall, Reorder, RnnCall, SortSite, SubscriptRead, UnpackCall
from packlint.facts.nodes import Nodes
from packlint.facts.perms import Perm
from packlint.facts.scopes import Binding
from packlint.facts.summaries import Helper
from packlint.facts.values import Value

T = TypeVar("T")


@dataclass
class FileFacts:
    """Everything the analysis pass learned about one file; rules only read this."""

    tree: ast.Module
    pack_calls: list[PackCall] = field(default_factory=list)
    unpack_calls: list[UnpackCall] = field(default_factory=list)
    rnn_calls: list[RnnCall] = field(default_factory=list)
    subscripts: list[SubscriptRead] = field(default_factory=list)
    reorders: list[Reorder] = field(default_factory=list)
    exits: list[Exit] = field(default_factory=list)
    sorts: list[SortSite] = field(default_factory=list)
    uses: dict[int, list[ast.Name]] = field(default_factory=dict)
    bindings: dict[int, Binding] = field(default_factory=dict)
    used_calls: set[int] = field(default_factory=set)  # ids of RNN calls whose final state is read
    escaped: set[str] = field(default_factory=set)  # perm tokens that leave the function
    perm_names: dict[Perm, str] = field(default_factory=dict)  # the name each permutation was first bound to
    statement_visits: int = 0  # how many statements the walk visited: cost grows with it
    helpers: dict[int, Helper] = field(default_factory=dict)  # same-file functions calls are summarised through
    summaries: dict[tuple[object, ...], Value] = field(default_factory=dict)
    summary_depth: int = 0
    helper_relevance: dict[int, bool] = field(default_factory=dict)
    module_env: dict[str, Value] = field(default_factory=dict)  # what a module-level function sees
    sort_index: dict[int, int] = field(default_factory=dict)  # id of a sort call -> its index in sorts
    uses_rnn_utils: bool = False
    _calls_by_name: dict[str, list[ast.Call]] | None = None
    _derived: dict[object, object] = field(default_factory=dict)
    _nodes: Nodes | None = None

    @property
    def nodes(self) -> Nodes:
        """Every node of the tree in preorder, with parents and subtree extents (built on first use)."""
        if self._nodes is None:
            self._nodes = Nodes(self.tree)
        return self._nodes

    def derived(self, compute: Callable[[FileFacts], T]) -> T:
        """`compute(self)`, computed once per file: a file-wide index that several rules or calls read."""
        if compute not in self._derived:
            self._derived[compute] = compute(self)
        return cast(T, self._derived[compute])

    def new_helper(self, helper: Helper) -> int:
        """Register a same-file function whose calls are summarised; returns its id."""
        helper_id = len(self.helpers) + 1
        self.helpers[helper_id] = helper
        return helper_id

    def calls_named(self, name: str) -> list[ast.Call]:
        """Every `name(...)` call in the file, in `ast.walk` order (indexed once, on first use)."""
        if self._calls_by_name is None:
            self._calls_by_name = {}
            for node in self.nodes.walk(self.tree, ast.Call):
                if isinstance(node.func, ast.Name):
                    self._calls_by_name.setdefault(node.func.id, []).append(node)
        return self._calls_by_name.get(name, [])

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The syntactic parent of `node`."""
        return self.nodes.parent(node)

    def in_loop(self, node: ast.AST) -> bool:
        """Whether `node` runs in a `for`/`while` (or comprehension) of its own function."""
        current = self.parent(node)
        while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if isinstance(current, (ast.For, ast.AsyncFor, ast.While, ast.comprehension)):
                return True
            if isinstance(current, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                return True
            current = self.parent(current)
        return False

    def enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | None:
        """The innermost function around `node`."""
        current = self.parent(node)
        while current is not None and not isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            current = self.parent(current)
        return current

    def within(self, node: ast.AST, targets: set[int]) -> bool:
        """Whether `node` lies inside (or is) one of the expressions whose ids are `targets`,
        without leaving its statement."""
        current: ast.AST | None = node
        while current is not None and not isinstance(current, ast.stmt):
            if id(current) in targets:
                return True
            current = self.parent(current)
        return False

    def perm_label(self, perm: Perm | None) -> str:
        """How to name a permutation in a message."""
        if perm is None or perm.is_identity:
            return "the original order"
        if perm in self.perm_names:
            return self.perm_names[perm]
        if perm.token is not None:
            return perm.token.split("@")[0]
        if len(perm.steps) == 1:
            return f"the inverse of {self.perm_label(perm.inverse())}"
        return " then ".join(self.perm_label(Perm((step,))) for step in perm.steps)
