"""REGISTRY: every rule, sorted by code, found from the `pkl<code>_<name>` modules of this package."""

from __future__ import annotations

import importlib
import pkgutil

from packlint.rules.base import Rule


def _load() -> tuple[type[Rule], ...]:
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


REGISTRY: tuple[type[Rule], ...] = _load()
BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in REGISTRY}
BY_NAME: dict[str, type[Rule]] = {rule.name: rule for rule in REGISTRY}

__all__ = ["BY_CODE", "BY_NAME", "REGISTRY", "Rule"]
