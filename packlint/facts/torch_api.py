"""The torch API table: each modelled call's real signature and what it does to the values it gets.

A modelled call is one entry: its qualified name (or, for a tensor method, its name) maps to its
signature, written as in torch's documentation, and to an effect from `effects`. Arguments are bound
through the signature once, so `torch.sort(input=l, descending=True)` and `torch.sort(l, 0, True)`
are the same call to every effect.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packlint.facts.values import UNKNOWN, Value

if TYPE_CHECKING:
    from packlint.facts.calls import CallEvaluator


@dataclass(frozen=True)
class Signature:
    """Parameter names in order, their literal defaults, and which are keyword-only."""

    positional: tuple[str, ...]
    keyword_only: tuple[str, ...]
    defaults: tuple[tuple[str, object], ...]

    @staticmethod
    def parse(text: str) -> Signature:
        """`"input, lengths, batch_first=False, *, out=None"` as a Signature."""
        args = ast.parse(f"def f({text}): pass").body[0].args  # type: ignore[attr-defined]
        positional = [a.arg for a in (*args.posonlyargs, *args.args)]
        defaults: dict[str, object] = {}
        for arg, default in zip(reversed(positional), reversed(args.defaults)):
            defaults[arg] = ast.literal_eval(default)
        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults):
            if kw_default is not None:
                defaults[arg.arg] = ast.literal_eval(kw_default)
        return Signature(tuple(positional), tuple(a.arg for a in args.kwonlyargs), tuple(defaults.items()))

    def bind(self, call: ast.Call) -> tuple[dict[str, ast.expr], bool]:
        """Parameter name -> the expression passed for it, and whether `*args`/`**kwargs` hide some."""
        bound: dict[str, ast.expr] = {}
        opaque = False
        for name, arg in zip(self.positional, call.args):
            if isinstance(arg, ast.Starred):
                opaque = True
                break
            bound[name] = arg
        if any(isinstance(a, ast.Starred) for a in call.args):
            opaque = True
        for kw in call.keywords:
            if kw.arg is None:
                opaque = True
            elif kw.arg in self.positional or kw.arg in self.keyword_only:
                bound[kw.arg] = kw.value
        return bound, opaque


@dataclass(frozen=True)
class Arguments:
    """A call bound through its signature: the expression and the value of each parameter."""

    node: ast.Call
    signature: Signature
    nodes: dict[str, ast.expr]
    values: dict[str, Value]
    opaque: bool
    positional: tuple[Value, ...] = ()  # every positional argument, `*args` ones included
    receiver: Value = UNKNOWN  # the tensor a method is called on

    def value(self, name: str) -> Value:
        """What was passed as `name`; UNKNOWN when not passed."""
        return self.values.get(name, UNKNOWN)

    def passed(self, name: str) -> ast.expr | None:
        """The expression passed as `name`, if written."""
        return self.nodes.get(name)

    def literal(self, name: str) -> object:
        """The literal in effect for `name`: written (a constant, or a name known to hold one) or the
        default; None when it cannot be known."""
        if name in self.nodes:
            value = self.values.get(name, UNKNOWN)
            return value.literal if value.is_constant else None
        if self.opaque:
            return None
        return dict(self.signature.defaults).get(name)

    def flag(self, name: str) -> bool | None:
        """A boolean parameter in effect, or None when not known."""
        value = self.literal(name)
        return value if isinstance(value, bool) else None


Effect = Callable[["CallEvaluator", Arguments], "Value | None"]


@dataclass(frozen=True)
class Entry:
    """One modelled callable: how its arguments bind and what it does."""

    signature: Signature
    effect: Effect


def entry(signature: str, effect: Effect) -> Entry:
    """A table entry from a signature written as in torch's documentation."""
    return Entry(Signature.parse(signature), effect)


