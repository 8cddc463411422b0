"""PKL303's symptom, executed: the bad fixture's running loss keeps the autograd graph, its fix does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixture_marks import FIXTURES


def _train(path: Path) -> object:
    torch = pytest.importorskip("torch")
    namespace: dict[str, object] = {}
    exec(compile(path.read_bytes(), str(path), "exec"), namespace)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [(torch.randn(4, 3), torch.randint(0, 2, (4,))) for _ in range(3)]
    return namespace["train"](model, optimizer, loader, torch.nn.functional.cross_entropy)  # type: ignore[operator]


def test_bad_running_loss_keeps_every_steps_graph() -> None:
    running = _train(FIXTURES / "PKL303" / "bad_running_loss.py")
    assert getattr(running, "grad_fn", None) is not None


def test_fixed_running_loss_holds_the_same_value_without_graph() -> None:
    bad = _train(FIXTURES / "PKL303" / "bad_running_loss.py")
    fixed = _train(FIXTURES / "PKL303" / "bad_running_loss.fixed.py")
    assert getattr(fixed, "grad_fn", None) is None and not fixed.requires_grad  # type: ignore[attr-defined]
    assert float(fixed) == pytest.approx(float(bad))  # type: ignore[arg-type]


def test_eval_loop_without_no_grad_records_a_graph_and_its_fix_does_not() -> None:
    torch = pytest.importorskip("torch")

    class Probe(torch.nn.Module):  # type: ignore[misc,name-defined]
        """A model that notes whether autograd was on for each forward."""

        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)
            self.grad_on: list[bool] = []

        def forward(self, x: object) -> object:
            out = self.linear(x)
            self.grad_on.append(out.requires_grad)
            return out

    def evaluate(path: Path) -> tuple[list[bool], object]:
        namespace: dict[str, object] = {}
        exec(compile(path.read_bytes(), str(path), "exec"), namespace)
        torch.manual_seed(0)
        model = Probe()
        loader = [(torch.randn(5, 3), None) for _ in range(2)]
        return model.grad_on, namespace["evaluate"](model, loader)  # type: ignore[operator]

    bad_flags, bad = evaluate(FIXTURES / "PKL304" / "bad_evaluate_collects.py")
    fixed_flags, fixed = evaluate(FIXTURES / "PKL304" / "bad_evaluate_collects.fixed.py")
    assert bad_flags == [True, True]  # every batch recorded a graph
    assert fixed_flags == [False, False]
    assert torch.equal(bad, fixed)  # type: ignore[arg-type]
