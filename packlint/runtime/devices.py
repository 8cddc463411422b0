"""Where verification runs: the device, the dtype, their tolerance, and whether cuDNN is used."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_sequence

DTYPES = {"float32": torch.float32, "float64": torch.float64}

# Largest max-abs error that still MATCHes. On CPU, batched and per-sequence runs differ only by
# summation order (~1e-7 in float32). cuDNN's packed kernels are not bit-identical to its
# per-sequence runs, so CUDA gets more room; TF32 is switched off while verifying (see `precise`).
TOLERANCES = {
    ("cpu", "float32"): 1e-5,
    ("cpu", "float64"): 1e-10,
    ("cuda", "float32"): 1e-4,
    ("cuda", "float64"): 1e-9,
}


class DeviceError(Exception):
    """The requested device cannot be used here."""


@dataclass(frozen=True)
class Env:
    """The device and dtype of one verification run."""

    device: torch.device
    dtype: torch.dtype
    dtype_name: str

    @property
    def kind(self) -> str:
        """`cpu` or `cuda`."""
        return self.device.type

    @property
    def tolerance(self) -> float:
        """The largest max-abs error that counts as a MATCH here."""
        return TOLERANCES[(self.kind, self.dtype_name)]


def resolve(device: str, dtype: str) -> Env:
    """`auto` picks CUDA when it is available; `cuda` without CUDA is a DeviceError."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: CUDA is not available in this torch build or on this machine")
    return Env(torch.device(device), DTYPES[dtype], dtype)


def describe(env: Env) -> str:
    """One line on the device: torch version, GPU name, and whether cuDNN runs the packed RNN."""
    head = f"device {env.kind} (torch {torch.__version__}), dtype {env.dtype_name}, tolerance {env.tolerance:g}"
    if env.kind != "cuda":
        return head
    name = torch.cuda.get_device_name(env.device)
    if not torch.backends.cudnn.is_available():  # type: ignore[no-untyped-call]
        return f"{head}; {name}; cuDNN: not available (native CUDA RNN kernels)"
    used = "used" if cudnn_runs_packed_rnn(env) else "NOT used"
    version = torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
    enabled = "enabled" if torch.backends.cudnn.enabled else "disabled"
    return f"{head}; {name}; cuDNN {version} available, {enabled}, {used} for packed RNNs; TF32 off"


def cudnn_runs_packed_rnn(env: Env) -> bool:
    """Whether a packed LSTM forward on this device dispatches to cuDNN (seen in the profiler)."""
    from torch.profiler import ProfilerActivity, profile

    lstm = nn.LSTM(3, 4).to(env.device, env.dtype)
    seqs = [torch.ones(n, 3, device=env.device, dtype=env.dtype) for n in (3, 1, 2)]
    with precise(), torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        lstm(pack_sequence(seqs, enforce_sorted=False))
    return any("cudnn" in event.key for event in prof.key_averages())


@contextmanager
def one_thread() -> Iterator[None]:
    """Run on one CPU thread: fixture tensors are tiny, and more threads only contend (5-7x slower)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@contextmanager
def precise() -> Iterator[None]:
    """Switch TF32 off while verifying: tolerances measure packing, not TF32 rounding."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
