"""`packlint run` and `--packlint-runtime`: each violation is reported with its code and the caller's line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import torch.nn.utils.rnn as rnn_utils  # noqa: E402

from packlint.runtime.run import run_script  # noqa: E402
from packlint.runtime.sanitizer import PackingViolation, Sanitizer  # noqa: E402
from tests.conftest import ROOT, run_packlint  # noqa: E402

PRELUDE = """\
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pack_sequence, pad_sequence

seqs = [torch.randn(n, 3) for n in (4, 7, 1, 5)]
padded = pad_sequence(seqs, batch_first=True)
"""

# (case, code after the prelude, expected code and name, strict). The last line is the faulty call.
CASES = [
    ("lengths-on-meta", "pack_padded_sequence(padded, torch.tensor([4, 7, 1, 5]).to('meta'), True, False)",
     "PKL111 lengths-on-accelerator", False),
    ("lengths-2d", "pack_padded_sequence(padded, torch.tensor([[4, 7, 1, 5]]), True, False)",
     "PKL111 lengths-on-accelerator", False),
    ("lengths-float", "pack_padded_sequence(padded, torch.tensor([4.0, 7.0, 1.0, 5.0]), True, False)",
     "PKL111 lengths-on-accelerator", False),
    ("unsorted", "pack_padded_sequence(padded, [4, 7, 1, 5], batch_first=True)",
     "PKL104 unsorted-enforce-sorted", False),
    ("ascending", "pack_padded_sequence(padded[[2, 0, 3, 1]], [1, 4, 5, 7], batch_first=True)",
     "PKL103 ascending-sort-for-packing", False),
    ("pack-sequence-unsorted", "pack_sequence(seqs)", "PKL104 unsorted-enforce-sorted", False),
    ("batch-size", "pack_padded_sequence(padded, [4, 7, 1, 5], enforce_sorted=False)",
     "PKL112 batch-first-mismatch", False),
    ("too-long", "pack_padded_sequence(padded[:, :5], [4, 7, 1, 5], batch_first=True, enforce_sorted=False)",
     "PKL112 batch-first-mismatch", False),
    ("zero-length", "pack_padded_sequence(padded, [4, 7, 0, 5], batch_first=True, enforce_sorted=False)",
     "non-positive-length", False),
    ("misaligned", "pack_padded_sequence(padded, [7, 4, 1, 5], batch_first=True, enforce_sorted=False)",
     "PKL102 sort-misaligned", True),
]  # fmt: skip


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "train.py"
    path.write_text(PRELUDE + textwrap.dedent(body) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case, call, label, strict", CASES, ids=[c[0] for c in CASES])
def test_each_violation_names_its_rule_and_the_calling_line(
    tmp_path: Path, case: str, call: str, label: str, strict: bool
) -> None:
    script = _script(tmp_path, call)
    result = run_script(str(script), [], strict=strict)
    assert result.exit_code == 1 and result.exception is None
    (violation,) = result.violations
    line = len(script.read_text(encoding="utf-8").splitlines())
    assert violation.render().startswith(f"{script}:{line}: {label}: ")


def test_misaligned_rows_pass_without_strict(tmp_path: Path) -> None:
    script = _script(tmp_path, "pack_padded_sequence(padded, [7, 4, 1, 5], batch_first=True, enforce_sorted=False)")
    assert run_script(str(script), []).exit_code == 0


def test_correct_program_runs_with_its_arguments(tmp_path: Path) -> None:
    body = """
        import sys
        lengths = torch.tensor([len(s) for s in seqs])
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        sorted_packed = pack_sequence(sorted(seqs, key=len, reverse=True))
        assert sys.argv[1:] == ["--epochs", "3"], sys.argv
        sys.exit(0)
    """
    result = run_script(str(_script(tmp_path, body)), ["--epochs", "3"], strict=True)
    assert (result.exit_code, result.violations, result.exception) == (0, (), None)


def test_a_violation_the_program_catches_still_fails_the_run(tmp_path: Path) -> None:
    body = """
        try:
            pack_padded_sequence(padded, [4, 7, 1, 5], batch_first=True)
        except RuntimeError:
            pass
    """
    result = run_script(str(_script(tmp_path, body)), [])
    assert result.exit_code == 1
    assert [v.code for v in result.violations] == ["PKL104"]


def test_cli_reports_without_a_traceback(tmp_path: Path) -> None:
    script = _script(tmp_path, "pack_padded_sequence(padded, [4, 7, 1, 5], batch_first=True)")
    result = run_packlint("run", str(script))
    assert result.returncode == 1
    assert f"{script}:{len(script.read_text().splitlines())}: PKL104 unsorted-enforce-sorted" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_strict_flag_and_script_arguments(tmp_path: Path) -> None:
    body = """
        import sys
        lengths = [7, 4, 1, 5] if sys.argv[1] == "swap" else [4, 7, 1, 5]
        pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    """
    script = _script(tmp_path, body)
    assert run_packlint("run", "--strict", str(script), "keep").returncode == 0
    swapped = run_packlint("run", "--strict", str(script), "swap")
    assert swapped.returncode == 1 and "PKL102 sort-misaligned" in swapped.stderr


def test_other_exceptions_print_their_traceback(tmp_path: Path) -> None:
    result = run_packlint("run", str(_script(tmp_path, "raise ValueError('boom')")))
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ValueError: boom" in result.stderr


def test_names_imported_before_install_are_wrapped_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch.nn.utils.rnn import pack_padded_sequence

    original = rnn_utils.pack_padded_sequence
    user_module = types.ModuleType("user_module")
    user_module.pack = pack_padded_sequence  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "user_module", user_module)
    with Sanitizer():
        assert rnn_utils.pack_padded_sequence is not original
        assert user_module.pack is not original  # type: ignore[attr-defined]
        with pytest.raises(PackingViolation, match="PKL103"):
            user_module.pack(torch.zeros(3, 2, 1), [1, 3], enforce_sorted=True)  # type: ignore[attr-defined]
    assert rnn_utils.pack_padded_sequence is original
    assert user_module.pack is original  # type: ignore[attr-defined]


def test_off_means_nothing_is_patched() -> None:
    sanitizer = Sanitizer()
    assert not sanitizer.installed
    assert rnn_utils.pack_padded_sequence.__module__ == "torch.nn.utils.rnn"
    assert rnn_utils.pack_sequence.__module__ == "torch.nn.utils.rnn"
    assert not hasattr(rnn_utils.pack_padded_sequence, "__wrapped__")


def test_pack_sequence_checks_once(tmp_path: Path) -> None:
    body = "pack_sequence([seqs[0], seqs[1], seqs[2]])"
    result = run_script(str(_script(tmp_path, body)), [])
    assert [v.function for v in result.violations] == ["pack_sequence"]


PYTEST_CASE = """
import torch
from torch.nn.utils.rnn import pack_padded_sequence


