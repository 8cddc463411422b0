"""What the analysis saw happen, in statement order: the facts that rules query."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from packlint.facts.perms import Perm
from packlint.facts.syntax import index_pattern
from packlint.facts.values import Value

__all__ = ["Exit", "PackCall", "Reorder", "RnnCall", "SortSite", "SubscriptRead", "UnpackCall", "index_pattern"]


@dataclass(frozen=True)
class PackCall:
    """`pack_padded_sequence(x, lengths, ...)` or `pack_sequence(seqs, ...)`."""

    node: ast.Call
    function: str
    input: Value
    lengths: Value
    lengths_node: ast.expr | None
    batch_first: bool | None  # in effect (False when not written); None when not a literal
    batch_first_node: ast.expr | None
    enforce_sorted: bool | None  # in effect (True when not written); None when not a literal
    enforce_sorted_node: ast.expr | None
    opaque: bool  # `*args` or `**kwargs`: we cannot see every argument
    index: int  # position in FileFacts.pack_calls, carried by the PACKED value


@dataclass(frozen=True)
class UnpackCall:
    """`pad_packed_sequence(packed, ...)`."""

    node: ast.Call
    packed: Value
    batch_first: bool | None
    batch_first_node: ast.expr | None
    opaque: bool


@dataclass(frozen=True)
class RnnCall:
    """`self.lstm(x)` where `self.lstm` is an `nn.LSTM`/`nn.GRU`/`nn.RNN` we saw built."""

    node: ast.Call
    module: Value
    input: Value
    padded: bool  # ran over padding: unpacked input that is a padded batch (or lengths in scope)


@dataclass(frozen=True)
class SubscriptRead:
    """`base[...]` where base is lengths or an RNN's output or state."""

    node: ast.Subscript
    base: Value
    index: Value
    lengths_name: str | None  # a lengths name in scope for a gather fix
    lengths_container: str | None
    torch_name: str | None  # the local name of `torch`, if one is bound
    indices: tuple[Value, ...] = ()  # every element of the index, in order (`index` is the first)


@dataclass(frozen=True)
class Reorder:
    """`x[perm]`, `x[:, perm]`, `x.index_select(0, perm)`: a value put in another order."""

    node: ast.expr
    base: Value
    perm: Perm  # the permutation applied


@dataclass(frozen=True)
class Exit:
    """A value leaving the function (`return`) or reaching a loss."""

    node: ast.AST
    kind: str  # "return" or "loss"
    values: tuple[Value, ...]


@dataclass(frozen=True)
class SortSite:
    """A sort: `lengths.sort(descending=True)`, `torch.sort(l)`, `sorted(seqs, key=len)`."""

    node: ast.Call
    statement: ast.stmt
    flag: str  # "descending" or "reverse": the keyword that sets the direction
    flag_node: ast.expr | None  # that keyword's value, when written
    descending: bool
    bindings: tuple[int, ...]  # bindings the sort statement made
