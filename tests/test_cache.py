"""The result cache: a cached result equals a fresh one, an edit is always seen, damage is ignored."""

from __future__ import annotations

import dataclasses
import json
import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from packlint import cache, engine
from packlint.config import Settings, known_codes
from packlint.diagnostics import Applicability, Cell, Diagnostic, Edit, FileError, FileResult, Fix, Location
from packlint.engine import check_paths
from tests.conftest import run_packlint
from tests.fixture_marks import FIXTURES

BAD = """\
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence


def collate(batch):
    lengths = [len(s) for s in batch]
    return pack_padded_sequence(pad_sequence(batch), lengths)
"""
GOOD = BAD.replace("lengths)\n", "lengths, enforce_sorted=False)\n")


def project(tmp_path: Path) -> tuple[list[str], Settings]:
    """A copy of every fixture (bad ones have fixes, some unsafe) plus a few plain files."""
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    (tmp_path / "plain.py").write_text("import os\n")
    (tmp_path / "syntax.py").write_text("def f(:\n    pack_padded_sequence\n")
    (tmp_path / "latin.py").write_bytes(b"# pack_padded_sequence\nname = '\xe9t\xe9'\n")
    files = sorted(str(p) for p in tmp_path.rglob("*.py"))
    return files, Settings(select=("ALL",), root=str(tmp_path))


FINGERPRINT = cache.fingerprint  # the real one, before any test pins it