def test_unsorted():
    pack_padded_sequence(torch.zeros(3, 3, 1), [2, 3, 1], batch_first=True)
"""


def test_pytest_plugin_reports_with_code_and_location(tmp_path: Path) -> None:
    (tmp_path / "test_case.py").write_text(PYTEST_CASE, encoding="utf-8")
    # Load the plugin by module whatever the install's metadata says (a stale one may predate the entry point).
    plugin = ["-p", "no:packlint", "-p", "packlint.runtime.pytest_plugin"]
    command = [sys.executable, "-m", "pytest", "-q", *plugin, "--packlint-runtime"]
    result = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 1
    assert "test_case.py:7: PKL104 unsorted-enforce-sorted" in result.stdout
    assert "packlint runtime" in result.stdout


def test_pytest_plugin_is_registered_as_an_entry_point() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 and older
        import tomli as tomllib
    with open(ROOT / "pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)["project"]
    assert project["entry-points"]["pytest11"] == {"packlint": "packlint.runtime.pytest_plugin"}


def test_pytest_plugin_imports_no_torch_unless_asked() -> None:
    code = (
        "import sys, pytest\n"
        "import packlint.runtime.pytest_plugin\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


ATTENTION = """\
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

torch.manual_seed(0)
rnn, score = nn.GRU(3, 5, batch_first=True), nn.Linear(5, 1)
seqs = [torch.randn(n, 3) for n in (4, 7, 1)]
packed = pack_padded_sequence(pad_sequence(seqs, batch_first=True), [4, 7, 1], batch_first=True, enforce_sorted=False)
out, lens = pad_packed_sequence(rnn(packed)[0], batch_first=True)
scores = score(out).squeeze(-1)
mask = torch.arange(out.size(1))[None] < lens[:, None]
"""


@pytest.mark.parametrize(
    "last, leaks",
    [
        ("F.softmax(scores, dim=1)", True),
        ("nn.Softmax(dim=1)(score(out))", True),  # time at dim 1 of (B, T, 1); nn.Softmax calls F.softmax
        ("scores.softmax(-1)", True),
        ("torch.softmax(scores.t(), dim=0)", True),  # time-first scores
        ("F.softmax(scores.masked_fill(~mask, float('-inf')), dim=1)", False),
        ("torch.softmax(out, dim=-1)", False),  # over the features
        ("F.softmax(torch.randn(3, 7), dim=1)", False),  # a (B, T)-sized tensor that is not the padded scores
    ],
)
def test_strict_sees_a_softmax_over_padded_steps(tmp_path: Path, last: str, leaks: bool) -> None:
    script = tmp_path / "attend.py"
    script.write_text(ATTENTION + last + "\n", encoding="utf-8")
    result = run_script(str(script), [], strict=True)
    assert [v.code for v in result.violations] == (["PKL204"] if leaks else []), result.exception
    if leaks:
        line = len(script.read_text(encoding="utf-8").splitlines())
        assert result.violations[0].line == line and "past its length 1" in result.violations[0].message
    assert run_script(str(script), []).violations == ()  # opt-in: only with --strict


def test_strict_softmax_wrappers_are_restored() -> None:
    originals = (torch.Tensor.softmax, torch.softmax, torch.nn.functional.softmax, rnn_utils.pad_packed_sequence)
    with Sanitizer(strict=True):
        assert torch.Tensor.softmax is not originals[0] and torch.nn.functional.softmax is not originals[2]
    assert (
        torch.Tensor.softmax,
        torch.softmax,
        torch.nn.functional.softmax,
        rnn_utils.pad_packed_sequence,
    ) == originals
