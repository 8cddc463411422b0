"""Facts gating is conservative: walking only the functions the triggered rules can use changes no result."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from packlint.config import Settings
from packlint.diagnostics import FileResult
from packlint.engine import check_source, gate_for, trigger_words
from packlint.facts import analyse
from packlint.prefilter import may_match
from packlint.rules.triggers import EVERY_FUNCTION, FLOW
from packlint.source import Source
from tests.fixture_marks import FIXTURES, ROOT

FIXTURE_FILES = sorted(FIXTURES.rglob("*.py"))
ALL = Settings(select=("ALL",), root=str(ROOT), strict=True)
CORPUS = Path("/work/corpus")  # the real-world corpus (docs/real-world.md), where this machine has it
# Rules that declare less than every function: the ones whose gating these tests must hold to.
GATED = sorted(code for code, words in FLOW.items() if words != EVERY_FUNCTION)


def _both(path: str, data: bytes, settings: Settings) -> tuple[FileResult, FileResult]:
    return check_source(data, path, settings), check_source(data, path, settings.but(gating=False))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
@pytest.mark.parametrize("fix", [False, True], ids=["check", "fix"])
def test_fixture_gives_the_same_result_without_gating(path: Path, fix: bool) -> None:
    gated, whole = _both(str(path), path.read_bytes(), ALL.but(fix=fix, unsafe_fixes=fix))
    assert gated == whole


@pytest.mark.parametrize("code", GATED)
def test_each_gated_rule_alone_gives_the_same_result_without_gating(code: str) -> None:
    # One rule selected: the flow words shrink to that rule's own (none at all for the loop rules).
    settings = ALL.but(select=(code,))
    for path in FIXTURE_FILES:
        gated, whole = _both(str(path), path.read_bytes(), settings)
        assert gated == whole, path


# In each case the function that reports holds no flow word: the RNN reaches it through the module or
# its class. Each reports (asserted), so a gate that leaves out that step loses the report.
REACHED = {
    "module-level module": """\
import torch
from torch import nn

encoder = nn.LSTM(8, 16, bidirectional=True)


def last_state(x):
    out, (h_n, c_n) = encoder(x)
    return h_n[-1]
""",
    "method of the class that builds it": """\
import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16, bidirectional=True)

    def forward(self, x):
        out, h_n = self.rnn(x)
        return h_n[-1]
""",
    # Why the packing rules walk every function: PKL101 reports in any function of a file that packs.
    "lengths list of a file that packs": """\
import torch
from torch.nn.utils.rnn import pack_padded_sequence


def order_of(seqs):
    lengths = [len(s) for s in seqs]
    order = torch.argsort(torch.tensor(lengths), descending=True)
    return lengths[order]


def pack(padded, lengths):
    return pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
""",
}


@pytest.mark.parametrize("name", sorted(REACHED))
def test_what_a_reporting_function_needs_is_walked(name: str) -> None:
    data = REACHED[name].encode()
    gated, whole = _both(f"{name}.py", data, ALL)
    assert whole.diagnostics, "the case must report, or it proves nothing"
    assert gated == whole
    for code in {d.code for d in whole.diagnostics}:  # alone, the flow words are that rule's own
        gated, whole = _both(f"{name}.py", data, ALL.but(select=(code,)))
        assert whole.diagnostics
        assert gated == whole, code


def test_gating_leaves_out_functions_and_files_that_no_triggered_rule_can_use() -> None:
    text = REACHED["method of the class that builds it"] + (
        "\n\ndef unrelated(items):\n" + "".join(f"    x{i} = items[{i}]\n" for i in range(50))
    )
    source = Source.from_text(text)
    tree = ast.parse(text)
    whole = analyse(tree).statement_visits
    gated = analyse(tree, gate_for(text, source, frozenset({"PKL202"}))).statement_visits
    assert gated < whole - 40  # `unrelated` was not walked
    # A loop rule reads the tree only: no statement is walked at all.
    assert analyse(tree, gate_for(text, source, frozenset({"PKL301"}))).statement_visits == 0


def _passing(files: list[Path], count: int) -> list[Path]:
    """An even spread of at most `count` of `files` that pass the prefilter for every rule."""
    words = trigger_words(ALL.codes())
    found = [path for path in files if may_match(path.read_bytes(), words)]
    step = max(1, len(found) // count)
    return found[::step][:count]


def _torch_files() -> list[Path]:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a test dependency
        return []
    return sorted(Path(os.path.dirname(torch.__file__)).rglob("*.py"))


def test_real_files_give_the_same_result_without_gating() -> None:
    files = _passing(_torch_files(), 24)
    if CORPUS.is_dir():  # not in CI: the corpus is fetched repositories, kept outside the project
        files += _passing(sorted(CORPUS.rglob("*.py")), 40)
    assert files
    for path in files:
        gated, whole = _both(str(path), path.read_bytes(), ALL.but(strict=False))
        assert gated == whole, path
