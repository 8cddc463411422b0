"""Project mode's cost savers change no result: the gate's summary facts (a module counts only if it packs a
parameter, not because it holds the word), and the on-disk summary store (reused by content, recomputed
when a file changes, and a damaged store is only a slower run)."""

from __future__ import annotations

import dataclasses
import hashlib
import marshal
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from packlint.cache import check_cached
from packlint.checked_file import CHECKSUM
from packlint.config import Settings
from packlint.engine import Plan, admission, check_paths
from packlint.prefilter import may_match
from packlint.project import gate, store
from packlint.project import summary as summaries
from packlint.project.summary import summarise
from tests.conftest import ROOT

PROJECTS = ROOT / "fixtures" / "project"
VCS_CORPUS = Path("/work/corpus_vcs")  # the real-world corpus with a `.git` per repository, where it exists


@pytest.fixture(autouse=True)
def fresh_memo() -> Iterator[None]:
    """Each test starts with no summary in memory (as a new process does) and no store in use."""
    store.forget()
    store.stop()
    yield
    store.forget()
    store.stop()


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# A package whose __init__ re-exports a module that holds the word but packs nothing of its own (as torch's
# `torch/nn/utils/__init__.py` re-exports `rnn.py`), a module that holds the word and re-exports a packer
# from a third file, and a file that passes moved lengths to both.
TORCH_LIKE = {
    ".git/HEAD": "",
    "pkg/__init__.py": "from . import rnn\nfrom .rnn import pad\n",
    "pkg/rnn.py": (
        "import torch\n\n\ndef pad(seqs):\n    lengths = torch.tensor([len(s) for s in seqs])\n"
        "    return pack_padded_sequence(seqs, lengths)  # the lengths are its own: no parameter is packed\n"
    ),
    "relay.py": "# mentions pack_padded_sequence, packs nothing itself\nfrom inner import encode\n",
    "inner.py": (
        "from torch.nn.utils.rnn import pack_padded_sequence\n\n\ndef encode(x, lengths):\n"
        "    return pack_padded_sequence(x, lengths, batch_first=True)\n"
    ),
    "uses_pkg.py": "import pkg\n\n\ndef run(x, lengths):\n    return pkg.pad(x, lengths.cuda())\n",
    "uses_relay.py": "from relay import encode\n\n\ndef run(x, lengths):\n    return encode(x, lengths.cuda())\n",
}


def results(files: list[str], settings: Settings) -> list[tuple[str, object]]:
    return [(r.path, r.diagnostics) for r in check_paths(files, settings, jobs=1)]


