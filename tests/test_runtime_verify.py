"""`packlint verify`: the fixture tree passes on the CPU, and the shim catches what it must catch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from packlint.runtime import verify  # noqa: E402
from packlint.runtime.devices import resolve  # noqa: E402
from packlint.runtime.table import render_text  # noqa: E402
from packlint.runtime.verify import VerifyRun, verify_paths  # noqa: E402
from tests.conftest import run_packlint  # noqa: E402
from tests.fixture_marks import FIXTURES  # noqa: E402

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def tree_run() -> VerifyRun:
    """The whole fixture tree, once, on the CPU in float32."""
    return verify_paths([str(FIXTURES)], resolve("cpu", "float32"))


def _verify(directory: Path) -> VerifyRun:
    return verify_paths([str(directory)], resolve("cpu", "float32"))


def _family(tmp_path: Path, code: str, files: dict[str, str]) -> Path:
    directory = tmp_path / code
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_every_executable_fixture_verifies_on_cpu(tree_run: VerifyRun) -> None:
    failures = [f"{r.fixture} ({r.role}): {r.problem}" for r in tree_run.reports if not r.ok]
    assert failures == [], render_text(tree_run)


def test_every_bad_fixture_raises_or_deviates_and_every_other_matches(tree_run: VerifyRun) -> None:
    for report in tree_run.reports:
        verdicts = {o.verdict for o in report.outcomes} - {"SKIP"}
        if report.role == "bad":
            assert verdicts <= {"RAISE", "DEVIATE"}, report
        else:
            assert verdicts <= {"MATCH"}, report


def test_packlints_fix_is_run_for_every_bad_fixture_with_a_golden(tree_run: VerifyRun) -> None:
    bad = {r.fixture for r in tree_run.reports if r.role == "bad"}
    fixed = {r.fixture for r in tree_run.reports if r.role == "fixed"}
    for name in bad:
        if Path(name).with_name(Path(name).stem + ".fixed.py").exists():
            assert name in fixed, name


HEADER = "# {what}\n# verify: encode(rnn, padded, lengths) -> last; batch_first=true\n"
GATHER = """import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def encode(rnn, padded, lengths):
    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    out, _ = pad_packed_sequence(rnn(packed)[0], batch_first=True)
    return out[torch.arange(out.size(0)), {index}]
"""


def test_a_correct_gather_matches(tmp_path: Path) -> None:
    code = HEADER.format(what="gather at lengths - 1") + GATHER.format(index="lengths - 1")
    run = _verify(_family(tmp_path, "PKL201", {"good_gather.py": code}))
    assert [r.verdict for r in run.reports] == ["MATCH"], render_text(run)
    assert run.ok


def test_a_wrong_gather_index_fails_match(tmp_path: Path) -> None:
    code = HEADER.format(what="off by one") + GATHER.format(index="(lengths - 2).clamp(min=0)")
    run = _verify(_family(tmp_path, "PKL201", {"good_off_by_one.py": code}))
    (report,) = run.reports
    assert report.verdict == "DEVIATE" and report.error is not None and report.error > 1e-3
    assert not run.ok and report.problem.startswith("DEVIATE")


def test_a_wrong_fix_fails_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = FIXTURES / "PKL201"
    bad = (source / "bad_classifier.py").read_text(encoding="utf-8")
    right = (source / "bad_classifier.fixed.py").read_text(encoding="utf-8")
    wrong = right.replace("device=out.device) - 1]", "device=out.device) - 2]")
    assert wrong != right
    directory = _family(tmp_path, "PKL201", {"bad_classifier.py": bad, "bad_classifier.fixed.py": wrong})
    monkeypatch.setattr(verify, "packlint_fix", lambda path, data: (wrong.encode(), ""))
    run = _verify(directory)
    fixed = next(r for r in run.reports if r.role == "fixed")
    assert fixed.verdict == "DEVIATE" and fixed.problem.startswith("DEVIATE"), render_text(run)
    assert not run.ok


def test_a_bad_fixture_with_correct_code_demonstrates_no_bug(tmp_path: Path) -> None:
    text = (FIXTURES / "PKL104" / "bad_collate.fixed.py").read_text(encoding="utf-8")
    run = _verify(_family(tmp_path, "PKL104", {"bad_collate.py": text}))
    bad = next(r for r in run.reports if r.role == "bad")
    assert bad.verdict == "MATCH"
    assert bad.problem.startswith("demonstrates no bug")
    assert not run.ok


def test_a_fix_that_differs_from_its_golden_fails(tmp_path: Path) -> None:
    source = FIXTURES / "PKL104"
    bad = (source / "bad_collate.py").read_text(encoding="utf-8")
    golden = (source / "bad_collate.fixed.py").read_text(encoding="utf-8").replace("labels", "targets")
    run = _verify(_family(tmp_path, "PKL104", {"bad_collate.py": bad, "bad_collate.fixed.py": golden}))
    fixed = next(r for r in run.reports if r.role == "fixed")
    assert fixed.verdict == "MATCH" and "differs from bad_collate.fixed.py" in fixed.problem


def test_a_header_that_does_not_fit_the_code_is_an_error_not_a_raise(tmp_path: Path) -> None:
    text = "# wrong parameter name\n# verify: collate(sequences=seqs) -> packed\ndef collate(seqs):\n    return seqs\n"
    run = _verify(_family(tmp_path, "PKL104", {"bad_wrong_name.py": text}))
    (report,) = run.reports
    assert report.verdict == "ERROR" and "contract error" in report.problem


def test_a_missing_unsort_deviates_by_order(tmp_path: Path) -> None:
    code = """# sorted for packing, returned in sorted order
