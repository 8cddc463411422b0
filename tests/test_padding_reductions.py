"""PKL204/PKL205: what the padded-output trail follows, where it ends, and the `-> alone` contract."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from packlint.facts import analyse, padded_reductions

PREAMBLE = """\
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 5, batch_first=True)
        self.score = nn.Linear(5, 1)
        self.other = make_scorer()

    def forward(self, x, lengths, mask):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True{padding})
"""


def ops(body: str, padding: str = "") -> list[tuple[str, bool]]:
    source = PREAMBLE.format(padding=padding) + textwrap.indent(textwrap.dedent(body), " " * 8)
    return [(r.op, r.masked_after) for r in padded_reductions(analyse(ast.parse(source)))]


@pytest.mark.parametrize(
    "body, expected",
    [
        # The time axis, followed through a Linear, squeeze, transpose and bmm.
        ("w = F.softmax(self.score(out).squeeze(-1), dim=1)", [("softmax", False)]),
        ("w = F.softmax(self.score(out).squeeze(-1), dim=-1)", [("softmax", False)]),
        ("w = torch.softmax(torch.bmm(q.unsqueeze(1), out.transpose(1, 2)), dim=2)", [("softmax", False)]),
        ("w = torch.softmax(torch.bmm(q.unsqueeze(1), out.transpose(1, 2)), dim=1)", []),
        ("w = self.score(out).softmax(dim=2)", []),  # the feature axis
        # A module we do not know, a view, a per-sequence slice: the trail ends.
        ("w = F.softmax(self.other(out).squeeze(-1), dim=1)", []),
        ("w = F.softmax(out.view(-1, 5), dim=1)", []),
        ("w = F.softmax(self.score(out[0, :3]).squeeze(-1), dim=0)", []),
        # Masks before and after the softmax.
        ("s = self.score(out).squeeze(-1).masked_fill(~mask, -1e9)\nw = F.softmax(s, dim=1)", []),
        ("s = self.score(out).squeeze(-1) + (1 - mask) * -10000.0\nw = F.softmax(s, dim=1)", []),
        ("s = self.score(out).squeeze(-1)\ns.masked_fill_(mask == 0, -1e9)\nw = F.softmax(s, dim=1)", []),
        ("w = F.softmax(self.score(out).squeeze(-1), dim=1) * mask", [("softmax", True)]),
        ("w = F.softmax(self.score(out).squeeze(-1), dim=1)\nw = w.unsqueeze(-1) * out", [("softmax", False)]),
        # Paths that disagree: unknown.
        ("if flag:\n    out = other\nw = F.softmax(self.score(out).squeeze(-1), dim=1)", []),
        ("if flag:\n    pass\nelse:\n    out = other\nw = F.softmax(self.score(out).squeeze(-1), dim=1)", []),
        # Pooling: mean always; max unless the padding cannot win.
        ("p = out.mean(dim=1)", [("mean", False)]),
        ("p = torch.max(out, 1)[0]", [("max", False)]),
        ("p = torch.relu(out).max(dim=1)", []),
        ("p = torch.relu(self.score(out)).max(dim=1)", [("max", False)]),  # relu(bias) is not zero
        ("p = out.sum(dim=1) / lengths.unsqueeze(1)", []),
        ("p = out.mean(dim=0)", []),  # the batch axis of a batch-first output
    ],
)
def test_trail(body: str, expected: list[tuple[str, bool]]) -> None:
    assert ops(body) == expected


def test_neg_inf_padding_lets_max_and_softmax_through() -> None:
    assert ops("p = out.max(dim=1)", padding=", padding_value=float('-inf')") == []
    assert ops("w = torch.softmax(out.squeeze(-1), dim=1)", padding=", padding_value=-1e9") == []
    assert ops("p = out.max(dim=1)", padding=", padding_value=-1.0") == [("max", False)]


RNN_OVER_PADDING = """\
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 5, batch_first=True)

    def forward(self, x{extra}):
        out, _ = self.rnn(x)
        return out.mean(dim=1)
