"""The runtime shim: executes fixtures against correct packing, and the packing sanitizer.

This package is the only part of packlint that imports torch, and only in its submodules:
importing `packlint.runtime` itself (or `packlint.runtime.contract`) loads nothing heavy.
"""

from __future__ import annotations

import importlib.util


def torch_available() -> bool:
    """Whether torch can be imported, without importing it."""
    return importlib.util.find_spec("torch") is not None
