"""The result cache in `.packlint_cache/`: each file's diagnostics, reused until its content changes.

Entries are keyed by the file's path relative to the project root and confirmed by its content hash, so a
cache copied to another checkout (CI's actions/cache, a shared `--cache-dir`) serves every unchanged file.
"""

from __future__ import annotations

import hashlib
import itertools
import marshal
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from packlint import __version__
from packlint.checked_file import read_checked, write_checked
from packlint.config import Settings, relative_to_root
from packlint.diagnostics import Applicability, Cell, Diagnostic, Edit, FileError, FileResult, Fix, Location

CACHE_DIR = ".packlint_cache"
CACHE_DIR_ENV = "PACKLINT_CACHE_DIR"
LAYOUT = 4  # bump when the layout of the cache file or of an entry changes
MAGIC = b"PKLCACHE"
# Git's "racily clean" rule: file times are coarse (a jiffy on Linux, 2 s on FAT), so a change made just
# after a file was read can leave its stat unchanged. An entry whose file had changed within this long
# before the run began is confirmed by content, never by stat alone.
RACY_NS = 2_000_000_000
DAY_NS = 24 * 3600 * 1_000_000_000
KEEP_NS = 30 * DAY_NS  # entries of files not seen for this long are dropped

# One cache file maps each file's key (its path relative to the project root, or its absolute path if it lies
# outside the root; see `entry_key`) to an entry, a tuple that marshal can store:
#   (stat, trusted, digest, seen_ns, payload, depends)
# stat: (size, mtime_ns, ctime_ns, inode, device) when the file was read (a copied tree has other inodes and
# ctimes, so there the stat never serves and the digest decides: a moved cache costs a read and a hash);
# trusted: whether that stat alone proves the content unchanged (see RACY_NS);
# digest: SHA-256 of the content, which decides when the stat cannot;
# seen_ns: when a run last asked for it; payload: None for a clean file, else (diagnostics, errors);
# depends (project mode): (path, digest, stat) of each other file the result used, digest "" and stat ()
# for a path looked for and absent, "+" for a module whose existence alone was used, "ls:<digest>" for a
# directory whose listing was (packlint.project.files): the entry serves only
# while every one of them is as it was.
Entry = tuple[tuple[int, int, int, int, int], bool, bytes, int, Any, tuple[tuple[str, str, tuple[int, ...]], ...]]


def check_cached(
    paths: Sequence[str], settings: Settings, jobs: int | None = None, cache_dir: str | None = None
) -> list[FileResult]:
    """Check files, sorted by path, serving unchanged ones from the cache and storing the rest."""
    if settings.fix:  # fixes write files: always computed afresh
        from packlint.engine import check_paths

        return check_paths(paths, settings, jobs)
    started = time.time_ns()
    location = cache_file(settings, cache_dir)
    header = (LAYOUT, fingerprint(), settings_key(settings))
    entries = load(location, header)
    results: list[FileResult] = []
    read: dict[str, tuple[str, tuple[int, int, int, int, int], bool, bytes]] = {}
    touched: list[str] = []  # entries served or refreshed: the file must be saved
    deps = Dependencies(started)

    def misses() -> Iterator[tuple[str, bytes]]:
        # Files are read one at a time as the engine asks for them (see engine.check_paths).
        for path in paths:
            key = entry_key(path, settings.root)
            entry = entries.get(key)
            if type(entry) is not tuple or len(entry) != 6 or not deps.unchanged(entry[5]):
                entry = None  # none stored, damaged, or another file it used has changed: check the file
            else:
                try:
                    if entry[1] and entry[0] == stat_key(os.stat(path)):
                        results.append(decode_result(path, entry[4]))
                        if entry[3] < started - DAY_NS:
                            entries[key] = (*entry[:3], started, entry[4], entry[5])
                            touched.append(key)
                        continue
                except (OSError, ValueError, TypeError, IndexError, KeyError):
                    pass  # unreadable here, or a damaged entry
            try:
                with open(path, "rb") as handle:
                    stat = stat_key(os.fstat(handle.fileno()))
                    data = handle.read()
            except OSError as exc:
                from packlint.engine import unreadable

                results.append(unreadable(path, exc))
                continue
            trusted = max(stat[1], stat[2]) < started - RACY_NS
            digest = hashlib.sha256(data).digest()
            if entry is not None and entry[2] == digest:  # the same content: at another path, or touched
                try:
                    results.append(decode_result(path, entry[4]))
                    entries[key] = (stat, trusted, digest, started, entry[4], entry[5])
                    touched.append(key)
                    continue
                except (ValueError, TypeError, IndexError, KeyError):
                    pass
            read[path] = (key, stat, trusted, digest)
            yield path, data

    pending = misses()
    first = next(pending, None)
    if first is not None:  # the engine (and with it the rules) is imported only for a miss
        from packlint.engine import check_items

        if settings.project:  # the other files' summaries are kept beside the results, by content
            from packlint.project import store

            store.use(cache_directory(settings, cache_dir))
        try:
            for result, _ in check_items(itertools.chain([first], pending), settings, jobs):
                key, stat, trusted, digest = read[result.path]
                entries[key] = (stat, trusted, digest, started, encode_result(result), deps.record(result.depends))
                results.append(result)
        finally:
            if settings.project:
                store.stop()
    dirty = bool(read or touched)
    if dirty:
        kept = {k: e for k, e in entries.items() if e[3] >= started - KEEP_NS}
        save(location, header, kept)
    return sorted(results, key=lambda r: r.path)


