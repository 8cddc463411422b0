"""Parsing another file of the project: its syntax warnings are not this check's, and a file that does
not parse says nothing (what it would say is unknown)."""

from __future__ import annotations

import ast
import warnings


def parse_quietly(data: bytes) -> ast.Module | None:
    """The module `data` parses to, or None when it does not parse (warnings silenced)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
