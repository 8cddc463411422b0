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