def narrowed_and_whole(files: list[str], root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file checked in full, the gate deciding on words only, gives what the default run gives, in
    project mode and per file (`strict`: an internal error fails the test instead of hiding a result)."""
    for project in (True, False):
        settings = Settings(root=root, project=project, strict=True)
        narrowed = results(files, settings)
        monkeypatch.setattr(gate, "NARROW", False)
        whole = results(files, settings.but(prefilter=False))
        monkeypatch.setattr(gate, "NARROW", True)
        assert narrowed == whole


@pytest.mark.parametrize("name", sorted(p.name for p in PROJECTS.iterdir() if p.is_dir()))
def test_narrowing_changes_nothing_on_the_fixture_projects(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(str(p) for p in (PROJECTS / name).rglob("*.py"))
    narrowed_and_whole(files, str(PROJECTS / name), monkeypatch)


def test_narrowing_changes_nothing_on_a_torch_like_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, TORCH_LIKE)
    files = sorted(str(p) for p in tmp_path.rglob("*.py"))
    narrowed_and_whole(files, str(tmp_path), monkeypatch)
    # The packer behind a module that holds the word without packing is still found (the view's lookup
    # follows that module's imports, so the gate does too).
    found = check_paths(files, Settings(root=str(tmp_path), project=True, strict=True), jobs=1)
    reported = {(Path(r.path).name, d.code) for r in found for d in r.diagnostics}
    assert reported == {("uses_relay.py", "PKL111")}


def test_the_gate_turns_away_a_file_whose_imports_only_mention_packing(tmp_path: Path) -> None:
    write(tmp_path, TORCH_LIKE)
    plan = Plan.from_settings(Settings(root=str(tmp_path), project=True))
    path = tmp_path / "uses_pkg.py"
    admitted, depends, _ = admission(path.read_bytes(), str(path), plan)
    assert not admitted
    assert str(tmp_path / "pkg" / "rnn.py") in dict(depends)  # its summary decided: an edit re-checks
    admitted, _, only = admission((tmp_path / "uses_relay.py").read_bytes(), str(tmp_path / "uses_relay.py"), plan)
    assert admitted and only


def test_the_gate_by_words_alone_lets_that_file_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the narrowing saves: by the word, the file above is parsed and its calls looked up.
    write(tmp_path, TORCH_LIKE)
    monkeypatch.setattr(gate, "NARROW", False)
    path = tmp_path / "uses_pkg.py"
    admitted, _, only = admission(path.read_bytes(), str(path), Plan.from_settings(Settings(project=True)))
    assert admitted and only


def _sample(files: list[Path], count: int) -> list[Path]:
    """An even spread of at most `count` files that PKL111's cross-file trigger lets through."""
    words = Plan.from_settings(Settings(project=True)).codes
    from packlint.engine import trigger_words

    needles = trigger_words(words, True)
    found = [f for f in files if may_match(f.read_bytes(), needles)]
    step = max(1, len(found) // count)
    return found[::step][:count]


def test_narrowing_changes_nothing_on_real_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    top = Path(os.path.dirname(torch.__file__))
    # torch's own subpackages that import its packing module through package re-exports.
    files = _sample(sorted((top / "nn").rglob("*.py")) + sorted((top / "ao" / "nn").rglob("*.py")), 10)
    files.append(top / "nn" / "utils" / "rnn.py")
    if VCS_CORPUS.is_dir():  # not in CI: fetched repositories, kept outside the project
        files += _sample(sorted(VCS_CORPUS.rglob("*.py")), 14)
    by_root: dict[str, list[str]] = {}
    from packlint.project import root_of

    for path in files:
        by_root.setdefault(root_of(str(path)), []).append(str(path))
    for root, group in sorted(by_root.items()):
        narrowed_and_whole(sorted(group), root, monkeypatch)


# -- the summary store -------------------------------------------------------------------------------------


def project_run(project: Path, cache_dir: Path) -> set[tuple[str, str]]:
    """A cached `--project` run over `project`, in a process that remembers no summary (as a new one)."""
    store.forget()
    found = check_cached([str(p) for p in sorted(project.rglob("*.py"))], Settings(root=str(project), project=True))
    return {(Path(r.path).name, d.code) for r in found for d in r.diagnostics}


def copy_project(tmp_path: Path, name: str) -> Path:
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / name, project)
    return project


def counts() -> tuple[int, int]:
    return store.COUNTS["computed"], store.COUNTS["loaded"]


def test_a_stored_summary_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = copy_project(tmp_path, "bad_lengths_to_gpu")
    cache = tmp_path / "cache"
    monkeypatch.setenv("PACKLINT_CACHE_DIR", str(cache))
    computed, _ = counts()
    first = project_run(project, cache)
    assert first and counts()[0] > computed  # computed (and stored) on the first run
    assert _stored(cache)
    computed, loaded = counts()
    for path in cache.rglob("*.bin"):
        path.unlink()  # the result cache emptied: every file is checked again, its imports summarised
    assert project_run(project, cache) == first
    assert counts()[0] == computed  # nothing computed again ...
    assert counts()[1] > loaded  # ... read from the store instead


def test_an_edited_file_is_summarised_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = copy_project(tmp_path, "bad_lengths_to_gpu")
    cache = tmp_path / "cache"
    monkeypatch.setenv("PACKLINT_CACHE_DIR", str(cache))
    assert ("train.py", "PKL111") in project_run(project, cache)
    model = project / "tagger" / "model.py"
    # Still a pack call, now of lengths it moves back to the CPU itself: nothing of the caller's is packed.
    model.write_text(model.read_text().replace("(padded, lengths,", "(padded, lengths.cpu(),", 1))
    computed, _ = counts()
    assert ("train.py", "PKL111") not in project_run(project, cache)  # the edit is seen
    assert counts()[0] > computed  # its new content was summarised


def _stored(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file() and p.parent.parent.parent.name == "summaries"]


def test_a_damaged_store_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = copy_project(tmp_path, "bad_lengths_to_gpu")
    cache = tmp_path / "cache"
    monkeypatch.setenv("PACKLINT_CACHE_DIR", str(cache))
    first = project_run(project, cache)
    entries = _stored(cache)
    assert entries
    for n, path in enumerate(entries):
        data = path.read_bytes()
        # truncated, bit-flipped, or a sound frame around a payload that is not a summary
        payload = marshal.dumps((bytes.fromhex(path.name), ("t", (1, 2))))
        framed = store.MAGIC + hashlib.sha256(payload).digest()[:CHECKSUM] + payload
        path.write_bytes([data[:10], data[:-1] + bytes([data[-1] ^ 1]), framed][n % 3])
    for path in cache.rglob("*.bin"):
        path.unlink()
    computed, _ = counts()
    assert project_run(project, cache) == first
    assert counts()[0] >= computed + len(entries)  # each damaged entry computed again ...
    computed, loaded = counts()
    for path in cache.rglob("*.bin"):
        path.unlink()
    assert project_run(project, cache) == first
    assert counts()[0] == computed and counts()[1] > loaded  # ... and rewritten whole


def test_a_store_that_cannot_be_written_is_memory_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from packlint import __version__

    project = copy_project(tmp_path, "bad_lengths_to_gpu")
    cache = tmp_path / "cache"
    monkeypatch.setenv("PACKLINT_CACHE_DIR", str(cache))
    (cache / __version__).mkdir(parents=True)
    (cache / __version__ / "summaries").write_text("a file where the store's folder should be")
    expected = {
        (Path(r.path).name, d.code)
        for r in check_paths(
            [str(p) for p in sorted(project.rglob("*.py"))], Settings(root=str(project), project=True), jobs=1
        )
        for d in r.diagnostics
    }
    assert project_run(project, cache) == expected  # no traceback, the same result as without a cache
    assert (cache / __version__ / "summaries").is_file()


def test_a_summary_of_another_packlint_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store.use(str(tmp_path))
    data = (PROJECTS / "bad_lengths_to_gpu" / "tagger" / "model.py").read_bytes()
    store.summary_of(data)
    store.forget()
    import packlint.cache

    monkeypatch.setattr(packlint.cache, "fingerprint", lambda package=None: b"\x01" * 32)
    store.use(str(tmp_path))  # packlint's code changed: another folder
    computed, _ = counts()
    store.summary_of(data)
    assert counts()[0] == computed + 1


def test_every_fixture_summary_survives_the_store() -> None:
    for path in sorted(PROJECTS.rglob("*.py")):
        summary = summarise(path.read_bytes())
        assert store.decode(store.encode(summary)) == summary, path


def test_a_field_added_to_a_summary_needs_no_change_to_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # The store reads fields by name off the dataclasses: a new one (as project mode's rules add them)
    # is stored and read back with nothing to edit here.
    base = summarise((PROJECTS / "bad_lengths_to_gpu" / "tagger" / "model.py").read_bytes())
    extended = dataclasses.make_dataclass(
        "Extended", [("pads_to", tuple, dataclasses.field(default=()))], bases=(summaries.ModuleSummary,), frozen=True
    )
    extended.__module__ = summaries.__name__
    monkeypatch.setattr(summaries, "Extended", extended, raising=False)
    value = extended(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)}, pads_to=(("200", 41),))
    assert store.decode(store.encode(value)) == value


def test_every_rule_fact_is_one_the_gate_knows() -> None:
    from packlint.rules import REGISTRY

    named = {rule.code: rule.project_fact for rule in REGISTRY if rule.project_fact is not None}
    assert named == {"PKL111": "packs_a_parameter"}
    assert set(named.values()) <= set(gate.FACTS)
