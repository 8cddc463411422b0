"""The `# verify:` header: how the shim calls a fixture and what its result must equal.

docs/verify.md is the reference for this contract. This module only reads headers and lists the
configurations a header asks for; it imports no torch, so the test suite can read every fixture.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

# Rules whose mistake has an observable runtime effect: every fixture in their directories is executable
# (or listed, with its reason, in tests/test_runtime_contract.py).
EXECUTABLE_RULES = frozenset(
    {"PKL101", "PKL102", "PKL103", "PKL104", "PKL105", "PKL111", "PKL112", "PKL201", "PKL202", "PKL203"}
    | {"PKL301", "PKL302"}
    | {"PKL010", "PKL108", "PKL113", "PKL114", "PKL303"}
    | {"PKL206", "PKL305"}
    | {"PKL204", "PKL205"}
)

MODULE = "<module>"
IGNORED = "_"

# What the shim passes for a call parameter, by kind; `rnn`, `lstm` and `gru` are the RNN under
# test and say which RNN types it defaults to.
RNN_KINDS: dict[str, tuple[str, ...]] = {"rnn": ("LSTM", "GRU", "RNN"), "lstm": ("LSTM",), "gru": ("GRU",)}
DATA_KINDS = frozenset(
    {"seqs", "padded", "lengths", "length_list", "tokens", "mask", "pairs", "records", "labels", "device"}
    | {"windows", "token_windows", "h_0", "head"}
)
# Kinds that need a batch of full-length sequences (no padding at all).
WINDOW_KINDS = frozenset({"windows", "token_windows"})
TRAINING_KINDS = frozenset({"model", "optimizer", "loader", "loss_fn", "epochs", "accumulate"})
INPUT_KINDS = frozenset({*RNN_KINDS, *DATA_KINDS, *TRAINING_KINDS, "batch_first"})

# Constructor parameters of a class entry: the name in the header, and the setting it receives.
CONSTRUCTOR_NAMES: dict[str, str] = {
    "input_size": "input_size",
    "input_dim": "input_size",
    "dim": "input_size",
    "embedding_dim": "input_size",
    "embed_dim": "input_size",
    "hidden_size": "hidden_size",
    "hidden_dim": "hidden_size",
    "hidden": "hidden_size",
    "vocab": "vocab_size",
    "vocab_size": "vocab_size",
    "num_embeddings": "vocab_size",
    "num_layers": "num_layers",
    "layers": "num_layers",
    "bidirectional": "bidirectional",
    "batch_first": "batch_first",
    "num_classes": "num_classes",
    "classes": "num_classes",
}

# What a returned value must equal, by kind (docs/verify.md, "Result kinds").
RESULT_KINDS = frozenset(
    {"packed", "packed_out", "outputs", "last", "h_n", "repr", "labels", "lengths", "perm", "params", "loss"}
    | {"trained", "scores"}
    | {"alone"}
)
# `-> (trained, scores)`: a fixture that builds, trains and evaluates its own model gets only these.
EVALUATION_ARGUMENTS = frozenset({"loader", "loss_fn", "epochs", "device"})
# `head(kind)`: the kind passed through the linear head (a class entry's one nn.Linear, or `head`).
HEAD_INPUTS = frozenset({"outputs", "last", "repr"})

# A result pattern: a kind, `_`, or a tuple of patterns matching a returned tuple.
Result = Union[str, tuple["Result", ...]]

_BOOLS = {"false": False, "true": True}
_OPTION_VALUES: dict[str, dict[str, object]] = {
    "types": {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"},
    "layers": {"1": 1, "2": 2},
    "bidirectional": dict(_BOOLS),
    "batch_first": dict(_BOOLS),
    "sorted": dict(_BOOLS),
    "devices": {"cpu": "cpu", "cuda": "cuda"},
    "amp": dict(_BOOLS),
    "packed_order": {"batch": "batch", "any": "any"},
}


class ContractError(ValueError):
    """A `# verify:` header that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class Binding:
    """A parameter name and the kind of value bound to it: `batch=seqs` (or `seqs`, name and kind alike)."""

    name: str
    kind: str


