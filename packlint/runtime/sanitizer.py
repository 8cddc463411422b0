"""The packing sanitizer: torch's pack functions wrapped to check, at each call, what the rules stand for.

Nothing is patched until `Sanitizer.install()` (or `with Sanitizer():`): off means zero overhead.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

import torch
import torch.nn.utils.rnn as rnn_utils
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

WRAPPED = ("pack_padded_sequence", "pack_sequence")
# Strict mode also remembers the padding of the last few `pad_packed_sequence` results, to see a
# softmax over their padded steps (PKL204).
RECENT_PADDINGS = 4
_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
_THIS_FILE = os.path.abspath(__file__)


@dataclass(frozen=True)
class Violation:
    """One broken invariant at one call: the rule it stands for and the caller's file and line."""

    code: str  # the static rule this is the runtime face of; "" where no rule has it (empty sequences)
    name: str
    message: str
    filename: str
    line: int
    function: str  # the wrapped torch function

    def render(self) -> str:
        """`train.py:42: PKL111 lengths-on-accelerator: ...`."""
        label = f"{self.code} {self.name}" if self.code else self.name
        return f"{self.filename}:{self.line}: {label}: {self.message} (in `{self.function}`)"


class PackingViolation(RuntimeError):
    """Raised at a pack call that breaks an invariant (a RuntimeError, as torch's own errors are)."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.render())
        self.violation = violation


def _caller() -> tuple[str, int]:
    """The first frame outside torch and this module: the user's pack call."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_TORCH_DIR) and filename != _THIS_FILE:
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return "<unknown>", 0


def _descending(values: Sequence[int]) -> bool:
    return all(a >= b for a, b in zip(values, values[1:]))


def _sort_problem(values: Sequence[int]) -> tuple[str, str, str] | None:
    if _descending(values):
        return None
    if all(a <= b for a, b in zip(values, values[1:])):
        return (
            "PKL103",
            "ascending-sort-for-packing",
            f"lengths {_short(values)} are sorted ascending but `enforce_sorted=True` needs them descending; "
            "sort with `descending=True`",
        )
    return (
        "PKL104",
        "unsorted-enforce-sorted",
        f"lengths {_short(values)} are not sorted descending but `enforce_sorted=True`; pass `enforce_sorted=False`",
    )


def _short(values: Sequence[int]) -> str:
    shown = list(values[:8])
    return str(shown)[:-1] + ", ...]" if len(values) > 8 else str(shown)