"""


def test_an_rnn_over_an_unknown_batch_needs_lengths_or_a_mask_in_scope() -> None:
    def found(extra: str) -> int:
        return len(padded_reductions(analyse(ast.parse(RNN_OVER_PADDING.format(extra=extra)))))

    assert found(", lengths") == 1
    assert found(", src_mask") == 1
    assert found("") == 0  # fixed-length windows, for all this code shows


def test_alone_compares_rows_and_per_step_prefixes() -> None:
    torch = pytest.importorskip("torch")
    from packlint.runtime.compare import StructureError, alone_gap

    rows = [torch.ones(1, 2), torch.zeros(1, 2)]
    assert alone_gap(torch.stack([torch.ones(2), torch.zeros(2)]), rows).error == 0.0
    assert alone_gap(torch.zeros(2, 2), rows).error == 1.0
    assert alone_gap(torch.zeros(3, 2), rows).error == float("inf")
    # Per step: [B, T, F] batched against [1, L_i, F] alone, compared up to each length only.
    steps = torch.zeros(2, 4, 1)
    steps[0, 3] = 5.0  # padding of the first sequence: not compared
    assert alone_gap(steps, [torch.zeros(1, 3, 1), torch.zeros(1, 4, 1)]).error == 0.0
    steps[1, 3] = 5.0  # a real step of the second
    assert alone_gap(steps, [torch.zeros(1, 3, 1), torch.zeros(1, 4, 1)]).error == 5.0
    with pytest.raises(StructureError):
        alone_gap((steps,), rows)


def test_alone_catches_a_mean_over_padding_and_passes_the_masked_one(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from packlint.runtime.devices import resolve
    from packlint.runtime.verify import verify_paths

    template = """# {what}
# verify: pool(rnn, padded, lengths) -> alone; batch_first=true types=gru layers=1 bidirectional=false
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def pool(rnn, padded, lengths):
    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    out, lens = pad_packed_sequence(rnn(packed)[0], batch_first=True)
    return {pooled}
"""
    directory = tmp_path / "PKL205"
    directory.mkdir()
    (directory / "good_masked.py").write_text(
        template.format(what="sum over lengths", pooled="out.sum(1) / lens.unsqueeze(1)"), encoding="utf-8"
    )
    (directory / "good_unmasked.py").write_text(template.format(what="mean", pooled="out.mean(1)"), encoding="utf-8")
    run = verify_paths([str(directory)], resolve("cpu", "float32"))
    verdicts = {Path(r.fixture).name: r.verdict for r in run.reports}
    assert verdicts == {"good_masked.py": "MATCH", "good_unmasked.py": "DEVIATE"}


HELPERS = """\
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Scorer(nn.Module):
    def forward(self, values, m=None):
        scores = values.sum(dim=-1){masking}
        return torch.softmax(scores, dim=1)


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 5, batch_first=True)
        self.scorer = Scorer()

    def forward(self, x, lengths, mask):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
        weights = self.scorer({call})
        return {after}
"""


@pytest.mark.parametrize(
    "masking, call, after, expected",
    [
        ("", "out", "weights", [("softmax", False)]),  # into a same-file module's forward
        ("", "values=out", "weights", [("softmax", False)]),
        (" * m", "out, mask", "weights", []),  # the caller's mask, under another name
        ("", "out", "weights * mask", [("softmax", True)]),  # the weights come back and are masked
        ("", "out[:, :2]", "weights", []),  # a bounded slice of time: not followed
    ],
)
def test_padded_values_are_followed_into_same_file_modules(
    masking: str, call: str, after: str, expected: list[tuple[str, bool]]
) -> None:
    source = HELPERS.format(masking=masking, call=call, after=after)
    assert [(r.op, r.masked_after) for r in padded_reductions(analyse(ast.parse(source)))] == expected