@dataclass(frozen=True)
class Entry:
    """What the shim calls: `collate(...)`, `Encoder(dim).forward(...)` or `<module>(...)`."""

    name: str  # the function or class, or MODULE for module-level code
    method: str | None  # the method called on an instance of a class entry
    constructor: tuple[Binding, ...]
    arguments: tuple[Binding, ...]

    @property
    def is_module(self) -> bool:
        """Module-level code: run the file, read the named globals."""
        return self.name == MODULE

    @property
    def is_class(self) -> bool:
        """An nn.Module class: construct it, call its method."""
        return self.method is not None

    def kinds(self) -> frozenset[str]:
        """The kinds of every argument."""
        return frozenset(b.kind for b in self.arguments)

    def setting(self, name: str) -> bool:
        """Whether the constructor takes this setting (`num_layers`, `bidirectional`, ...)."""
        return any(b.kind == name for b in self.constructor)


@dataclass(frozen=True)
class Options:
    """Which configurations the code can take (each a tuple of the values to run)."""

    types: tuple[str, ...]
    layers: tuple[int, ...]
    bidirectional: tuple[bool, ...]
    batch_first: tuple[bool, ...]
    sorted: bool
    devices: tuple[str, ...]
    clip: float | None  # training: the reference loop clips the gradient norm to this
    amp: bool  # training: on CUDA the reference loop runs under autocast with a GradScaler
    packed_order: str = "batch"  # "any": a returned PackedSequence may hold the batch in another order


@dataclass(frozen=True)
class Config:
    """One configuration to run; a None field is decided by the fixture's own code."""

    rnn_type: str | None
    num_layers: int | None
    bidirectional: bool | None
    batch_first: bool

    def label(self) -> str:
        """A short name: `LSTM/2/bi/bf`."""
        parts = [
            self.rnn_type or "",
            "" if self.num_layers is None else str(self.num_layers),
            "" if self.bidirectional is None else ("bi" if self.bidirectional else "uni"),
            "bf" if self.batch_first else "tf",
        ]
        return "/".join(p for p in parts if p)


@dataclass(frozen=True)
class Contract:
    """A fixture's `# verify:` header, read."""

    entry: Entry
    result: Result
    options: Options
    line: int  # where the header is, 1-based

    def result_kinds(self) -> list[str]:
        """Every kind in the result pattern, left to right."""
        return list(_kinds(self.result))

    def configs(self) -> list[Config]:
        """The configurations to run, in a fixed order."""
        entry, opts = self.entry, self.options
        if entry.is_module:
            return [Config(None, None, None, opts.batch_first[0])]
        if entry.is_class:
            layers: tuple[int | None, ...] = opts.layers if entry.setting("num_layers") else (None,)
            bidi: tuple[bool | None, ...] = opts.bidirectional if entry.setting("bidirectional") else (None,)
            return [Config(None, n, b, f) for n, b, f in itertools.product(layers, bidi, opts.batch_first)]
        if not self.builds_rnn():
            return [Config(None, None, None, f) for f in opts.batch_first]
        return [
            Config(t, n, b, f)
            for t, n, b, f in itertools.product(opts.types, opts.layers, opts.bidirectional, opts.batch_first)
        ]

    def uses_windows(self) -> bool:
        """Whether the batch is all full-length sequences (for code that takes no lengths at all)."""
        return bool(self.entry.kinds() & WINDOW_KINDS)

    def builds_rnn(self) -> bool:
        """Whether the shim builds the RNN (a function entry taking an RNN or a model)."""
        kinds = self.entry.kinds()
        return not self.entry.is_module and not self.entry.is_class and bool(kinds & {*RNN_KINDS, "model"})


def _kinds(result: Result) -> Iterator[str]:
    if isinstance(result, str):
        if result != IGNORED:
            yield result
        return
    for item in result:
        yield from _kinds(item)


def header_line(text: str) -> tuple[int, str] | None:
    """The `# verify:` line in the file's leading comment block, as (row, body); None if absent."""
    found: list[tuple[int, str]] = []
    for row, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        body = stripped.lstrip("#").strip()
        if body.startswith("verify:"):
            found.append((row, body[len("verify:") :].strip()))
    if len(found) > 1:
        raise ContractError(f"lines {found[0][0]} and {found[1][0]}: one `# verify:` header per file")
    return found[0] if found else None


