"""The dotted text of a name written in source (`self.encoder`), shared by the facts and project mode.

It lives outside `packlint.facts` and imports nothing of packlint: project mode reads it without
loading the facts package (importing any `packlint.facts` module runs that package's `__init__`).
"""

from __future__ import annotations

import ast


def dotted(node: ast.expr) -> str | None:
    """`self.rnn` for an attribute chain rooted at a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
