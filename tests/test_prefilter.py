"""The prefilter is conservative: turning it off never changes a diagnostic, an error or a fix."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from packlint.config import Settings
from packlint.diagnostics import FileResult
from packlint.engine import check_items, check_source, trigger_words
from packlint.invisible import INVISIBLE
from packlint.prefilter import Needle, may_match, needles
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


@pytest.mark.parametrize("code", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "project"))
def test_each_rule_alone_gives_the_same_result_with_the_prefilter_off(code: str) -> None:
    # One rule selected: the needles shrink to that rule's triggers, the sharpest test of them.
    settings = ALL.but(select=(code,))
    for path in FIXTURE_FILES:
        if code != "PKL010" and not parses(path):
            # Pasted invisible spaces: these parse only once PKL010 repairs them. With another rule alone
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
        "(loss.backward)()",
        "loss .backward()",
        "(loss.\n         backward())",
        "loss.\\\n            backward()",
        "accelerator.backward(loss)",
        "self.manual_backward(loss)",
        "loss.backward()\n        optimizer.zero_grad()",
        "loss.backward()\n        optimizer.zero_grad ()",
        "loss.backward()\n        optimizer.step()\n        optimizer.zero_grad()",
        "Function.backward(ctx, loss)",
        "backward(loss)",
    ],
)
def test_odd_spellings_of_a_backward_pass_agree_with_the_prefilter_off(call: str, tmp_path: Path) -> None:
    path = tmp_path / "loop.py"
    path.write_text(TRAINING_LOOP.format(call=call))
    on, off = _same(path, ALL)
    assert on == off


@pytest.mark.parametrize(
    "step",
    [
        "optimizer.step()",
        "optimizer.step ()",
        "scaler.step(optimizer)",
        "xm.optimizer_step(optimizer)",
        "(optimizer.step)()",
    ],
)
def test_odd_spellings_of_a_step_agree_with_the_prefilter_off(step: str, tmp_path: Path) -> None:
    path = tmp_path / "loop.py"
    path.write_text(TRAINING_LOOP.format(call="loss.backward()").replace("optimizer.step()", step))
    for settings in (ALL, ALL.but(select=("PKL301",)), ALL.but(select=("PKL302",))):
        on, off = _same(path, settings)
        assert on == off


AUTOGRAD_FUNCTION = """import torch


class Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


def step(state):
    return state + 1