# verify: encode(rnn, padded, lengths) -> repr; types=gru,rnn bidirectional=false
from torch.nn.utils.rnn import pack_padded_sequence


def encode(rnn, padded, lengths):
    lengths, perm = lengths.sort(descending=True)
    _, h_n = rnn(pack_padded_sequence(padded[:, perm], lengths))
    return h_n[-1]
"""
    run = _verify(_family(tmp_path, "PKL105", {"bad_no_unsort.py": code}))
    (report,) = run.reports
    assert report.verdict == "DEVIATE" and report.ok, render_text(run)


def test_training_loop_without_reset_deviates(tmp_path: Path) -> None:
    bad = (FIXTURES / "PKL301" / "bad_plain_loop.py").read_text(encoding="utf-8")
    if "# verify:" not in bad:
        pytest.skip("PKL301 fixtures carry no header yet")
    run = _verify(_family(tmp_path, "PKL301", {"bad_plain_loop.py": bad}))
    verdicts = {r.role: r.verdict for r in run.reports}
    assert verdicts == {"bad": "DEVIATE", "fixed": "MATCH"}, render_text(run)


def test_cli_json_output_and_exit_code() -> None:
    result = run_packlint("verify", "fixtures/PKL101", "--device", "cpu", "--output-format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True
    roles = {(r["fixture"].split("/")[-1], r["role"]) for r in data["reports"]}
    assert ("bad_tutorial.py", "bad") in roles and ("bad_tutorial.py", "fixed") in roles
    assert all(r["outcomes"] for r in data["reports"])


def test_cli_exit_code_one_when_a_verdict_is_wrong(tmp_path: Path) -> None:
    text = (FIXTURES / "PKL104" / "bad_collate.fixed.py").read_text(encoding="utf-8")
    _family(tmp_path, "PKL104", {"bad_collate.py": text})
    result = run_packlint("verify", str(tmp_path), "--device", "cpu")
    assert result.returncode == 1
    assert "demonstrates no bug" in result.stdout


def test_cli_cuda_without_cuda_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    result = run_packlint("verify", "fixtures/PKL101", "--device", "cuda")
    assert result.returncode == 2
    assert "CUDA is not available" in result.stderr and "Traceback" not in result.stderr


@CUDA
def test_fixture_tree_verifies_on_cuda_with_cudnn() -> None:
    run = verify_paths([str(FIXTURES)], resolve("cuda", "float32"))
    assert run.ok, render_text(run)
    if torch.backends.cudnn.is_available():
        assert "cuDNN" in run.device and "NOT used" not in run.device


def test_float64_on_a_family() -> None:
    run = verify_paths([str(FIXTURES / "PKL104")], resolve("cpu", "float64"))
    assert run.ok, render_text(run)
    assert all(r.tolerance == 1e-10 for r in run.reports)


REBUILT = """# rebuilt without its sort indices: rows come back in sorted order
# verify: collate(seqs) -> packed{options}
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_sequence


