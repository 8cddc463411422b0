"""Import resolution inside a project: which file of the project a module name means, from which file.

Only files are looked at, never imported: a module is `a/b.py` or `a/b/__init__.py` under one of the
places Python would search for it that lie inside the project. Directories are listed once per content
(keyed by their modification time, which a file created or removed in them changes), so a long-lived
process (the language server) sees new modules, and a run pays one `stat` per directory looked in.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

from packlint.project.root import inside


@functools.lru_cache(maxsize=8192)
def _listing(directory: str, mtime_ns: int) -> tuple[frozenset[str], frozenset[str]]:
    """(files, subdirectories) of `directory` as it was at `mtime_ns`."""
    files: set[str] = set()
    folders: set[str] = set()
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                try:
                    (folders if entry.is_dir() else files if entry.is_file() else set()).add(entry.name)
                except OSError:
                    continue
    except OSError:
        pass
    return frozenset(files), frozenset(folders)


def listing(directory: str) -> tuple[frozenset[str], frozenset[str]]:
    """What `directory` holds now (empty when it does not exist)."""
    try:
        mtime = os.stat(directory).st_mtime_ns
    except OSError:
        return frozenset(), frozenset()
    return _listing(directory, mtime)


@functools.lru_cache(maxsize=8192)
def _inside(path: str, root: str) -> bool:
    return inside(path, root)


@dataclass
class Resolver:
    """Resolves module names for one importing file; remembers every path it looked at (the cache's
    dependencies: a module that appears later must re-check the importer)."""

    root: str
    importer: str  # absolute path of the importing file
    probed: set[str] = field(default_factory=set)
    found: set[str] = field(default_factory=set)  # the probed paths that were modules of the project

    def bases(self, importer: str) -> list[str]:
        """Where an absolute import is searched from `importer`: its own directory (a script's
        siblings), above its package, the root, and a `src/` layout's folder."""
        here = os.path.dirname(importer)
        found = [here]
        top = here
        while "__init__.py" in listing(top)[0] and top != self.root:
            top = os.path.dirname(top)
        found += [top, self.root, os.path.join(self.root, "src")]
        unique: list[str] = []
        for base in found:
            if base not in unique and _inside(base, self.root):
                unique.append(base)
        return unique

    def module(self, name: str, level: int = 0, importer: str | None = None) -> str | None:
        """The project file of module `name` (`level` dots before it), or None when it is not the project's."""
        importer = importer or self.importer
        if level:
            base = os.path.dirname(importer)
            for _ in range(level - 1):
                base = os.path.dirname(base)
            if not _inside(base, self.root):
                return None
            return self._find(base, name)
        for base in self.bases(importer):
            found = self._find(base, name)
            if found is not None:
                return found
        return None

    def namespace(self, name: str, level: int = 0, importer: str | None = None) -> bool:
        """Whether `name` is a folder of the project without `__init__.py` where an import of it is looked
        for (a namespace package: `from tools import helpers` names the module `tools/helpers.py`)."""
        importer = importer or self.importer
        if level:
            base = os.path.dirname(importer)
            for _ in range(level - 1):
                base = os.path.dirname(base)
            bases = [base] if _inside(base, self.root) else []
        else:
            bases = self.bases(importer)
        parts = [p for p in name.split(".") if p]
        if not parts:
            return False
        for base in bases:
            folder = os.path.join(base, *parts[:-1])
            if parts[-1] in listing(folder)[1] and _inside(os.path.join(folder, parts[-1]), self.root):
                return True
        return False

    def _find(self, base: str, name: str) -> str | None:
        parts = [p for p in name.split(".") if p]
        folder = os.path.join(base, *parts[:-1])
        files, folders = listing(folder)
        last = parts[-1] if parts else ""
        candidates = []
        if last:
            candidates.append((os.path.join(folder, last + ".py"), last + ".py" in files))
            inner = os.path.join(folder, last)
            has_init = last in folders and "__init__.py" in listing(inner)[0]
            candidates.append((os.path.join(inner, "__init__.py"), has_init))
        else:
            candidates.append((os.path.join(folder, "__init__.py"), "__init__.py" in files))
        for candidate, present in candidates:
            self.probed.add(candidate)
            if present and _inside(candidate, self.root):
                self.found.add(candidate)
                return candidate
        return None