"""


def test_files_without_a_backward_and_a_step_are_turned_away() -> None:
    words = trigger_words(frozenset({"PKL301", "PKL302"}))
    assert not may_match(AUTOGRAD_FUNCTION.encode(), words)  # `def backward(ctx, ...)` is no backward pass
    assert not may_match(b"def train(loss):\n    loss.backward()\n", words)  # a backward, no step
    assert not may_match(b"for x in xs:\n    opt.step()\n", words)  # a step, no backward
    assert may_match(b"loss.backward()\nopt.step()\n", words)
    # PKL302 also needs the `zero_grad` it would move.
    assert not may_match(b"loss.backward()\nopt.step()\n", trigger_words(frozenset({"PKL302"})))
    assert may_match(b"loss.backward()\nopt.zero_grad()\nopt.step()\n", trigger_words(frozenset({"PKL302"})))


def test_a_comment_banner_after_an_uncalled_name_is_read_once() -> None:
    # A comment between a name and its `(` runs to the end of its line: read as any split of a run of
    # `#` the search backtracked through 2**78 of them here, and a real training script hung.
    words = trigger_words(frozenset({"PKL301"}))
    banner = b"# " + b"#" * 78 + b"\n"
    text = b"loss.backward()\nwarmup = total_step\n\n" + banner + b"opt.step()\n"
    assert may_match(text, words)
    assert not may_match(text.replace(b"opt.step()", b"opt.steps"), words)
    assert may_match(b"loss.backward()\nopt.step  # a comment (with a paren\n  ()\n", words)


def test_alternatives_need_every_part_and_a_wider_one_absorbs_a_narrower() -> None:
    found = needles([("LSTM", ("backward", "step")), (("backward", "step", "zero_grad"),)])
    assert [[n.literal for n in alternative] for alternative in found] == [[b"LSTM"], [b"backward", b"step"]]
    assert may_match(b"backward step", found) and not may_match(b"backward", found)


def test_a_trigger_is_a_word_or_a_regex_that_starts_with_one() -> None:
    assert Needle.of("pack_sequence") == Needle(b"pack_sequence")
    needle = Needle.of(r"backward\s*\(")
    assert needle.literal == b"backward"
    assert needle.found_in(b"loss.backward\n  ()") and not needle.found_in(b"the backward pass")
    guarded = Needle.of(r"(?<!\w)(?<!def )backward(?:\s|#[^\n]*)*\(")
    assert guarded.literal == b"backward"
    assert guarded.found_in(b"loss.backward  # why\n ()") and not guarded.found_in(b"def backward(ctx):")
    for unsound in ["(?i)LSTM|GRU", "LSTM|GRU", "backwards?", "backward*", r"\bRNN", "(?<!def )LSTM|GRU", "(?<!x)"]:
        with pytest.raises(ValueError, match="must start with a word"):
            Needle.of(unsound)
    assert Needle.of("backward(?:x|y)").literal == b"backward"  # a `|` inside a group is fine
    folded = Needle.of(r"(?i)noqa:\s*pkl")  # any case: searched in the lowered bytes
    assert folded.found_in(b"# NOQA: PKL104") and folded.found_in(b"# noqa:pkl1")
    assert not folded.found_in(b"# noqa: E501  data.pkl")


@pytest.mark.parametrize("char", list(INVISIBLE))
def test_an_invisible_space_is_found_among_other_non_ascii_text(char: str) -> None:
    # Needles of non-ASCII bytes are searched in the file's non-ASCII bytes alone, and not at all in an
    # ASCII file: neither may lose a match, whatever other characters share their lead bytes.
    words = trigger_words(frozenset({"PKL010"}))
    around = "x = \u201cquoted\u201d \u2014 caf\u00e9 \u2010\u2028 # \u4e2d\u6587 "
    for encoded in (f"{around}{char}y\n", f"{char}", f"y = 1{char}\n{around}"):
        assert may_match(encoded.encode(), words)
    assert not may_match(f"{around}\n".encode(), words)
    assert not may_match(b"x = 1  # plain ASCII\n", words)
    assert may_match("\u00a0".encode() + b"ascii", needles([["\u00a0"]]))


def test_the_process_pool_gives_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [(str(p), p.read_bytes()) for p in FIXTURE_FILES]
    settings = ALL.but(fix=True, unsafe_fixes=True)
    alone = check_items(items, settings, jobs=1)
    monkeypatch.setattr("packlint.engine.POOL_THRESHOLD", 0)
    pooled = check_items(items, settings, jobs=2)
    assert {r.path: (r, parsed) for r, parsed in pooled} == {r.path: (r, parsed) for r, parsed in alone}


@pytest.mark.parametrize("cached", [False, True], ids=["check_paths", "check_cached"])
def test_files_are_read_as_they_are_checked_and_prefiltered_once(
    cached: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from packlint import cache, engine

    for i in range(6):
        (tmp_path / f"plain{i}.py").write_text(f"x = {i}\n")
    (tmp_path / "loop.py").write_text(TRAINING_LOOP.format(call="loss.backward()"))
    paths = sorted(str(p) for p in tmp_path.glob("*.py"))
    opened: list[str] = []
    tested: list[tuple[int, int]] = []  # (files read so far, files tested so far) at each prefilter test
    real_open, real_match = open, engine.may_match

    def counting_open(path: str, *args: object, **kwargs: object) -> object:
        if str(path) in paths:  # not packlint's own modules, which the cache's fingerprint reads
            opened.append(str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    def counting_match(data: bytes, words: tuple[tuple[Needle, ...], ...]) -> bool:
        tested.append((len(opened), len(tested) + 1))
        return real_match(data, words)

    monkeypatch.setattr("builtins.open", counting_open)
    monkeypatch.setattr(engine, "may_match", counting_match)
    settings = Settings(root=str(tmp_path))
    results = cache.check_cached(paths, settings, jobs=1) if cached else engine.check_paths(paths, settings, jobs=1)
    assert [r.path for r in results] == paths and any(r.diagnostics for r in results)
    assert len(tested) == len(paths)  # one prefilter test per file, turned away or not
    assert all(read == done for read, done in tested)  # each file tested as soon as it is read


def test_a_notebook_is_prefiltered_on_its_cells_not_its_json(tmp_path: Path) -> None:
    import json

    # In the notebook's bytes the line break inside the call is the two characters `\n`, which no pattern
    # over source text expects; its decoded cells hold an ordinary (loss.backward\n ()) call.
    source = TRAINING_LOOP.format(call="(loss.backward\n         ())").splitlines(keepends=True)
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "loop.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    items = [(str(path), path.read_bytes())]
    on = check_items(items, ALL, jobs=1)
    off = check_items(items, ALL.but(prefilter=False), jobs=1)
    assert [d.code for r, _ in off for d in r.diagnostics] == ["PKL301"]
    assert [r for r, _ in on] == [r for r, _ in off]


@pytest.mark.parametrize(
    "comment", ["# noqa: PKL104", "# NOQA: pkl104", "# Noqa:PKL999", "# noqa: E501, PKL104"], ids=str
)
def test_a_noqa_naming_a_packlint_code_in_any_case_passes_for_unused_noqa(comment: str, tmp_path: Path) -> None:
    # PKL900 reads noqa directives case-insensitively; its trigger is a noqa and a PKL code, in any case.
    path = tmp_path / "plain.py"
    path.write_text(f"x = 1  {comment}\n")
    settings = Settings(select=("PKL900", "PKL104"), root=str(tmp_path), strict=True)
    on, off = _same(path, settings)
    assert off.diagnostics and on == off


def test_a_noqa_without_a_packlint_code_is_turned_away_for_unused_noqa() -> None:
    words = trigger_words(frozenset({"PKL900"}))
    assert not may_match(b"import os  # noqa: F401\n", words)
    assert may_match(b"import os  # NoQA: f401, Pkl104\n", words)


def test_a_pickle_file_name_beside_a_noqa_is_turned_away_for_unused_noqa() -> None:
    words = trigger_words(frozenset({"PKL900"}))
    assert not may_match(b"import os  # noqa: F401\nPATH = 'data.pkl'\n", words)
    assert may_match(b"x = 1  # noqa:E501 PKL104\n", words)


def test_the_admission_table_is_each_rules_only_copy() -> None:
    # Choosing rules and the prefilter read the table without importing the rules; each rule class takes
    # its admission from it, so the two cannot drift and no rule module declares its own.
    import inspect

    from packlint.rules import REGISTRY
    from packlint.rules.triggers import ADMISSION

    assert sorted(ADMISSION) == [rule.code for rule in REGISTRY]
    for rule in REGISTRY:
        admission = ADMISSION[rule.code]
        assert rule.triggers == admission.triggers and rule.default is admission.default
        assert rule.project_triggers == admission.project_triggers
        assert (rule.project_needs, rule.project_fact) == (admission.project_needs, admission.project_fact)
        body = inspect.getsource(rule)
        for name in ("triggers", "default", "project_triggers", "project_needs", "project_fact"):
            assert f"\n    {name} = " not in body, f"{rule.code} declares {name} itself"
    assert [rule.code for rule in REGISTRY if not rule.default] == ["PKL106", "PKL107", "PKL204", "PKL205", "PKL900"]