def read_contract(text: str) -> Contract | None:
    """The file's contract, or None for a static-only fixture; ContractError if the header is wrong."""
    found = header_line(text)
    if found is None:
        return None
    row, body = found
    try:
        return parse_header(body, row)
    except ContractError as exc:
        raise ContractError(f"line {row}: {exc}") from None


def parse_header(body: str, row: int = 1) -> Contract:
    """Read `ENTRY -> RESULT [; OPTION=VALUES ...]`."""
    call, arrow, rest = body.partition("->")
    if not arrow:
        raise ContractError("expected `ENTRY -> RESULT`, e.g. `collate(seqs) -> packed`")
    result_text, _, options_text = rest.partition(";")
    entry = _parse_entry(call.strip())
    result = _parse_result(result_text.strip())
    options = _parse_options(options_text, entry)
    contract = Contract(entry, result, options, row)
    _validate(contract)
    return contract


def _expression(text: str, what: str) -> ast.expr:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ContractError(f"cannot read the {what} `{text}`") from None


def _bindings(call: ast.Call, allowed: dict[str, str] | frozenset[str], what: str) -> tuple[Binding, ...]:
    found: list[Binding] = []
    for arg in call.args:
        if not isinstance(arg, ast.Name):
            raise ContractError(f"{what} must be names, got `{ast.unparse(arg)}`")
        found.append(Binding(arg.id, arg.id))
    for keyword in call.keywords:
        if keyword.arg is None or not isinstance(keyword.value, ast.Name):
            raise ContractError(f"{what} are written `name` or `name=kind`, got `{ast.unparse(keyword)}`")
        found.append(Binding(keyword.arg, keyword.value.id))
    bindings = []
    for b in found:
        if b.kind not in allowed:
            known = ", ".join(sorted(allowed))
            raise ContractError(f"`{b.kind}` is not in the vocabulary for {what} ({known})")
        bindings.append(Binding(b.name, allowed[b.kind] if isinstance(allowed, dict) else b.kind))
    names = [b.name for b in bindings]
    if len(set(names)) != len(names):
        raise ContractError(f"a name is bound twice in `{ast.unparse(call)}`")
    return tuple(bindings)


def _parse_entry(text: str) -> Entry:
    if text.startswith(MODULE):
        tail = text[len(MODULE) :].strip()
        if not tail:
            return Entry(MODULE, None, (), ())
        node = _expression("_module_" + tail, "entry")
        if not isinstance(node, ast.Call):
            raise ContractError(f"expected `{MODULE}(names)`, got `{text}`")
        return Entry(MODULE, None, (), _bindings(node, INPUT_KINDS, "module globals"))
    node = _expression(text, "entry")
    if not isinstance(node, ast.Call):
        raise ContractError(f"the entry is a call, e.g. `collate(seqs)`, got `{text}`")
    if isinstance(node.func, ast.Name):
        return Entry(node.func.id, None, (), _bindings(node, INPUT_KINDS, "call parameters"))
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name):
        constructor = _bindings(func.value, CONSTRUCTOR_NAMES, "constructor parameters")
        arguments = _bindings(node, INPUT_KINDS, "call parameters")
        return Entry(func.value.func.id, func.attr, constructor, arguments)
    raise ContractError(f"expected `function(...)` or `Class(...).method(...)`, got `{text}`")


def _parse_result(text: str) -> Result:
    if not text:
        raise ContractError("the result is missing after `->`")
    return _result(_expression(text, "result"))


def _result(node: ast.expr) -> Result:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "head"
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Name)
    ):
        if node.args[0].id not in HEAD_INPUTS:
            raise ContractError(f"`head(...)` takes {', '.join(sorted(HEAD_INPUTS))}, not `{node.args[0].id}`")
        return f"head({node.args[0].id})"
    if isinstance(node, ast.Name):
        if node.id != IGNORED and node.id not in RESULT_KINDS:
            raise ContractError(f"`{node.id}` is not a result kind ({', '.join(sorted(RESULT_KINDS))}, `_`)")
        return node.id
    if isinstance(node, ast.Tuple):
        return tuple(_result(item) for item in node.elts)
    raise ContractError(f"a result is a kind, `_` or a tuple of them, got `{ast.unparse(node)}`")