class Sanitizer:
    """Wraps torch.nn.utils.rnn's pack functions while installed; records every violation it raises."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.violations: list[Violation] = []
        self._patched: list[tuple[object, str, object]] = []
        self._rnn_hook: Any = None
        self._inside = threading.local()
        self._paddings: list[tuple[int, int, tuple[int, ...]]] = []  # (B, T, lengths) of recent unpacks

    def __enter__(self) -> Sanitizer:
        self.install()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.uninstall()

    @property
    def installed(self) -> bool:
        """Whether torch's functions are currently wrapped by this sanitizer."""
        return bool(self._patched) or self._rnn_hook is not None

    def install(self) -> None:
        """Wrap the pack functions in torch.nn.utils.rnn and wherever a module already imported them."""
        if self.installed:
            return
        originals: dict[str, Callable[..., Any]] = {name: getattr(rnn_utils, name) for name in WRAPPED}
        wrappers: dict[int, Callable[..., Any]] = {id(fn): self._wrap(name, fn) for name, fn in originals.items()}
        if self.strict:
            extra: dict[str, Callable[..., Any]] = {
                "pad_packed_sequence": rnn_utils.pad_packed_sequence,
                "softmax": torch.nn.functional.softmax,
            }
            originals.update(extra)
            wrappers[id(extra["pad_packed_sequence"])] = self._wrap_unpack(extra["pad_packed_sequence"])
            wrappers[id(extra["softmax"])] = self._wrap_softmax(extra["softmax"])
            wrappers[id(torch.softmax)] = self._wrap_softmax(torch.softmax)
            originals["torch.softmax"] = torch.softmax
            tensor_softmax = torch.Tensor.softmax
            torch.Tensor.softmax = self._wrap_softmax(tensor_softmax)  # type: ignore[method-assign]
            self._patched.append((torch.Tensor, "softmax", tensor_softmax))
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict) or module is sys.modules[__name__]:
                continue
            for attr, value in list(namespace.items()):
                wrapper = wrappers.get(id(value))
                if wrapper is None or not any(value is fn for fn in originals.values()):
                    continue
                try:
                    setattr(module, attr, wrapper)
                except (AttributeError, TypeError):  # a module that refuses assignment keeps the original
                    continue
                self._patched.append((module, attr, value))
        # Every module's forward passes through this hook; it looks only at RNNs.
        self._rnn_hook = torch.nn.modules.module.register_module_forward_pre_hook(self._check_rnn_input)

    def uninstall(self) -> None:
        """Put the original functions back where they were."""
        for module, attr, original in reversed(self._patched):
            setattr(module, attr, original)
        self._patched.clear()
        if self._rnn_hook is not None:
            self._rnn_hook.remove()
            self._rnn_hook = None

    def _check_rnn_input(self, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        """PKL113/PKL114 at run time: what reaches an RNN must be floating point and carry features."""
        __tracebackhide__ = True
        if not isinstance(module, torch.nn.RNNBase) or not args:
            return
        x = args[0]
        packed = isinstance(x, PackedSequence)
        data = x.data if packed else x
        if not isinstance(data, Tensor):
            return
        name = type(module).__name__
        if not data.is_floating_point():
            what = "a PackedSequence of" if packed else "a tensor of"
            self._fail(
                "PKL113",
                "integer-rnn-input",
                f"{name} got {what} {data.dtype}: it needs floating-point input (an embedding for ids)",
                name,
            )
        if packed and data.dim() == 1:
            self._fail(
                "PKL114",
                "missing-feature-dimension",
                f"{name} got a PackedSequence of 1-D data (shape {tuple(data.shape)}): the padded batch had no "
                "feature dimension (`unsqueeze(-1)` before packing)",
                name,
            )

    def _wrap(self, name: str, original: Callable[..., PackedSequence]) -> Callable[..., PackedSequence]:
        check = self._check_padded if name == "pack_padded_sequence" else self._check_sequences

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> PackedSequence:
            __tracebackhide__ = True  # pytest shows the user's call, not this wrapper
            if getattr(self._inside, "active", False):  # pack_sequence calls pack_padded_sequence
                return original(*args, **kwargs)
            self._inside.active = True
            try:
                check(*args, **kwargs)
                return original(*args, **kwargs)
            finally:
                self._inside.active = False

        return wrapper

    def _wrap_unpack(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            padded, lengths = result
            if isinstance(padded, Tensor) and padded.dim() >= 2 and isinstance(lengths, Tensor):
                batch_first = bool(kwargs.get("batch_first", args[1] if len(args) > 1 else False))
                batch, steps = (padded.size(0), padded.size(1)) if batch_first else (padded.size(1), padded.size(0))
                record = (batch, steps, tuple(int(v) for v in lengths.tolist()))
                self._paddings = [record, *(p for p in self._paddings if p != record)][:RECENT_PADDINGS]
            return result

        return wrapper

    def _wrap_softmax(self, original: Callable[..., Tensor]) -> Callable[..., Tensor]:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Tensor:
            __tracebackhide__ = True
            if getattr(self._inside, "softmax", False):  # F.softmax calls Tensor.softmax
                return original(*args, **kwargs)
            self._inside.softmax = True
            try:
                result = original(*args, **kwargs)
            finally:
                self._inside.softmax = False
            dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
            if self._paddings and isinstance(args[0] if args else None, Tensor) and isinstance(dim, int):
                self._check_softmax(args[0], result, dim)
            return result

        return wrapper

    def _check_softmax(self, scores: Tensor, weights: Tensor, dim: int) -> None:
        """PKL204 at run time: weight on the padded steps of a recent `pad_packed_sequence` result.

        Only scores that carry padding's signature are judged: along `dim` the size is that result's
        padded length T, another axis is its batch, and past each shorter sequence's length the
        scores are one value (what per-step layers make of zero padding), not a coincidence of sizes."""
        __tracebackhide__ = True
        if scores.dim() < 2 or not scores.is_floating_point():
            return
        dim = dim % scores.dim()
        for batch, steps, lengths in self._paddings:
            if scores.size(dim) != steps or len(lengths) != batch or min(lengths) >= steps:
                continue
            axes = [a for a in range(scores.dim()) if a != dim and scores.size(a) == batch]
            if not axes:
                continue
            rows_scores = scores.detach().movedim((axes[0], dim), (0, 1)).reshape(batch, steps, -1)
            rows_weights = weights.detach().movedim((axes[0], dim), (0, 1)).reshape(batch, steps, -1)
            leaked = []
            for b, n in enumerate(lengths):
                if n >= steps:
                    continue
                tail = rows_scores[b, n:]
                if not bool((tail == tail[:1]).all()):
                    break  # not padding's signature: the sizes only coincide
                share = float(rows_weights[b, n:].sum(dim=0).max())
                if share > 1e-6:
                    leaked.append((b, share))
            else:
                if leaked:
                    b, share = max(leaked, key=lambda item: item[1])
                    self._fail(
                        "PKL204",
                        "attention-over-padding",
                        f"a softmax over dim {dim} (size {steps}) of a {tuple(scores.shape)} tensor gives "
                        f"{share:.0%} of row {b}'s weight to the steps past its length {lengths[b]}: mask the "
                        "padding (`masked_fill(~mask, float('-inf'))`) before the softmax",
                        "softmax",
                    )

    def _fail(self, code: str, name: str, message: str, function: str) -> None:
        __tracebackhide__ = True
        filename, line = _caller()
        violation = Violation(code, name, message, filename, line, function)
        self.violations.append(violation)
        raise PackingViolation(violation)

    def _check_padded(
        self, input: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False, enforce_sorted: bool = True
    ) -> None:
        fn = "pack_padded_sequence"
        if isinstance(lengths, Tensor):
            if lengths.device.type != "cpu":
                self._fail(
                    "PKL111",
                    "lengths-on-accelerator",
                    f"`lengths` is on {lengths.device}; packing needs a 1-D CPU int64 tensor: pass `lengths.cpu()`",
                    fn,
                )
            if lengths.dim() != 1:
                self._fail(
                    "PKL111",
                    "lengths-on-accelerator",
                    f"`lengths` has shape {tuple(lengths.shape)}; packing needs a 1-D CPU int64 tensor",
                    fn,
                )
            if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
                self._fail(
                    "PKL111",
                    "lengths-on-accelerator",
                    f"`lengths` has dtype {lengths.dtype}; packing needs a 1-D CPU int64 tensor",
                    fn,
                )
            values = [int(v) for v in lengths.tolist()]
        else:
            values = [int(v) for v in lengths]
        batch_dim, time_dim = (0, 1) if batch_first else (1, 0)
        if input.dim() < 2:
            return  # torch reports this itself
        if len(values) != input.size(batch_dim):
            self._fail(
                "PKL112",
                "batch-first-mismatch",
                f"{len(values)} lengths for a batch of {input.size(batch_dim)} (dim {batch_dim} of a "
                f"{tuple(input.shape)} input with batch_first={batch_first}): is `batch_first` right?",
                fn,
            )
        if values and min(values) <= 0:
            self._fail(
                "",
                "non-positive-length",
                f"lengths[{values.index(min(values))}] is {min(values)}: every sequence needs a step",
                fn,
            )
        if values and max(values) > input.size(time_dim):
            self._fail(
                "PKL112",
                "batch-first-mismatch",
                f"length {max(values)} exceeds the {input.size(time_dim)} time steps (dim {time_dim} of a "
                f"{tuple(input.shape)} input with batch_first={batch_first}): is `batch_first` right?",
                fn,
            )
        if enforce_sorted:
            problem = _sort_problem(values)
            if problem is not None:
                self._fail(*problem, fn)
        if self.strict:
            self._check_padding(input, values, batch_first, fn)

    def _check_padding(self, input: Tensor, values: list[int], batch_first: bool, fn: str) -> None:
        """Strict mode: past each row's length there must be only padding, one value for the whole batch."""
        rows = input if batch_first else input.transpose(0, 1)
        steps = rows.size(1)
        lengths = torch.tensor(values, device=rows.device)
        past = torch.arange(steps, device=rows.device)[None, :] >= lengths[:, None]
        if not bool(past.any()):
            return
        shortest = min(range(len(values)), key=lambda i: values[i])
        pad = rows[shortest, steps - 1]
        differs = (rows != pad).reshape(rows.size(0), steps, -1).any(dim=-1) & past
        bad = differs.any(dim=1).nonzero().flatten().tolist()
        if bad:
            self._fail(
                "PKL102",
                "sort-misaligned",
                f"rows {_short(bad)} hold non-padding values past their length: each row was packed with "
                "another row's length (batch and lengths reordered differently?)",
                fn,
            )

    def _check_sequences(self, sequences: Sequence[Tensor], enforce_sorted: bool = True) -> None:
        fn = "pack_sequence"
        values = [len(s) for s in sequences]
        if values and min(values) <= 0:
            self._fail(
                "",
                "non-positive-length",
                f"sequences[{values.index(min(values))}] is empty: every sequence needs a step",
                fn,
            )
        if enforce_sorted:
            problem = _sort_problem(values)
            if problem is not None:
                self._fail(*problem, fn)
