"""The prefilter is conservative: turning it off never changes a diagnostic, an error or a fix."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from packlint.config import Settings
from packlint.diagnostics import FileResult
from packlint.engine import check_items, check_source
from packlint.prefilter import Needle
from tests.fixture_marks import FIXTURES, ROOT

FIXTURE_FILES = sorted(FIXTURES.rglob("*.py"))
ALL = Settings(select=("ALL",), root=str(ROOT), strict=True)


def _real_files(count: int) -> list[Path]:
    """A spread of real files: packlint's own and an even sample of torch's installed sources."""
    files = sorted((ROOT / "packlint").rglob("*.py"))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a test dependency
        return files
    sources = sorted(Path(os.path.dirname(torch.__file__)).rglob("*.py"))
    step = max(1, len(sources) // count)
    return files + sources[::step][:count]


def _same(path: Path, settings: Settings) -> tuple[FileResult, FileResult]:
    data = path.read_bytes()
    on = check_source(data, str(path), settings)
    off = check_source(data, str(path), settings.but(prefilter=False))
    return on, off


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
@pytest.mark.parametrize("fix", [False, True], ids=["check", "fix"])
def test_fixture_gives_the_same_result_with_the_prefilter_off(path: Path, fix: bool) -> None:
    on, off = _same(path, ALL.but(fix=fix, unsafe_fixes=fix))
    assert on == off


@pytest.mark.parametrize("code", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_each_rule_alone_gives_the_same_result_with_the_prefilter_off(code: str) -> None:
    # One rule selected: the needles shrink to that rule's triggers, the sharpest test of them.
    settings = ALL.but(select=(code,))
    for path in FIXTURE_FILES:
        if code != "PKL001" and not parses(path):
            # Pasted invisible spaces: these parse only once PKL001 repairs them. With another rule alone
            # they are a syntax error, which the prefilter, as for any file without that rule's words,
            # does not parse.
            continue
        on, off = _same(path, settings)
        assert on == off, path


def parses(path: Path) -> bool:
    """Whether Python itself can parse the file."""
    try:
        ast.parse(path.read_bytes())
    except SyntaxError:
        return False
    return True


def test_real_files_give_the_same_result_with_the_prefilter_off() -> None:
    items = [(str(p), p.read_bytes()) for p in _real_files(24)]
    on = check_items(items, ALL.but(strict=False), jobs=1)
    off = check_items(items, ALL.but(strict=False, prefilter=False), jobs=1)
    assert all(parsed for _, parsed in off)
    assert any(not parsed for _, parsed in on)  # the sample holds files that the prefilter turns away
    assert {r.path: r for r, _ in on} == {r.path: r for r, _ in off}


TRAINING_LOOP = """\
def train(model, optimizer, loader, loss_fn):
    for inputs, targets in loader:
        loss = loss_fn(model(inputs), targets)
        {call}
        optimizer.step()
"""


@pytest.mark.parametrize(
    "call",
    [
        "loss.backward()",
        "loss.backward ()",
        "(loss.backward\n         ())",
        "(loss.backward  # a comment between\n         ())",
        "loss.backward \\\n            ()",
        "torch.autograd.backward(loss)",
        "bwd = loss.backward\n        bwd()",
    ],
)
def test_odd_spellings_of_a_backward_pass_agree_with_the_prefilter_off(call: str, tmp_path: Path) -> None:
    path = tmp_path / "loop.py"
    path.write_text(TRAINING_LOOP.format(call=call))
    on, off = _same(path, ALL)
    assert on == off


def test_a_trigger_is_a_word_or_a_regex_that_starts_with_one() -> None:
    assert Needle.of("pack_sequence") == Needle(b"pack_sequence")
    needle = Needle.of(r"backward\s*\(")
    assert needle.literal == b"backward"
    assert needle.found_in(b"loss.backward\n  ()") and not needle.found_in(b"the backward pass")
    for unsound in ["(?i)lstm", "LSTM|GRU", "backwards?", "backward*", r"\bRNN"]:
        with pytest.raises(ValueError, match="must start with a word"):
            Needle.of(unsound)


def test_the_process_pool_gives_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [(str(p), p.read_bytes()) for p in FIXTURE_FILES]
    settings = ALL.but(fix=True, unsafe_fixes=True)
    alone = check_items(items, settings, jobs=1)
    monkeypatch.setattr("packlint.engine.POOL_THRESHOLD", 0)
    pooled = check_items(items, settings, jobs=2)
    assert {r.path: (r, parsed) for r, parsed in pooled} == {r.path: (r, parsed) for r, parsed in alone}