def _parse_options(text: str, entry: Entry) -> Options:
    values: dict[str, tuple[object, ...]] = {}
    clip = None
    for item in text.split():
        key, eq, raw = item.partition("=")
        if key == "clip" and eq:
            try:
                clip = float(raw)
            except ValueError:
                raise ContractError(f"`clip` takes a number, not `{raw}`") from None
            continue
        if key not in _OPTION_VALUES or not eq:
            raise ContractError(f"unknown option `{item}` (options: {', '.join(_OPTION_VALUES)}, clip)")
        allowed = _OPTION_VALUES[key]
        chosen = []
        for value in raw.split(","):
            if value.lower() not in allowed:
                raise ContractError(f"`{key}` takes {', '.join(allowed)}, not `{value}`")
            chosen.append(allowed[value.lower()])
        values[key] = tuple(dict.fromkeys(chosen))
    rnn_types = [t for b in entry.arguments if b.kind in RNN_KINDS for t in RNN_KINDS[b.kind]]
    default_types = tuple(dict.fromkeys(rnn_types)) or RNN_KINDS["rnn"]
    for key in ("sorted", "amp", "packed_order"):
        if len(values.get(key, ())) > 1:
            raise ContractError(f"`{key}` takes one value")
    return Options(
        types=tuple(str(v) for v in values.get("types", default_types)),
        layers=tuple(int(str(v)) for v in values.get("layers", (1, 2))),
        bidirectional=tuple(bool(v) for v in values.get("bidirectional", (False, True))),
        batch_first=tuple(bool(v) for v in values.get("batch_first", (False,))),
        sorted=bool(values.get("sorted", (False,))[0]),
        devices=tuple(str(v) for v in values.get("devices", ("cpu",) if entry.is_module else ("cpu", "cuda"))),
        clip=clip,
        amp=bool(values.get("amp", (False,))[0]),
        packed_order=str(values.get("packed_order", ("batch",))[0]),
    )


def _validate(contract: Contract) -> None:
    kinds = contract.result_kinds()
    arguments = contract.entry.kinds()
    if "params" in kinds:
        if contract.result != "params":
            raise ContractError("`params` is a result on its own: `-> params`")
        missing = sorted({"model", "optimizer", "loader", "loss_fn"} - arguments)
        if missing:
            raise ContractError(f"`-> params` needs the training arguments; missing {', '.join(missing)}")
    if "scores" in kinds or "trained" in kinds:
        if (
            not isinstance(contract.result, tuple)
            or sorted(kinds) != ["scores", "trained"]
            or len(contract.result) != 2
        ):
            raise ContractError("`trained` and `scores` go together, alone: `-> (trained, scores)`")
        if "loader" not in arguments or not arguments <= EVALUATION_ARGUMENTS:
            raise ContractError(
                f"`-> (trained, scores)` takes a `loader` and only {', '.join(sorted(EVALUATION_ARGUMENTS))}"
            )
    if "alone" in kinds and contract.result != "alone":
        raise ContractError("`alone` is a result on its own: `-> alone`")
    if kinds.count("perm") > 1:
        raise ContractError("at most one `perm` in a result")
    rnn_kinds = arguments & {*RNN_KINDS}
    if len(rnn_kinds) > 1:
        raise ContractError("one RNN argument per entry")
    needs_head = [k for k in kinds if k == "loss" or k.startswith("head(")]
    if needs_head and not (contract.entry.is_class or "head" in arguments):
        raise ContractError(f"`{needs_head[0]}` needs a head: a `head` argument or a class entry's nn.Linear")
    needs_rnn = {"packed_out", "outputs", "last", "h_n", "repr", "loss"} & {
        k.removeprefix("head(").rstrip(")") for k in kinds
    }
    if needs_rnn and not (rnn_kinds or contract.entry.is_class or "model" in arguments):
        raise ContractError(f"`{sorted(needs_rnn)[0]}` needs an RNN: an `rnn` argument or a class entry")
