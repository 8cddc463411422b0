"""The project mode's prefilter: whether the modules a file imports from its project can matter at all.

A cross-file check needs something in the other file (a pack call, for PKL111). Before anything is parsed,
the file's import lines are read off its text, resolved, and the bytes of those modules (and of the
modules they re-export from) are searched for that word. Most files that mention `cuda` import nothing
that packs, and are let go unparsed.

A check may also name the summary fact it needs (`FACTS`): a module that holds the word then counts only
if its summary has that fact (a function that packs one of its parameters, not merely the word
`pack_padded_sequence`); one that holds the word without the fact is looked through, to every module it
imports, as the view's lookup would. torch's package `__init__` files re-export the packing module, whose
functions pack lengths they compute themselves: by the word every file importing `torch.nn` would pass.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packlint.project.resolve import Resolver
from packlint.project.root import root_of

if TYPE_CHECKING:
    from packlint.project.summary import FunctionSummary, ModuleSummary

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
    starts = _import_line_starts(data)
    end = 0
    for start in starts:
        match = _FROM.match(data, start) if start >= end else None
        if match is None:
            continue
        end = match.end()
        names = re.findall(rb"[A-Za-z_]\w*|\*", match.group(3).split(b"#")[0])
        words = tuple(n.decode("ascii", "replace") for n in names if n != b"as")
        found.append(ImportLine(match.group(2).decode("ascii", "replace"), len(match.group(1)), words))
    for start in starts:
        match = _IMPORT.match(data, start)
        if match is None:
            continue
        for part in match.group(1).split(b","):
            name = part.strip().split()[0] if part.strip() else b""
            if name:
                found.append(ImportLine(name.decode("ascii", "replace"), 0, ()))
    return tuple(found)


def _import_line_starts(data: bytes) -> list[int]:
    """Where the lines holding `import` start: the only places either pattern can match (each names
    `import` on its first line), found with a substring search instead of trying every line."""
    starts: list[int] = []
    at = data.find(b"import")
    while at >= 0:
        start = data.rfind(b"\n", 0, at) + 1
        if not starts or starts[-1] != start:
            starts.append(start)
        line_end = data.find(b"\n", at)
        if line_end < 0:
            break
        at = data.find(b"import", line_end)
    return starts


# Open editor buffers by absolute path (the language server keeps them here): another file of the project
# is read as the editor shows it, saved or not. Empty on the command line.
OPEN_BUFFERS: dict[str, bytes] = {}


def read(path: str) -> bytes:
    """A project file's content: its open buffer if the editor has one, else the file (OSError if neither)."""
    buffered = OPEN_BUFFERS.get(path)
    if buffered is not None:
        return buffered
    with open(path, "rb") as handle:
        return handle.read()


def refresh() -> None:
    """Forget what was read and resolved (a long-lived process whose files may have changed: the server).

    Within one command-line run the tree is taken as it stands: imports resolved from one directory are
    resolved once, every module's words read once."""
    module_text.cache_clear()
    _module_reaches_at.cache_clear()
    _resolved.cache_clear()


@functools.lru_cache(maxsize=4096)
def module_text(path: str, size: int, mtime_ns: int) -> tuple[str, tuple[ImportLine, ...], frozenset[bytes]]:
    """A module's digest, import lines, and which of the words the gates look for it holds."""
    data = read(path)
    words = frozenset(w for w in WORDS if w in data)
    return hashlib.sha256(data).hexdigest(), import_lines(data), words


# Words a gate may ask about (read once per module file).
WORDS = (b"pack_padded_sequence", b"zero_grad", b"grad")


def _functions(summary: ModuleSummary) -> list[FunctionSummary]:
    return [*summary.functions, *(m for c in summary.classes for m in c.methods)]


_PACK_CALL = re.compile(rb"\bpack_padded_sequence\s*\(")
_PACK_ALIAS = re.compile(rb"\bpack_padded_sequence\s+as\s+(\w+)")


def _may_pack(data: bytes) -> bool:
    """Whether the text can hold a pack call (`pack_padded_sequence(`, or a call of a name it is imported
    as): the summary's `packs` comes from such a call alone (summary._pack_names, called_name)."""
    if _PACK_CALL.search(data):
        return True
    return any(re.search(rb"\b" + re.escape(alias) + rb"\s*\(", data) for alias in _PACK_ALIAS.findall(data))


@dataclass(frozen=True)
class Fact:
    """What a cross-file check can use from a module: a test of its summary, and a test of its text that
    holds whenever the summary's does (so a module whose text fails it is never summarised for the gate)."""

    holds: Callable[[ModuleSummary], bool]
    may_hold: Callable[[bytes], bool]


# By name (a rule's `project_fact`): a module whose summary lacks the fact cannot change that check's
# verdict, whatever words its text holds.
FACTS: dict[str, Fact] = {
    # PKL111: `callee.function.packs` (crossfile.moved_into_pack) is all it reads of the callee.
    "packs_a_parameter": Fact(lambda summary: any(f.packs for f in _functions(summary)), _may_pack),
}
NARROW = True  # decide with the summary facts (tests turn it off to prove it changes no result)


def reaches(
    path: str, data: bytes, word: bytes, root: str | None = None, fact: str | None = None
) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """Whether a project module imported by this file's text (or one it re-exports from) holds `word` (and,
    with `fact`, has that summary fact), with (path, digest) of every module read, (path, "+") of every
    module found and (path, "") of every path looked for and absent."""
    assert word in WORDS
    assert fact is None or fact in FACTS
    importer = os.path.abspath(path)
    root = root or root_of(importer)
    question = (word, fact if NARROW else None)
    found, node = _first_reaching(Resolver(root, importer), import_lines(data), importer, question, MAX_DEPTH - 1, {})
    return found, _flatten(node)


