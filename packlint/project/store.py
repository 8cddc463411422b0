"""Project summaries kept by content: computed once per file content, in memory and on disk.

The disk store lives beside the result cache (`<cache dir>/<version>/summaries/<code>/`), one file per
summarised content, named by its SHA-256. `<code>` is the fingerprint of packlint's own code (the result
cache's, which covers summary.py), so a summary is never read by a packlint that would compute another.
A summary is stored as its dataclasses' fields by name, whatever they are: a field added to a summary
dataclass needs no change here (the new code has a new fingerprint, so older entries are not read).

Anything wrong with the store (missing, unreadable, damaged, not writable) means the summary is computed
again: the store only ever saves time, it never decides a result.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import marshal
import os
import sys
from typing import TYPE_CHECKING, Any

from packlint.checked_file import read_checked, write_checked

if TYPE_CHECKING:
    from packlint.project.summary import ModuleSummary

MAGIC = b"PKLSUMM1"
KEEP = 4  # fingerprint folders kept: a few recent versions of packlint's code (switching branches)
MEMO = 4096  # summaries held in memory, by content digest

COUNTS = {"computed": 0, "loaded": 0}  # how often a summary was computed, or read from disk (benchmarks, tests)
_memo: dict[bytes, ModuleSummary] = {}
_folder: list[str] = []  # where this process stores summaries: one folder, or none (memory only)


def use(cache_directory: str) -> None:
    """Store summaries on disk under `cache_directory` (the result cache's folder) from now on."""
    from packlint import __version__
    from packlint.cache import fingerprint

    top = os.path.join(cache_directory, __version__, "summaries")
    folder = os.path.join(top, fingerprint().hex()[:24])
    _folder[:] = [folder]
    _prune(top, folder)


def stop() -> None:
    """Keep summaries in memory only (the default)."""
    _folder.clear()


def forget() -> None:
    """Drop the summaries held in memory (the disk store stays)."""
    _memo.clear()
    summary = sys.modules.get("packlint.project.summary")
    if summary is not None:
        summary.summarise.cache_clear()


def summary_of(data: bytes) -> ModuleSummary:
    """The summary of a file's content: from memory, else from the disk store, else computed (and stored)."""
    digest = hashlib.sha256(data).digest()
    found = _memo.get(digest)
    if found is not None:
        return found
    found = _load(digest)
    if found is None:
        from packlint.project.summary import summarise

        found = summarise(data)
        COUNTS["computed"] += 1
        _save(digest, found)
    else:
        COUNTS["loaded"] += 1
    if len(_memo) >= MEMO:
        _memo.clear()
    _memo[digest] = found
    return found


def _path(digest: bytes) -> str | None:
    if not _folder:
        return None
    name = digest.hex()
    return os.path.join(_folder[0], name[:2], name)


def _load(digest: bytes) -> ModuleSummary | None:
    from packlint.project.summary import ModuleSummary

    path = _path(digest)
    if path is None:
        return None
    blob = read_checked(path, MAGIC)
    if blob is None:
        return None  # not stored, unreadable or damaged: computed again (and a damaged entry rewritten)
    try:
        stored_digest, payload = marshal.loads(blob)
        summary = decode(payload)
    except (EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None
    if stored_digest != digest or not isinstance(summary, ModuleSummary):
        return None
    return summary


def _save(digest: bytes, summary: ModuleSummary) -> None:
    path = _path(digest)
    if path is None:
        return
    try:
        payload = marshal.dumps((digest, encode(summary)))
    except (TypeError, ValueError):
        return  # a field marshal cannot hold: kept in memory only
    if not write_checked(path, MAGIC, payload):
        stop()  # a read-only tree, a full disk, a file where the folder should be: memory only for this run


def _prune(top: str, keep: str) -> None:
    """Remove the fingerprint folders of all but the KEEP most recently used versions of packlint's code."""
    try:
        os.makedirs(keep, exist_ok=True)
        os.utime(keep)
        folders = [os.path.join(top, name) for name in os.listdir(top)]
        folders.sort(key=lambda f: os.stat(f).st_mtime_ns, reverse=True)
    except OSError:
        return
    import shutil

    for folder in folders[KEEP:]:
        if folder != keep:
            shutil.rmtree(folder, ignore_errors=True)


def encode(value: Any) -> Any:
    """`value` as what marshal stores: a dataclass as its class and fields by name, containers tagged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple((f.name, encode(getattr(value, f.name))) for f in dataclasses.fields(value) if f.init)
        return ("@", type(value).__module__, type(value).__qualname__, fields)
    if isinstance(value, enum.Enum):
        return ("e", type(value).__module__, type(value).__qualname__, encode(value.value))
    if isinstance(value, tuple):
        return ("t", tuple(encode(v) for v in value))
    if isinstance(value, list):
        return ("l", tuple(encode(v) for v in value))
    if isinstance(value, frozenset):
        return ("f", tuple(encode(v) for v in value))
    if isinstance(value, dict):
        return ("d", tuple((encode(k), encode(v)) for k, v in value.items()))
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a summary")


def decode(raw: Any) -> Any:
    """What `encode` stored (a damaged or foreign payload raises TypeError, KeyError or ValueError)."""
    if not isinstance(raw, tuple):
        return raw
    tag = raw[0]
    if tag == "@":
        _, module, name, fields = raw
        cls = _class(module, name)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{module}.{name} is not a dataclass")
        return cls(**{field: decode(value) for field, value in fields})
    if tag == "e":
        _, module, name, value = raw
        return _class(module, name)(decode(value))
    if tag == "t":
        return tuple(decode(v) for v in raw[1])
    if tag == "l":
        return [decode(v) for v in raw[1]]
    if tag == "f":
        return frozenset(decode(v) for v in raw[1])
    if tag == "d":
        return {decode(k): decode(v) for k, v in raw[1]}
    raise ValueError(f"unknown tag {tag!r}")


def _class(module: str, name: str) -> Any:
    # Only packlint's own classes, and only from modules already imported (the summary's own): a damaged
    # entry never imports anything.
    if not module.startswith("packlint.") or module not in sys.modules:
        raise KeyError(module)
    found: Any = sys.modules[module]
    for part in name.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise TypeError(name)
    return found
