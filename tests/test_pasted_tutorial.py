"""Issue 14's done-when: the pasted tutorial runs after `packlint --fix --unsafe-fixes` and packs correctly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixture_marks import FIXTURES

TUTORIAL = FIXTURES / "PKL114" / "bad_pasted_tutorial.py"


def test_pasted_tutorial_does_not_even_parse() -> None:
    with pytest.raises(SyntaxError, match="U\\+00A0"):
        compile(TUTORIAL.read_bytes(), str(TUTORIAL), "exec")


def test_fixed_tutorial_runs_and_matches_each_sequence_alone(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pad_packed_sequence

    program = tmp_path / "tutorial.py"
    shutil.copy(TUTORIAL, program)
    done = subprocess.run(
        [sys.executable, "-m", "packlint", "check", "--fix", "--unsafe-fixes", "--no-cache", str(program)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\u00a0" not in program.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "tutorial"}
    torch.manual_seed(0)
    exec(compile(program.read_bytes(), str(program), "exec"), namespace)
    lstm, seqs, order = namespace["lstm"], namespace["seqs"], namespace["order"]
    padded, lengths = pad_packed_sequence(namespace["packed_out"], batch_first=True)
    assert len(seqs) == 4 and sorted(lengths.tolist(), reverse=True) == lengths.tolist()
    with torch.no_grad():
        for row, index in enumerate(order.tolist()):
            alone, _ = lstm(seqs[index].float().view(1, -1, 1))  # one sequence, unpadded, batch of one
            n = len(seqs[index])
            assert int(lengths[row]) == n
            assert torch.allclose(padded[row, :n], alone[0], atol=1e-6)
            assert torch.count_nonzero(padded[row, n:]) == 0
