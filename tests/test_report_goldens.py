"""Each output format on one small tree, against a reviewed golden (PACKLINT_UPDATE_GOLDENS=1 rewrites them)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import run_packlint
from tests.test_cli import BAD, write

GOLDENS = Path(__file__).parent / "goldens"
FORMATS = {"full": "txt", "concise": "txt", "json": "json", "sarif": "json", "github": "txt"}
UNSAFE = """\
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16, batch_first=True)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return out[:, -1]
"""


def _tree(root: Path) -> None:
    write(root, "pkg/collate.py", BAD)
    write(root, "pkg/encoder.py", UNSAFE)
    write(root, "pkg/broken.py", "def f(:\n    return pack_sequence\n")
    (root / "pkg/latin.py").write_bytes(b"# pack_padded_sequence\nname = '\xe9t\xe9'\n")


def _normalise(text: str, root: Path, fmt: str) -> str:
    text = text.replace(root.as_uri(), "file://<root>").replace(str(root), "<root>")
    text = re.sub(r"\(Python \d+\.\d+\)", "(Python <version>)", text)  # the grammar is the interpreter's
    if fmt == "sarif":
        log = json.loads(text)
        driver = log["runs"][0]["tool"]["driver"]
        # The rule descriptors and indexes follow the registry (new rules shift them); test_reports checks them.
        driver["rules"] = "<every rule>"
        driver["version"] = "<version>"
        for result in log["runs"][0]["results"]:
            result["ruleIndex"] = "<index>"
        text = json.dumps(log, indent=2) + "\n"
    return text


@pytest.mark.parametrize("fmt", FORMATS)
def test_report_matches_golden(tmp_path: Path, fmt: str) -> None:
    _tree(tmp_path)
    result = run_packlint("--no-cache", "--output-format", fmt, "pkg", "missing.py", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    out = _normalise(result.stdout, tmp_path, fmt)
    golden = GOLDENS / f"report.{fmt}.{FORMATS[fmt]}"
    if os.environ.get("PACKLINT_UPDATE_GOLDENS") == "1":
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"run with PACKLINT_UPDATE_GOLDENS=1 to create {golden.name}"
    assert out == golden.read_text(encoding="utf-8")
