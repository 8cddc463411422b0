"""Import resolution inside a project: which file of the project a module name means, from which file.

Only files are looked at, never imported: a module is `a/b.py` or `a/b/__init__.py` under one of the
places Python would search for it that lie inside the project.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from packlint.project.root import inside


@dataclass
class Resolver:
    """Resolves module names for one importing file; remembers every path it looked at (the cache's
    dependencies: a module that appears later must re-check the importer)."""

    root: str
    importer: str  # absolute path of the importing file
    probed: set[str] = field(default_factory=set)

    def bases(self, importer: str) -> list[str]:
        """Where an absolute import is searched from `importer`: its own directory (a script's
        siblings), above its package, the root, and a `src/` layout's folder."""
        here = os.path.dirname(importer)
        found = [here]
        top = here
        while os.path.isfile(os.path.join(top, "__init__.py")) and top != self.root:
            top = os.path.dirname(top)
        found += [top, self.root, os.path.join(self.root, "src")]
        unique: list[str] = []
        for base in found:
            if base not in unique and inside(base, self.root):
                unique.append(base)
        return unique

    def module(self, name: str, level: int = 0, importer: str | None = None) -> str | None:
        """The project file of module `name` (`level` dots before it), or None when it is not the project's."""
        importer = importer or self.importer
        if level:
            base = os.path.dirname(importer)
            for _ in range(level - 1):
                base = os.path.dirname(base)
            if not inside(base, self.root):
                return None
            return self._find(base, name)
        for base in self.bases(importer):
            found = self._find(base, name)
            if found is not None:
                return found
        return None

    def _find(self, base: str, name: str) -> str | None:
        parts = [p for p in name.split(".") if p]
        stem = os.path.join(base, *parts)
        candidates = (
            [os.path.join(stem, "__init__.py")] if not parts else [stem + ".py", os.path.join(stem, "__init__.py")]
        )
        for candidate in candidates:
            self.probed.add(candidate)
            if os.path.isfile(candidate) and inside(candidate, self.root):
                return candidate
        return None