class Dependencies:
    """Checks of the other files that cached results used (project mode), each file looked at once per run."""

    def __init__(self, started: int) -> None:
        self.started = started
        self.known: dict[str, tuple[str, tuple[int, ...]]] = {}  # path -> (digest or "", stat or ())
        self.verdicts: dict[Any, bool] = {}  # (path, digest, stat) as stored -> whether it still holds

    def current(self, path: str) -> tuple[str, tuple[int, ...]]:
        """The file's digest and stat now ("" and () when it is absent or unreadable)."""
        if path not in self.known:
            try:
                with open(path, "rb") as handle:
                    stat = stat_key(os.fstat(handle.fileno()))
                    data = handle.read()
                self.known[path] = (hashlib.sha256(data).hexdigest(), stat)
            except OSError:
                self.known[path] = ("", ())
        return self.known[path]

    def unchanged(self, stored: Any) -> bool:
        """Whether every file a result used is as it was (a damaged record counts as changed)."""
        try:
            for record in stored:
                # Project mode: every file importing a package records the same files (torch: ~1,900 each),
                # so each record is judged once per run.
                verdict = self.verdicts.get(record)
                if verdict is None:
                    verdict = self.verdicts[record] = self._unchanged(*record)
                if not verdict:
                    return False
        except (TypeError, ValueError):
            return False
        return True

    def _unchanged(self, path: str, digest: str, stat: tuple[int, ...]) -> bool:
        if stat and max(stat[1], stat[2]) < self.started - RACY_NS and path not in self.known:
            try:
                if stat_key(os.stat(path)) == tuple(stat):
                    return True  # the same stat, taken long enough after the last change: the same file
            except OSError:
                return False
        if digest == "+":  # only its existence was used
            return os.path.isfile(path)
        if digest.startswith("ls:"):  # a directory a search of the whole project walked
            from packlint.project.files import listing_digest

            return listing_digest(path) == digest
        return self.current(path)[0] == digest

    def record(self, depends: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
        """What to store for a fresh result's dependencies: digest as the check saw it, stat as now."""
        stored: list[tuple[str, str, tuple[int, ...]]] = []
        for path, digest in depends:
            if digest == "+" or digest.startswith("ls:"):
                stored.append((path, digest, ()))
                continue
            now, stat = self.current(path)
            # A file that changed between the check and now keeps the check's digest and no stat: the next
            # run compares contents and re-checks.
            stored.append((path, digest, stat if now == digest else ()))
        return tuple(stored)


def cache_directory(settings: Settings, cache_dir: str | None = None) -> str:
    """`--cache-dir`, else $PACKLINT_CACHE_DIR, else `.packlint_cache` in the project root."""
    chosen = cache_dir or os.environ.get(CACHE_DIR_ENV)
    return os.path.abspath(chosen) if chosen else os.path.join(settings.root, CACHE_DIR)


def cache_file(settings: Settings, cache_dir: str | None = None) -> str:
    """Where the entries for this selection live: one file per version and selection, as in ruff."""
    digest = hashlib.sha256(repr(settings_key(settings)).encode()).hexdigest()[:24]
    return os.path.join(cache_directory(settings, cache_dir), __version__, f"{digest}.bin")


def settings_key(settings: Settings) -> tuple[Any, ...]:
    """The settings that decide which rules run on which file, and whether fixes carry their edits.

    Not the root: entries are keyed relative to it, so the same project at another path finds its cache."""
    # fix_edits: entries stored for JSON/SARIF hold every fix's edits; text-only entries hold none.
    return (
        settings.select,
        settings.extend_select,
        settings.ignore,
        settings.per_file_ignores,
        settings.fix_edits,
        settings.project,
    )


def entry_key(path: str, root: str) -> str:
    """A file's key: its path relative to the root (as per-file-ignores see it), absolute if outside."""
    relative = relative_to_root(path, root)
    if relative.startswith("../") or os.path.isabs(relative):
        return os.path.abspath(path)
    return relative


def fingerprint(package: str | None = None) -> bytes:
    """What decides results besides a file and the settings: packlint's own code and the Python parsing.

    The content of packlint's modules, not their times: a fresh `pip install` of the same packlint in CI
    (new mtimes) keeps a restored cache valid, while a rule edited in a development checkout empties it."""
    package = package or os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256("\n".join([__version__, sys.version, str(LAYOUT)]).encode())
    for directory, subdirectories, files in os.walk(package):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                with open(os.path.join(directory, name), "rb") as handle:
                    data = handle.read()
                relative = os.path.relpath(os.path.join(directory, name), package).replace(os.sep, "/")
                digest.update(f"\0{relative}\0{len(data)}\0".encode())
                digest.update(data)
    return digest.digest()


def stat_key(stat: os.stat_result) -> tuple[int, int, int, int, int]:
    """What changes whenever a file's content does (ctime: even a copy that keeps the mtime)."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def load(location: str, header: tuple[Any, ...]) -> dict[str, Entry]:
    """The entries stored at `location`; none if it is missing, damaged, or for another packlint."""
    payload = read_checked(location, MAGIC)
    if payload is None:
        return {}
    try:
        stored_header, entries = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return {}
    if stored_header != header or not isinstance(entries, dict):
        return {}
    return entries


def save(location: str, header: tuple[Any, ...], entries: dict[str, Entry]) -> None:
    """Replace the cache file all at once; a concurrent run sees the old file or the new, never a mix."""
    payload = marshal.dumps((header, entries))
    directory = os.path.dirname(location)
    try:
        os.makedirs(directory, exist_ok=True)
        _mark_cache_root(os.path.dirname(directory))
    except OSError:  # a read-only tree, a full disk: the run still stands, only uncached
        return
    write_checked(location, MAGIC, payload)  # unwritable: the run still stands, only uncached


def _mark_cache_root(root: str) -> None:
    # As ruff does: git ignores the directory by itself, and backup tools skip it (CACHEDIR.TAG).
    marks = {
        ".gitignore": "# Automatically created by packlint.\n*\n",
        "CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n# Created by packlint.\n",
    }
    for name, text in marks.items():
        path = os.path.join(root, name)
        if not os.path.exists(path):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)


def encode_result(result: FileResult) -> Any:
    """A checked file's diagnostics and errors as plain tuples (None when it is clean)."""
    if not result.diagnostics and not result.errors:
        return None
    return (tuple(_encode_diagnostic(d) for d in result.diagnostics), tuple(_encode_error(e) for e in result.errors))


def decode_result(path: str, payload: Any) -> FileResult:
    """The result that `encode_result` stored, for `path`."""
    if payload is None:
        return FileResult(path)
    diagnostics, errors = payload
    return FileResult(path, tuple(_decode_diagnostic(d) for d in diagnostics), tuple(_decode_error(e) for e in errors))


def _encode_error(e: FileError) -> tuple[object, ...]:
    where = (e.location.row, e.location.column) if e.location is not None else None
    return (e.reason, e.code, where)


def _decode_error(raw: Any) -> FileError:
    reason, code, where = raw
    return FileError(reason, code, Location(*where) if where is not None else None)


def _encode_diagnostic(d: Diagnostic) -> tuple[object, ...]:
    fix = None
    if d.fix is not None:
        edits = tuple(
            (e.start, e.end, e.content, e.location.row, e.location.column, e.end_location.row, e.end_location.column)
            for e in d.fix.edits
        )
        fix = (d.fix.applicability.value, d.fix.message, edits)
    where = (d.location.row, d.location.column, d.end_location.row, d.end_location.column)
    cell = None
    if d.cell is not None:
        start, end = d.cell.file_location, d.cell.file_end_location
        cell = (d.cell.number, start.row, start.column, end.row, end.column)
    return (d.code, d.name, d.message, *where, d.noqa_row, fix, cell)


def _decode_diagnostic(raw: Any) -> Diagnostic:
    code, name, message, row, column, end_row, end_column, noqa_row, raw_fix, raw_cell = raw
    fix = None
    if raw_fix is not None:
        applicability, title, raw_edits = raw_fix
        edits = tuple(
            Edit(start, end, content, Location(r, c), Location(er, ec))
            for start, end, content, r, c, er, ec in raw_edits
        )
        fix = Fix(Applicability(applicability), title, edits)
    cell = None
    if raw_cell is not None:
        number, cell_row, cell_column, cell_end_row, cell_end_column = raw_cell
        cell = Cell(number, Location(cell_row, cell_column), Location(cell_end_row, cell_end_column))
    where, end = Location(row, column), Location(end_row, end_column)
    return Diagnostic(code, name, message, where, end, fix, noqa_row, cell)
