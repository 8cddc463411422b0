"""Safe fixes proven by execution: generated training loops and packing pipelines, before and after `--fix`.

CI runs a bounded number of programs (derandomised); PACKLINT_GENERATED_EXAMPLES=N runs N of each kind.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("torch")

from packlint.runtime import generated
from packlint.runtime.generated import PackingProgram, TrainingProgram

EXAMPLES = int(os.environ.get("PACKLINT_GENERATED_EXAMPLES", "25"))


def test_generated_programs_keep_the_fix_promise() -> None:
    tallies = generated.check_many(EXAMPLES)
    for kind, tally in tallies.items():
        assert tally.programs >= min(EXAMPLES, 10), kind
        message = "\n".join(generated.describe_failures(tally.failures))
        assert not tally.failures, f"{kind}: {tally.summary()}\n{message}"
    report = os.environ.get("PACKLINT_GENERATED_REPORT")
    if report:
        with open(report, "w", encoding="utf-8") as handle:
            handle.write("\n".join(f"{kind}: {tally.summary()}" for kind, tally in tallies.items()) + "\n")


def test_step_before_backward_is_fixed_to_match() -> None:
    verdict = generated.judge_training(TrainingProgram(order=("step", "forward", "backward")))
    assert not verdict.matched and verdict.fixed_source is not None
    assert verdict.matched_after and verdict.failure is None
    assert "optimizer.step()\n        optimizer.zero_grad()\n" in verdict.fixed_source


def test_correct_loop_matches_and_is_left_alone() -> None:
    verdict = generated.judge_training(TrainingProgram(order=("reset", "forward", "backward", "step"), amp=True))
    assert verdict.matched and verdict.fixed_source is None and verdict.failure is None


def test_a_fix_at_the_top_of_a_step_first_loop_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fix the issue reports (the reset at the top of the body) stops training: the judge must say so.
    program = TrainingProgram(order=("step", "forward", "backward"))

    def top_reset(source: str) -> tuple[str, int]:
        return source.replace("loader):\n", "loader):\n        optimizer.zero_grad()\n"), 0

    monkeypatch.setattr(generated, "fixed", top_reset)
    verdict = generated.judge_training(program)
    assert verdict.matched_after is False
    assert verdict.failure is not None and "reported clean" in verdict.failure


def test_a_crash_turned_into_a_silent_deviation_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # Packing is judged leniently (several independent bugs can sit in one pipeline), but never this.
    crashing = generated.render_packing(PackingProgram(enforce=None))  # unsorted lengths: raises
    monkeypatch.setattr(
        generated,
        "fixed",
        lambda s: (
            s.replace("seqs, batch_first=True)", "seqs[::-1], batch_first=True)").replace(
                "lengths, batch_first=True)", "lengths, batch_first=True, enforce_sorted=False)"
            ),
            0,
        ),
    )
    device = generated.torch.device("cpu")
    program = PackingProgram(enforce=None)

    def matches(source: str) -> bool:
        got = generated.run_packing(source, device)
        return not isinstance(got, str) and generated.packing_matches(program, got, device)

    def raises(source: str) -> bool:
        return isinstance(generated.run_packing(source, device), str)

    verdict = generated.judge(crashing, matches, raises, strict=False)
    assert raises(crashing) and verdict.matched_after is False
    assert verdict.failure == "a safe fix turned a crash into a silently wrong result reported clean"


def test_a_fix_that_changes_a_matching_program_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    program = PackingProgram(pad_batch_first=True, pack_batch_first=True, enforce=False)

    def swap_layout(source: str) -> tuple[str, int]:
        return source.replace("lengths, batch_first=True", "lengths, batch_first=False"), 0

    monkeypatch.setattr(generated, "fixed", swap_layout)
    verdict = generated.judge_packing(program)
    assert verdict.matched
    assert verdict.failure == "a safe fix broke a program that matched the reference"


def test_hostile_batch_has_as_many_sequences_as_steps() -> None:
    # B == T is what lets a transposed batch run silently: the generated check depends on it.
    assert any(len(lengths) == max(lengths) for lengths in generated.HOSTILE_LENGTHS)


def test_packing_reference_sees_missing_unsort_and_crash() -> None:
    unsorted = PackingProgram(lengths_tensor=True, sort="descending", enforce=None, unsort=False)
    assert not generated.judge_packing(unsorted).matched
    crash = PackingProgram(enforce=None)
    assert isinstance(generated.run_packing(generated.render_packing(crash), generated.torch.device("cpu")), str)