@functools.cache
def functions() -> dict[str, Entry]:
    """Qualified name -> entry, for torch functions and classes (built once, on first use)."""
    from packlint.facts import effects as e

    rnn = "torch.nn.utils.rnn."
    table = {
        rnn + "pack_padded_sequence": entry("input, lengths, batch_first=False, enforce_sorted=True", e.pack_padded),
        rnn + "pack_sequence": entry("sequences, enforce_sorted=True", e.pack_sequence),
        rnn + "pad_packed_sequence": entry(
            "sequence, batch_first=False, padding_value=0.0, total_length=None", e.pad_packed
        ),
        rnn + "pad_sequence": entry(
            "sequences, batch_first=False, padding_value=0.0, padding_side='right'", e.pad_sequence
        ),
        rnn + "PackedSequence": entry(
            "data, batch_sizes=None, sorted_indices=None, unsorted_indices=None", e.packed_sequence
        ),
        "torch.device": entry("type, index=None", e.device),
        "torch.sort": entry("input, dim=-1, descending=False, *, stable=False, out=None", e.sort_values),
        "torch.argsort": entry("input, dim=-1, descending=False, *, stable=False", e.sort_indices),
        "torch.randperm": entry("n, *, generator=None, dtype=None, device=None", e.randperm),
        "torch.index_select": entry("input, dim, index, *, out=None", e.index_select),
        "torch.empty_like": entry("input, *, dtype=None, device=None", e.blank_like),
        "torch.zeros_like": entry("input, *, dtype=None, device=None", e.blank_like),
        "torch.sum": entry("input, dim=None, keepdim=False, *, dtype=None", e.sum_mask),
        "torch.cat": entry("tensors, dim=0, *, out=None", e.concatenate),
        "torch.stack": entry("tensors, dim=0, *, out=None", e.concatenate),
        "torch.from_numpy": entry("ndarray", e.to_tensor),
        "torch.asarray": entry("obj, *, dtype=None, device=None, copy=None, requires_grad=False", e.to_tensor),
        "numpy.argsort": entry("a, axis=-1, kind=None, order=None", e.sort_indices),
        "numpy.sort": entry("a, axis=-1, kind=None, order=None", e.numpy_sort),
        "numpy.array": entry("object, dtype=None", e.to_numpy),
        "numpy.asarray": entry("a, dtype=None", e.to_numpy),
        "torch.nn.ModuleList": entry("modules=None", e.module_list),
        "torch.nn.Sequential": entry("*args", e.sequential),
    }
    for name in ("tensor", "as_tensor", "LongTensor", "IntTensor", "Tensor"):
        table[f"torch.{name}"] = entry("data, *, dtype=None, device=None, requires_grad=False", e.to_tensor)
    for name in ("LSTM", "GRU", "RNN"):
        rnn_entry = entry(
            "input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, "
            "bidirectional=False, *, proj_size=0, device=None, dtype=None",
            e.rnn_module,
        )
        for module in ("torch.nn", "torch.nn.modules.rnn", "torch.nn.modules"):
            table[f"{module}.{name}"] = rnn_entry
    return table


@functools.cache
def methods() -> dict[str, Entry]:
    """Tensor method name -> entry; an effect returns None where the receiver is not one it models."""
    from packlint.facts import effects as e

    return {
        "sort": entry("dim=-1, descending=False, *, stable=False, key=None, reverse=False", e.method_sort),
        "argsort": entry("dim=-1, descending=False, *, stable=False", e.method_argsort),
        "index_select": entry("dim, index", e.method_index_select),
        "scatter_": entry("dim, index, src=None, *, reduce=None", e.scatter),
        "scatter": entry("dim, index, src=None, *, reduce=None", e.scatter),
        "cuda": entry("device=None, non_blocking=False", e.to_accelerator),
        "cpu": entry("", e.to_cpu),
        "to": entry("device=None, dtype=None, non_blocking=False, copy=False", e.to_device),
        "tolist": entry("", e.to_list),
        "numpy": entry("*, force=False", e.method_numpy),
        "sum": entry("dim=None, keepdim=False, *, dtype=None", e.method_sum),
    }


def function_entry(qualname: str) -> Entry | None:
    """The entry for a torch function or class by qualified name."""
    return functions().get(qualname)


def method_entry(name: str) -> Entry | None:
    """The entry for a tensor method by name."""
    return methods().get(name)
