"""The project mode's prefilter: whether the modules a file imports from its project can matter at all.

A cross-file check needs something in the other file (a pack call, for PKL111). Before anything is parsed,
the file's import lines are read off its text, resolved, and the bytes of those modules (and of the
modules they re-export from) are searched for that word. Most files that mention `cuda` import nothing
that packs, and are let go unparsed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass

from packlint.project.resolve import Resolver
from packlint.project.root import root_of

MAX_DEPTH = 3  # re-exports followed: `tagger/__init__.py` that says `from .model import Tagger`
_FROM = re.compile(rb"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\r\n#;]+)", re.M)
_IMPORT = re.compile(rb"^[ \t]*import[ \t]+([\w., \t]+)", re.M)


@dataclass(frozen=True)
class ImportLine:
    """`from ..pkg import a, b` read off the text: the module, its dots, and the names."""

    module: str
    level: int
    names: tuple[str, ...]


def import_lines(data: bytes) -> tuple[ImportLine, ...]:
    """Every import statement at the start of a line (generous: one inside a string counts too)."""
    found: list[ImportLine] = []
    for match in _FROM.finditer(data):
        names = re.findall(rb"[A-Za-z_]\w*|\*", match.group(3).split(b"#")[0])
        words = tuple(n.decode("ascii", "replace") for n in names if n != b"as")
        found.append(ImportLine(match.group(2).decode("ascii", "replace"), len(match.group(1)), words))
    for match in _IMPORT.finditer(data):
        for part in match.group(1).split(b","):
            name = part.strip().split()[0] if part.strip() else b""
            if name:
                found.append(ImportLine(name.decode("ascii", "replace"), 0, ()))
    return tuple(found)


@functools.lru_cache(maxsize=4096)
def module_text(path: str, size: int, mtime_ns: int) -> tuple[str, tuple[ImportLine, ...], frozenset[bytes]]:
    """A module's digest, import lines, and which of the words the gates look for it holds."""
    with open(path, "rb") as handle:
        data = handle.read()
    words = frozenset(w for w in WORDS if w in data)
    return hashlib.sha256(data).hexdigest(), import_lines(data), words


# Words a gate may ask about (read once per module file).
WORDS = (b"pack_padded_sequence", b"zero_grad", b"grad")


def reaches(path: str, data: bytes, word: bytes, root: str | None = None) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """Whether a project module imported by this file's text (or one it re-exports from) holds `word`,
    with (path, digest) of every module read, (path, "+") of every module found and (path, "") of every
    path looked for and absent."""
    assert word in WORDS
    importer = os.path.abspath(path)
    root = root or root_of(importer)
    return _first_reaching(Resolver(root, importer), import_lines(data), importer, word, MAX_DEPTH - 1, {})


def _first_reaching(
    resolver: Resolver, lines: tuple[ImportLine, ...], origin: str, word: bytes, depth: int, deps: dict[str, str]
) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """Whether a project file that `lines` (imports of `origin`) name reaches `word` (`depth` deep), with
    `deps` and every file read on the way, found or looked for and absent (see `reaches`)."""
    found = False
    for file in _imported_files(resolver, lines, origin):
        found, inner = _module_reaches(resolver.root, file, word, depth)
        deps.update(inner)
        if found:
            break
    absent = {p: "+" if p in resolver.found else "" for p in resolver.probed if p not in deps}
    return found, tuple(sorted({**absent, **deps}.items()))


def _imported_files(resolver: Resolver, lines: tuple[ImportLine, ...], origin: str) -> list[str]:
    """The project files that `lines` (imports written in `origin`) name, in order, each once."""
    files: list[str] = []
    for line in lines:
        module = resolver.module(line.module, line.level, importer=origin)
        candidates = [module]
        # `from pkg import data` names a submodule only when `pkg` is a package of the project (or the
        # folder of a relative import): `from typing import List` looks for nothing more.
        if (module is not None and os.path.basename(module) == "__init__.py") or (
            module is None and (line.level or resolver.namespace(line.module, importer=origin))
        ):
            for name in line.names:
                if name != "*":
                    dotted = f"{line.module}.{name}" if line.module else name
                    candidates.append(resolver.module(dotted, line.level, importer=origin))
        files.extend(f for f in candidates if f is not None and f != origin and f not in files)
    return files


def _module_reaches(root: str, file: str, word: bytes, depth: int) -> tuple[bool, tuple[tuple[str, str], ...]]:
    try:
        stat = os.stat(file)
    except OSError:
        return False, ((file, ""),)
    return _module_reaches_at(root, file, stat.st_size, stat.st_mtime_ns, word, depth)


@functools.lru_cache(maxsize=16384)
def _module_reaches_at(
    root: str, file: str, size: int, mtime_ns: int, word: bytes, depth: int
) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """Whether `file`, or a module it re-exports from (`depth` deep), holds `word`, with what was read.

    Kept per file and modification time for the run: every importer of a package asks about the same
    `__init__.py`. The answer's files are returned with it, so a cached result still records them all."""
    try:
        digest, inner, words = module_text(file, size, mtime_ns)
    except OSError:
        return False, ((file, ""),)
    deps: dict[str, str] = {file: digest}
    if word in words or depth <= 0:
        return word in words, tuple(deps.items())
    # Re-exports: everything a package's __init__ imports, and star imports anywhere. A module's other
    # imports are its own business (following them all would visit the whole project).
    package = os.path.basename(file) == "__init__.py"
    follow = tuple(i for i in inner if package or "*" in i.names)
    return _first_reaching(Resolver(root, file), follow, file, word, depth - 1, deps)