@pytest.fixture(autouse=True)
def steady_packlint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin packlint's own fingerprint: a developer saving a packlint module mid-test would empty the cache."""
    fixed = cache.fingerprint()
    monkeypatch.setattr(cache, "fingerprint", lambda: fixed)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The paths the engine is asked to check, one list per call (files served from the cache are absent)."""
    calls: list[list[str]] = []
    real = engine.check_items

    def spy(
        items: Iterable[tuple[str, bytes]], settings: Settings, jobs: int | None = None
    ) -> list[tuple[FileResult, bool]]:
        items = list(items)
        calls.append([path for path, _ in items])
        return real(items, settings, jobs)

    monkeypatch.setattr(engine, "check_items", spy)
    return calls


def test_cached_results_equal_fresh_ones(tmp_path: Path, checked: list[list[str]]) -> None:
    files, settings = project(tmp_path)
    fresh = check_paths(files, settings, jobs=1)
    assert any(d.fix and d.fix.applicability is Applicability.UNSAFE for r in fresh for d in r.diagnostics)
    assert any(r.errors for r in fresh)
    checked.clear()
    first = cache.check_cached(files, settings, jobs=1)
    second = cache.check_cached(files, settings, jobs=1)
    assert first == fresh
    assert second == fresh
    assert checked == [files]  # the second run was served entirely from the cache


def test_the_stat_fast_path_serves_without_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, settings = project(tmp_path)
    monkeypatch.setattr(cache, "RACY_NS", -(10**18))  # as if every file had last changed long ago
    fresh = cache.check_cached(files, settings, jobs=1)
    real_open = open

    def no_source_reads(path: object, *args: object, **kwargs: object) -> object:
        assert not str(path).endswith(".py"), f"{path} was read"
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", no_source_reads)
    assert cache.check_cached(files, settings, jobs=1) == fresh


def test_an_edited_file_is_rechecked_and_only_it(tmp_path: Path, checked: list[list[str]]) -> None:
    files, settings = project(tmp_path)
    target = tmp_path / "edited.py"
    target.write_text(BAD)
    files = sorted([*files, str(target)])
    cache.check_cached(files, settings, jobs=1)
    target.write_text(GOOD)
    after = cache.check_cached(files, settings, jobs=1)
    assert checked[-1] == [str(target)]
    assert after == check_paths(files, settings, jobs=1)
    assert next(r for r in after if r.path == str(target)).diagnostics == ()


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(tmp_path: Path, checked: list[list[str]]) -> None:
    target = tmp_path / "a.py"
    target.write_text(BAD)
    settings = Settings(root=str(tmp_path))
    before = os.stat(target)
    assert [d.location.column for d in cache.check_cached([str(target)], settings)[0].diagnostics] == [12]
    moved = BAD.replace("lengths = [", "lengths= [").replace("return pack", "return  pack")
    assert len(moved) == len(BAD)
    target.write_text(moved)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    result = cache.check_cached([str(target)], settings)[0]
    assert [d.location.column for d in result.diagnostics] == [13]
    assert len(checked) == 2


def _moved(tmp_path: Path, copy: object = shutil.copy2) -> tuple[list[str], list[str], Settings]:
    """A checked project, then a copy of it (cache included) at another path: the old and new files."""
    files, settings = project(tmp_path / "a")
    cache.check_cached(files, settings, jobs=1)
    shutil.copytree(tmp_path / "a", tmp_path / "elsewhere" / "b", copy_function=copy)  # type: ignore[arg-type]
    moved = sorted(str(p) for p in (tmp_path / "elsewhere" / "b").rglob("*.py"))
    return files, moved, settings.but(root=str(tmp_path / "elsewhere" / "b"))


@pytest.mark.parametrize("copy", [shutil.copy2, shutil.copy], ids=["times-kept", "times-new"])
def test_a_cache_copied_with_the_tree_serves_every_file(tmp_path: Path, copy: object, checked: list[list[str]]) -> None:
    files, moved, settings = _moved(tmp_path, copy)
    assert len(moved) == len(files) > 100
    checked.clear()
    served = cache.check_cached(moved, settings, jobs=1)
    assert checked == []  # every file was a hit: nothing went to the engine
    assert served == check_paths(moved, settings, jobs=1)
    assert any(r.diagnostics for r in served) and all(r.path.startswith(settings.root) for r in served)


def test_after_a_move_an_edited_file_alone_misses(tmp_path: Path, checked: list[list[str]]) -> None:
    _, moved, settings = _moved(tmp_path)
    target = next(p for p in moved if p.endswith(".py") and "bad_" in p and not p.endswith(".fixed.py"))
    Path(target).write_text(Path(target).read_text() + "\n# edited after the move\n")
    checked.clear()
    served = cache.check_cached(moved, settings, jobs=1)
    assert checked == [[target]]
    assert served == check_paths(moved, settings, jobs=1)


@pytest.mark.parametrize(
    "change",
    ["ignore", "select", "per-file-ignores", "version", "packlint"],
)
def test_after_a_move_settings_version_and_packlint_still_invalidate(
    tmp_path: Path, change: str, checked: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, moved, settings = _moved(tmp_path)
    if change == "ignore":
        settings = settings.but(ignore=("PKL104",))
    elif change == "select":
        settings = settings.but(select=("PKL1",))
    elif change == "per-file-ignores":
        settings = settings.but(per_file_ignores=(("fixtures/PKL104/*", ("PKL104",)),))
    elif change == "version":
        monkeypatch.setattr(cache, "__version__", "0.0.0-other")
    else:
        monkeypatch.setattr(cache, "fingerprint", lambda: b"another packlint")
    checked.clear()
    served = cache.check_cached(moved, settings, jobs=1)
    assert checked == [moved]  # nothing served from the old entries
    assert served == check_paths(moved, settings, jobs=1)


def test_a_shared_cache_dir_serves_another_checkout(tmp_path: Path, checked: list[list[str]]) -> None:
    shared = str(tmp_path / "shared")
    files, settings = project(tmp_path / "a")
    cache.check_cached(files, settings, jobs=1, cache_dir=shared)
    assert not (tmp_path / "a" / cache.CACHE_DIR).exists()
    assert (tmp_path / "shared" / "CACHEDIR.TAG").exists()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    moved = sorted(str(p) for p in (tmp_path / "b").rglob("*.py"))
    other = settings.but(root=str(tmp_path / "b"))
    checked.clear()
    served = cache.check_cached(moved, other, jobs=1, cache_dir=shared)
    assert checked == []
    assert served == check_paths(moved, other, jobs=1)


def test_the_cache_dir_option_and_environment_variable(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD)
    first = run_packlint("--output-format", "json", "--cache-dir", "../by-option", "a.py", cwd=tmp_path)
    assert (tmp_path.parent / "by-option" / cache.__version__).is_dir()
    env = {**os.environ, cache.CACHE_DIR_ENV: str(tmp_path / "by-env")}
    second = subprocess.run(
        [sys.executable, "-m", "packlint", "--output-format", "json", "a.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (tmp_path / "by-env" / cache.__version__).is_dir()
    assert not (tmp_path / cache.CACHE_DIR).exists()
    assert json.loads(second.stdout) == json.loads(first.stdout) != []


def test_the_fingerprint_follows_content_not_file_times(tmp_path: Path) -> None:
    package = Path(cache.__file__).parent
    copy = tmp_path / "packlint"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    fingerprint = FINGERPRINT  # the autouse fixture pinned the module attribute
    assert fingerprint(str(copy)) == fingerprint(str(package))
    module = copy / "rules" / "pkl104_unsorted_enforce_sorted.py"
    os.utime(module, ns=(0, 0))  # as a fresh install gives every file new times
    assert fingerprint(str(copy)) == fingerprint(str(package))
    module.write_text(module.read_text() + "\n# a local change\n")
    assert fingerprint(str(copy)) != fingerprint(str(package))


def test_settings_and_packlint_itself_are_part_of_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.py"
    target.write_text(BAD)
    everything = Settings(select=("ALL",), root=str(tmp_path))
    assert cache.check_cached([str(target)], everything)[0].diagnostics
    assert cache.check_cached([str(target)], everything.but(ignore=("PKL104",)))[0].diagnostics == ()
    per_file = everything.but(per_file_ignores=(("a.py", ("PKL1",)),))
    assert cache.check_cached([str(target)], per_file)[0].diagnostics == ()
    assert cache.check_cached([str(target)], everything)[0].diagnostics
    monkeypatch.setattr(cache, "fingerprint", lambda: b"another packlint")
    assert cache.load(cache.cache_file(everything), (cache.LAYOUT, b"another packlint", ())) == {}


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[: len(blob) // 2],
        lambda blob: b"",
        lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]),
        lambda blob: b"not a cache file at all",
    ],
    ids=["truncated", "empty", "flipped-bit", "foreign"],
)
def test_a_damaged_cache_file_is_ignored(tmp_path: Path, damage, checked: list[list[str]]) -> None:  # type: ignore[no-untyped-def]
    files, settings = project(tmp_path)
    fresh = cache.check_cached(files, settings, jobs=1)
    location = Path(cache.cache_file(settings))
    location.write_bytes(damage(location.read_bytes()))
    assert cache.check_cached(files, settings, jobs=1) == fresh
    assert len(checked) == 2
    assert cache.check_cached(files, settings, jobs=1) == fresh  # and the rewritten file serves again
    assert len(checked) == 2


def test_a_malformed_entry_is_ignored(tmp_path: Path, checked: list[list[str]]) -> None:
    files, settings = project(tmp_path)
    fresh = cache.check_cached(files, settings, jobs=1)
    location = cache.cache_file(settings)
    header = (cache.LAYOUT, cache.fingerprint(), cache.settings_key(settings))
    entries = cache.load(location, header)
    broken = {key: (*entry[:4], ("not", "a", "payload"), entry[5]) for key, entry in entries.items()}
    broken[next(iter(broken))] = ("junk",)  # type: ignore[assignment]
    cache.save(location, header, broken)
    assert cache.check_cached(files, settings, jobs=1) == fresh


def test_result_encoding_keeps_every_field(tmp_path: Path) -> None:
    edits = (
        Edit(10, 12, "enforce_sorted=Fals\u00e9", Location(2, 3), Location(2, 5)),
        Edit(40, 40, "\r\n", Location(4, 1), Location(4, 1)),
    )
    diagnostic = Diagnostic(
        "PKL104", "name", "`x` message", Location(2, 3), Location(3, 9), Fix(Applicability.UNSAFE, "Do it", edits), 2
    )
    plain = dataclasses.replace(diagnostic, fix=None, noqa_row=7)
    in_cell = dataclasses.replace(diagnostic, cell=Cell(5, Location(75, 23), Location(75, 90)))
    errors = (FileError("internal error in PKL101: boom"), FileError("syntax error: x", "PKL003", Location(3, 4)))
    result = FileResult("a.py", (diagnostic, plain, in_cell), errors)
    payload = marshal.loads(marshal.dumps(cache.encode_result(result)))
    assert cache.decode_result("a.py", payload) == result
    assert cache.decode_result("a.py", cache.encode_result(FileResult("a.py"))) == FileResult("a.py")
    # A new field must be added to the encoding as well: this list is the reminder.
    assert [f.name for f in dataclasses.fields(Diagnostic)] == [
        "code", "name", "message", "location", "end_location", "fix", "noqa_row", "cell"
    ]  # fmt: skip
    assert [f.name for f in dataclasses.fields(Cell)] == ["number", "file_location", "file_end_location"]
    # `changes` are not stored: a cached result is only ever shown (a --fix run is computed afresh), and a
    # JSON/SARIF run stores each fix's materialised `edits`.
    assert [f.name for f in dataclasses.fields(Fix)] == ["applicability", "message", "edits", "changes"]
    assert [f.name for f in dataclasses.fields(Edit)] == ["start", "end", "content", "location", "end_location"]
    assert [f.name for f in dataclasses.fields(Location)] == ["row", "column"]
    assert [f.name for f in dataclasses.fields(FileError)] == ["reason", "code", "location"]


def test_known_codes_are_the_registry_codes() -> None:
    from packlint.rules import REGISTRY

    assert known_codes() == tuple(rule.code for rule in REGISTRY)
    for rule in REGISTRY:
        assert rule.__module__.rsplit(".", 1)[-1].startswith(f"pkl{rule.code[3:]}_"), rule


def test_fixes_bypass_the_cache(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text(BAD)
    result = cache.check_cached([str(target)], Settings(root=str(tmp_path), fix=True))[0]
    assert result.new_source is not None
    assert not (tmp_path / cache.CACHE_DIR).exists()


def test_no_cache_option_neither_reads_nor_writes(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD)
    result = run_packlint("--no-cache", "--output-format", "json", "a.py", cwd=tmp_path)
    assert result.returncode == 1
    assert not (tmp_path / cache.CACHE_DIR).exists()
    run_packlint("a.py", cwd=tmp_path)
    assert (tmp_path / cache.CACHE_DIR / ".gitignore").read_text().endswith("*\n")
    assert (tmp_path / cache.CACHE_DIR / "CACHEDIR.TAG").exists()
    again = run_packlint("--output-format", "json", "a.py", cwd=tmp_path)
    assert json.loads(again.stdout) == json.loads(result.stdout)


WARM_RUN = """
import sys
from packlint.cli import main
try:
    main(["check", "--select", "ALL", "-q", sys.argv[1]])
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m.startswith(("packlint.rules", "packlint.facts"))), file=sys.stderr)
"""


def test_a_warm_run_imports_neither_rules_nor_facts(tmp_path: Path) -> None:
    project(tmp_path)
    runs = [
        subprocess.run([sys.executable, "-c", WARM_RUN, "."], capture_output=True, text=True, cwd=tmp_path)
        for _ in range(2)
    ]
    assert "packlint.rules" in runs[0].stderr.splitlines()[-1]
    assert runs[1].stderr.splitlines()[-1] == "[]"
    assert runs[1].stdout == runs[0].stdout and runs[0].stdout.count("PKL") > 10


def test_concurrent_runs_agree_and_leave_a_sound_cache(tmp_path: Path) -> None:
    files, settings = project(tmp_path)
    command = [sys.executable, "-m", "packlint", "--select", "ALL", "--output-format", "json", "."]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path) for _ in range(4)]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert all(out == outputs[0] for out in outputs)
    leftovers = [p for p in (tmp_path / cache.CACHE_DIR).rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert cache.check_cached(files, settings, jobs=1) == check_paths(files, settings, jobs=1)