def collate(seqs):
    lengths = [len(s) for s in seqs]
    padded = pad_sequence(seqs, batch_first=True)
    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    return {result}
"""


def test_packed_rows_are_compared_in_order_not_as_a_set(tmp_path: Path) -> None:
    rebuilt = REBUILT.format(options="", result="PackedSequence(packed.data, packed.batch_sizes)")
    kept = REBUILT.format(options="", result="packed")
    run = _verify(_family(tmp_path, "PKL104", {"good_rebuilt.py": rebuilt, "good_kept.py": kept}))
    verdicts = {Path(r.fixture).name: r for r in run.reports}
    assert verdicts["good_kept.py"].verdict == "MATCH"
    assert verdicts["good_rebuilt.py"].verdict == "DEVIATE"
    assert "rows hold sequences" in verdicts["good_rebuilt.py"].detail


def test_packed_order_any_accepts_a_collate_that_sorts_for_its_caller(tmp_path: Path) -> None:
    rebuilt = REBUILT.format(options="; packed_order=any", result="PackedSequence(packed.data, packed.batch_sizes)")
    run = _verify(_family(tmp_path, "PKL104", {"good_sorted_for_caller.py": rebuilt}))
    (report,) = run.reports
    assert report.verdict == "MATCH"


def test_a_good_file_that_packlint_fixes_fails(tmp_path: Path) -> None:
    # A correct-looking file that PKL104 would change: verify must say a good file got a fix.
    text = (FIXTURES / "PKL104" / "bad_collate.py").read_text(encoding="utf-8")
    run = _verify(_family(tmp_path, "PKL104", {"good_not_really.py": text}))
    fixes = [r for r in run.reports if r.role == "good-fix"]
    assert len(fixes) == 1 and "changes a good file" in fixes[0].problem
    assert not run.ok


EVALUATION = """# {what}
# verify: fit(loader, loss_fn, device) -> (trained, scores)
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 5)
        self.layer = {layer}
        self.fc = nn.Linear(5, 4)

    def forward(self, packed):
        _, h_n = self.gru(packed)
        return self.fc(self.layer(h_n[-1]))


def fit(loader, loss_fn, device):
    model = Classifier().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()
    {switch}
    with torch.no_grad():
        scores = [model(inputs) for inputs, _ in loader]
    return model, scores
"""


@pytest.mark.parametrize(
    "layer, switch, verdict",
    [
        ("nn.Dropout(0.5)", "model.eval()", "MATCH"),
        ("nn.Dropout(0.5)", "pass", "DEVIATE"),
        ("nn.BatchNorm1d(5)", "pass", "DEVIATE"),
        ("nn.BatchNorm1d(5)", "model.train(False)", "MATCH"),
        ("nn.Identity()", "pass", "MATCH"),
    ],
)
def test_evaluation_scores_are_compared_with_eval_mode(tmp_path: Path, layer: str, switch: str, verdict: str) -> None:
    code = EVALUATION.format(what=f"{layer} then {switch}", layer=layer, switch=switch)
    run = _verify(_family(tmp_path, "PKL305", {"good_case.py": code}))
    reports = [r for r in run.reports if r.role == "good"]
    assert [r.verdict for r in reports] == [verdict], render_text(run)


def test_a_directory_walk_leaves_out_multi_file_projects_but_not_a_rule_directory(tmp_path: Path) -> None:
    from packlint.runtime.verify import fixture_files

    for name in ("PKL301/good_a.py", "PKL301/bad_b.py", "PKL301/bad_b.fixed.py", "project/p/train.py", "project.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    found = {p.relative_to(tmp_path).as_posix() for p in fixture_files([str(tmp_path)])}
    assert found == {"PKL301/good_a.py", "PKL301/bad_b.py", "project.py"}
    # The shipped tree: its project fixtures exist, and the walk of fixtures/ reaches none of them.
    assert any((FIXTURES / "project").rglob("*.py"))
    assert not [p for p in fixture_files([str(FIXTURES)]) if "project" in p.relative_to(FIXTURES).parts[:-1]]
    # Named on the command line, a project's file is still verified (a user asked for it).
    (named,) = fixture_files([str(tmp_path / "project/p/train.py")])
    assert named.name == "train.py"
