"""REGISTRY: every rule, sorted by code, found from the `pkl<code>_<name>` modules of this package.

Loaded on first use: choosing the rules and the prefilter read `rules.triggers.ADMISSION` instead, so a
run that parses nothing (every file turned away, or served from the cache) imports no rule and no facts.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packlint.rules.base import Rule

    REGISTRY: tuple[type[Rule], ...]
    BY_CODE: dict[str, type[Rule]]
    BY_NAME: dict[str, type[Rule]]


def _load() -> tuple[type[Rule], ...]:
    from packlint.rules.base import Rule

    found: list[type[Rule]] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("pkl"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(
            obj
            for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module.__name__
        )
    return tuple(sorted(found, key=lambda rule: rule.code))


def __getattr__(name: str) -> object:
    # PEP 562: the registry is built when a name is first asked for, then kept as a module attribute.
    if name == "Rule":
        from packlint.rules.base import Rule

        return Rule
    if name not in ("REGISTRY", "BY_CODE", "BY_NAME"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    registry = _load()
    loaded = {
        "REGISTRY": registry,
        "BY_CODE": {rule.code: rule for rule in registry},
        "BY_NAME": {rule.name: rule for rule in registry},
    }
    globals().update(loaded)
    return loaded[name]


__all__ = ["BY_CODE", "BY_NAME", "REGISTRY", "Rule"]
