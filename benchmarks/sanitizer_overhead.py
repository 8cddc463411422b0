"""The packing sanitizer's overhead on a training step: a 2-layer LSTM, B=64, T=100, hidden 256.

    python benchmarks/sanitizer_overhead.py [--repeats 9] [--steps N] [--threads N]

Runs on the CPU, and on CUDA when available. Steps with and without the sanitizer (and in strict
mode) are interleaved in rounds, each mode once per round in a shuffled order; the overhead is the
median over rounds of each round's ratio to `off`, so drift in machine load cancels out.
On a busy machine the step's own noise is larger than the sanitizer, so the pack call alone is timed
too (the same interleaving, many calls): its added cost divided by the step time bounds the overhead.
The goal is an overhead under 5%.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

from packlint.runtime.sanitizer import Sanitizer

BATCH, STEPS_MAX, HIDDEN, FEATURES, CLASSES = 64, 100, 256, 32, 10


class Classifier(nn.Module):
    """2-layer LSTM over a packed batch, last layer's final state, linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(FEATURES, HIDDEN, num_layers=2)
        self.head = nn.Linear(HIDDEN, CLASSES)

    def forward(self, padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(padded, lengths, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])  # type: ignore[no-any-return]


def make_step(device: torch.device) -> tuple[Callable[[], None], Callable[[], None]]:
    """One training step on a fixed unsorted batch (lengths 1..T, one of full length), and its pack call."""
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, STEPS_MAX + 1, (BATCH,), generator=gen)
    lengths[0], lengths[1] = STEPS_MAX, 1
    seqs = [torch.randn(int(n), FEATURES, generator=gen) for n in lengths]
    padded = pad_sequence(seqs).to(device)
    labels = torch.randint(0, CLASSES, (BATCH,), generator=gen).to(device)
    torch.manual_seed(0)
    model = Classifier().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(padded, lengths), labels).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    def pack() -> None:
        pack_padded_sequence(padded, lengths, enforce_sorted=False)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step, pack


def timed(step: Callable[[], None], steps: int, sanitizer: Sanitizer | None) -> float:
    """Seconds per step over `steps` steps, with the sanitizer installed if one is given."""
    if sanitizer is not None:
        sanitizer.install()
    try:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps
    finally:
        if sanitizer is not None:
            sanitizer.uninstall()


MODES = ["off", "on", "strict"]


def interleaved(work: Callable[[], None], repeats: int, count: int) -> dict[str, float]:
    """Median seconds per call of `work` in each mode, and (as `on/off`, `strict/off`) the median of the
    per-round ratios: each round runs every mode once, in a shuffled order, so drift cancels out."""
    sanitizers = {"off": None, "on": Sanitizer(), "strict": Sanitizer(strict=True)}
    for sanitizer in sanitizers.values():
        timed(work, 1, sanitizer)  # warm-up
    order = random.Random(0)
    samples: dict[str, list[float]] = {name: [] for name in MODES}
    for _ in range(repeats):
        for name in order.sample(MODES, len(MODES)):
            samples[name].append(timed(work, count, sanitizers[name]))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name in MODES[1:]:
        medians[f"{name}/off"] = statistics.median(a / b for a, b in zip(samples[name], samples["off"]))
    return medians


def measure(device: torch.device, repeats: int, steps: int | None) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per training step and per pack call, for each mode."""
    step, pack = make_step(device)
    if steps is None:  # enough steps per sample for about 0.2 s: one on a slow CPU, many on a GPU
        steps = max(1, round(0.2 / timed(step, 1, None)))
    calls = max(1, round(0.05 / timed(pack, 1, None)))
    return interleaved(step, repeats, steps), interleaved(pack, max(repeats, 25), calls)


def main() -> None:
    """Print a line per device and mode: median ms per step and overhead against `off`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="interleaved samples per mode")
    parser.add_argument("--steps", type=int, default=None, help="steps per sample (default: about 0.2 s)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; B={BATCH} T={STEPS_MAX} H={HIDDEN}")
    for device in devices:
        steps, packs = measure(device, args.repeats, args.steps)
        base = steps["off"]
        for name in MODES:
            measured = (steps.get(f"{name}/off", 1.0) - 1) * 100
            added = packs[name] - packs["off"]
            bound = added / base * 100
            print(
                f"{device.type:5} {name:7} step {steps[name] * 1e3:10.2f} ms ({measured:+6.2f}% paired)"
                f"  pack call {packs[name] * 1e6:9.1f} us ({added * 1e6:+8.1f} us = {bound:+.4f}% of a step)"
            )


if __name__ == "__main__":
    main()
