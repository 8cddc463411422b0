"""Facts gating: which of a module's functions and classes the analysis must walk for the selected rules.

A rule's flow words (`packlint.rules.triggers.FLOW`) name what its facts are made from. A top-level
function or class is walked when its text holds one of those words, or a name that leads to one: a
module-level name bound by a statement that holds a word (an import `from torch.nn import LSTM as L`
binds `L`), or another function or class that is walked (its callers may read what it returns). The
module body itself is always walked (imports, constants, which names are functions); what is left
out is a function whose walk could only record events about values no selected rule reads.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from packlint.facts.syntax import first_line

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Gate:
    """What the analysis needs to choose the definitions to walk: the file's text, where its lines
    start, and the flow words of the rules the file triggers (empty: no walk at all)."""

    text: str
    line_starts: Sequence[int]
    words: frozenset[str]

    @property
    def walks_everything(self) -> bool:
        """Whether some rule needs every function (the empty word is in every text)."""
        return "" in self.words

    def segment(self, node: ast.stmt) -> str:
        """The text of the lines `node` spans, decorators included (whole lines: more, never less)."""
        first = first_line(node)
        last = node.end_lineno or node.lineno
        start = self.line_starts[first - 1] if first - 1 < len(self.line_starts) else len(self.text)
        end = self.line_starts[last] if last < len(self.line_starts) else len(self.text)
        return self.text[start:end]


def needed(gate: Gate, tree: ast.Module, deferred: Sequence[ast.AST], module_names: Sequence[str]) -> set[int]:
    """Ids of the definitions in `deferred` (from the module body's walk) that the analysis must walk."""
    words = set(gate.words)
    for stmt in tree.body:
        if isinstance(stmt, _DEFS):
            continue
        text = gate.segment(stmt)
        if not any(word in text for word in words):
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            words.update((alias.asname or alias.name).split(".")[0] for alias in stmt.names if alias.name != "*")
        else:
            # Module-level code that holds a word may bind any module name to what a rule reads
            # (`rnn = nn.LSTM(...)`, in an `if`, a loop, a `try`): every function naming one is walked.
            words.update(module_names)
    texts = {id(node): gate.segment(node) for node in deferred if isinstance(node, _DEFS)}
    names = {id(node): node.name for node in deferred if isinstance(node, _DEFS)}
    chosen: set[int] = set()
    new = words
    while new:
        found = {key for key, text in texts.items() if key not in chosen and any(word in text for word in new)}
        chosen |= found
        # A function that is walked may return what a rule reads: its callers (which name it) are walked too.
        new = {names[key] for key in found} - words
        words |= new
    return chosen
