"""`python -m packlint`."""

import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_found = sys.modules.get("packlint")
if _found is not None and getattr(_found, "__file__", None) is None:
    # Run from the folder that holds a checkout named `packlint`: the checkout itself (no __init__.py)
    # was imported as a namespace package in place of this one, and has no `__version__`. Load the real one.
    _spec = importlib.util.spec_from_file_location(
        "packlint", os.path.join(_HERE, "__init__.py"), submodule_search_locations=[_HERE]
    )
    if _spec is not None and _spec.loader is not None:
        _module = importlib.util.module_from_spec(_spec)
        sys.modules["packlint"] = _module
        _spec.loader.exec_module(_module)

from packlint.cli import main  # noqa: E402  (after the package is the right one)

main(prog_name="packlint")
