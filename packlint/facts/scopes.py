"""Bindings: each place a name gets a value, and the uses that read it (as pyflakes' `Binding`)."""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Binding:
    """`lengths` in `lengths, perm = lengths.sort(descending=True)`: one assignment of one name."""

    name: str
    node: ast.AST  # the statement (or function, for a parameter) that binds it
    scope: ast.AST | None  # the function or class whose body holds it; None at module level