Question = tuple[bytes, "str | None"]  # (word, summary fact or None): what a module must hold


# What an answer depended on: the paths it looked for and did not find, those found, and those read (with
# their digests), each answer's own and those of the answers it took in. Every importer of a package takes
# in the same answer about its __init__ (thousands of files deep on torch): merged with dict updates.
Pairs = tuple[tuple[str, str], ...]
Record = tuple[Pairs, Pairs, Pairs]


def _first_reaching(
    resolver: Resolver, lines: tuple[ImportLine, ...], origin: str, question: Question, depth: int, own: dict[str, str]
) -> tuple[bool, Record]:
    """Whether a project file that `lines` (imports of `origin`) name answers `question` (`depth` deep), with
    `own` and every file read on the way, found or looked for and absent (see `reaches`)."""
    found = False
    absent: dict[str, str] = {}
    present: dict[str, str] = {}
    read: dict[str, str] = dict(own)
    for file in _imported_files(resolver, lines, origin):
        found, inner = _module_reaches(resolver.root, file, question, depth)
        absent.update(inner[0])
        present.update(inner[1])
        read.update(inner[2])
        if found:
            break
    for path in resolver.probed:
        (present if path in resolver.found else absent)[path] = "+" if path in resolver.found else ""
    return found, (tuple(absent.items()), tuple(present.items()), tuple(read.items()))


def _flatten(record: Record) -> Pairs:
    """Every (path, digest) of a record once: a path read wins over one found, which wins over one looked
    for (the strictest test is what the cache keeps)."""
    return tuple({**dict(record[0]), **dict(record[1]), **dict(record[2])}.items())


def _imported_files(resolver: Resolver, lines: tuple[ImportLine, ...], origin: str) -> list[str]:
    """The project files that `lines` (imports written in `origin`) name, in order, each once."""
    files: list[str] = []
    directory = os.path.dirname(origin)
    for line in lines:
        module = _module(resolver, directory, line.module, line.level)
        candidates = [module]
        # `from pkg import data` names a submodule only when `pkg` is a package of the project (or the
        # folder of a relative import): `from typing import List` looks for nothing more.
        if (module is not None and os.path.basename(module) == "__init__.py") or (
            module is None and (line.level or resolver.namespace(line.module, importer=origin))
        ):
            for name in line.names:
                if name != "*":
                    dotted = f"{line.module}.{name}" if line.module else name
                    candidates.append(_module(resolver, directory, dotted, line.level))
        files.extend(f for f in candidates if f is not None and f != origin and f not in files)
    return files


def _module(resolver: Resolver, directory: str, name: str, level: int) -> str | None:
    """`resolver.module` for an importer in `directory`, with what it looked at added to the resolver's
    record: resolved once per directory, name and level (`refresh` forgets)."""
    found, probed, present = _resolved(resolver.root, directory, name, level)
    resolver.probed.update(probed)
    resolver.found.update(present)
    return found


@functools.lru_cache(maxsize=65536)
def _resolved(root: str, directory: str, name: str, level: int) -> tuple[str | None, frozenset[str], frozenset[str]]:
    # Resolution depends on the importer's directory alone (Resolver.bases, relative levels).
    resolver = Resolver(root, os.path.join(directory, "__importer__.py"))
    found = resolver.module(name, level)
    return found, frozenset(resolver.probed), frozenset(resolver.found)


def _module_reaches(root: str, file: str, question: Question, depth: int) -> tuple[bool, Record]:
    try:
        stat = os.stat(file)
    except OSError:
        return False, (((file, ""),), (), ())
    return _module_reaches_at(root, file, stat.st_size, stat.st_mtime_ns, question, depth)


@functools.lru_cache(maxsize=16384)
def _module_reaches_at(
    root: str, file: str, size: int, mtime_ns: int, question: Question, depth: int
) -> tuple[bool, Record]:
    """Whether `file`, or a module it re-exports from (`depth` deep), answers `question`, with what was read.

    Kept per file and modification time for the run: every importer of a package asks about the same
    `__init__.py`. The answer's files are returned with it, so a cached result still records them all."""
    word, fact = question
    try:
        digest, inner, words = module_text(file, size, mtime_ns)
    except OSError:
        return False, (((file, ""),), (), ())
    own: dict[str, str] = {file: digest}
    holds = word in words
    if holds and (fact is None or _has_fact(file, digest, fact)):
        return True, ((), (), tuple(own.items()))
    if depth <= 0:
        return False, ((), (), tuple(own.items()))
    # Re-exports: everything a package's __init__ imports, and star imports anywhere. A module's other
    # imports are its own business (following them all would visit the whole project), except in a module
    # that holds the word without the fact: the view looks up a name it imports there too.
    package = os.path.basename(file) == "__init__.py"
    follow = tuple(i for i in inner if package or holds or "*" in i.names)
    return _first_reaching(Resolver(root, file), follow, file, question, depth - 1, own)


def _has_fact(file: str, digest: str, fact: str) -> bool:
    """Whether the summary of `file` (as it was when its digest was taken) has `fact`; unknown: yes."""
    from packlint.project.store import summary_of

    try:
        data = read(file)
    except OSError:
        return True
    if hashlib.sha256(data).hexdigest() != digest:
        return True  # changed since: the view will read it again, and decide
    test = FACTS[fact]
    return test.may_hold(data) and test.holds(summary_of(data))
