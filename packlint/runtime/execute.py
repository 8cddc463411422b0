"""Run one fixture's code under its contract, in each configuration, and judge each result."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import CodeType
from typing import cast

import torch
from torch import Tensor, nn

from packlint.invisible import repair
from packlint.runtime.batch import SEED, SETTINGS, Batch, argument, build_head, build_rnn, make_batch
from packlint.runtime.compare import Gap, StructureError, alone_gap, compare
from packlint.runtime.contract import RNN_KINDS, Config, Contract, Entry, Result
from packlint.runtime.devices import Env, precise
from packlint.runtime.reference import Expected, data_only, find_embedding, find_linear, find_rnn, run_alone
from packlint.runtime.training import (
    ACCUMULATE,
    EPOCHS,
    Loop,
    evaluation_scores,
    make_arguments,
    make_loader,
    reference_parameters,
)

MATCH, DEVIATE, RAISE, ERROR, SKIP = "MATCH", "DEVIATE", "RAISE", "ERROR", "SKIP"


@dataclass(frozen=True)
class Outcome:
    """One configuration's verdict: MATCH or DEVIATE (with the max abs error), RAISE, ERROR or SKIP."""

    config: str
    verdict: str
    error: float | None = None
    detail: str = ""


class FixtureRaised(Exception):
    """The fixture's own code raised while the shim was setting it up (a constructor)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(exception_text(cause))


class ContractMismatch(Exception):
    """The fixture does not fit its header (a missing entry, an unknown parameter): an ERROR, not a bug."""


def exception_text(exc: BaseException) -> str:
    """`TypeError: first line of the message`, shortened."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Tensors the fixture creates itself (`torch.randn`) take the run's dtype."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


class Runner:
    """Runs fixtures on one device and dtype, sharing batches and per-sequence references."""

    def __init__(self, env: Env) -> None:
        self._packed_order = "batch"  # the header's `packed_order`, for the file being run
        self.env = env
        self._batches: dict[tuple[bool, bool], Batch] = {}
        self._references: dict[tuple[Config, bool, bool], Expected] = {}

    def run(self, text: str, filename: str, contract: Contract) -> list[Outcome]:
        """An outcome per configuration the header asks for (one SKIP when not on this device)."""
        self._packed_order = contract.options.packed_order
        if self.env.kind not in contract.options.devices:
            return [Outcome("-", SKIP, detail=f"the header runs it on {', '.join(contract.options.devices)} only")]
        if contract.options.amp and self.env.kind == "cpu" and torch.cuda.is_available():
            return [Outcome("-", SKIP, detail="an AMP loop enables its scaler when CUDA exists: use --device cuda")]
        try:
            code = compile(text, filename, "exec")
        except SyntaxError as exc:
            if repair(text) is not None:
                # Pasted invisible spaces (PKL010): Python itself refuses the program, the bug's symptom.
                return [Outcome(config.label(), RAISE, detail=f"SyntaxError: {exc}") for config in contract.configs()]
            return [Outcome("-", ERROR, detail=f"does not compile: {exc}")]
        return [self._run_config(code, filename, contract, config) for config in contract.configs()]

    def _run_config(self, code: CodeType, filename: str, contract: Contract, config: Config) -> Outcome:
        label = config.label()
        with precise(), default_dtype(self.env.dtype):
            torch.manual_seed(SEED)
            namespace: dict[str, object] = {"__name__": "packlint_fixture", "__file__": filename}
            try:
                exec(code, namespace)
            except Exception as exc:
                return Outcome(label, RAISE, detail=exception_text(exc))
            try:
                if contract.entry.is_module:
                    return self._judge(
                        label,
                        contract.result,
                        lambda: _globals(namespace, contract.result),
                        _module_expectation(namespace, contract),
                        config,
                    )
                target = namespace.get(contract.entry.name)
                if target is None:
                    raise ContractMismatch(f"the file defines no `{contract.entry.name}`")
                if contract.result == "params":
                    return self._train(label, target, contract, config)
                if "scores" in contract.result_kinds():
                    return self._evaluation(label, target, contract)
                if contract.result == "alone":
                    return self._alone(label, target, contract, config)
                call, expected = self._prepare(target, contract, config)
                return self._judge(label, contract.result, call, expected, config)
            except FixtureRaised as exc:
                return Outcome(label, RAISE, detail=str(exc))
            except (ContractMismatch, ValueError) as exc:
                return Outcome(label, ERROR, detail=str(exc))

    def batch(self, sorted_: bool, windows: bool = False) -> Batch:
        """The hostile batch (longest first when `sorted_`; all full length when `windows`)."""
        key = (sorted_, windows)
        if key not in self._batches:
            self._batches[key] = make_batch(self.env, sorted_, windows)
        return self._batches[key]

    def _prepare(self, target: object, contract: Contract, config: Config) -> tuple[Callable[[], object], Expected]:
        entry, env = contract.entry, self.env
        batch = self.batch(contract.options.sorted, contract.uses_windows())
        tokens = bool(entry.kinds() & {"tokens", "token_windows"})
        data = batch.ids if tokens else batch.seqs
        modules: dict[str, nn.Module] = {}
        if entry.is_class:
            instance = self._construct(target, contract, config)
            rnn = find_rnn(instance)
            rnn_inputs: tuple[Tensor, ...] = batch.seqs
            if tokens:
                embedding = find_embedding(instance)
                with torch.no_grad():
                    rnn_inputs = tuple(embedding(ids) for ids in batch.ids)
            expected = run_alone(rnn, rnn_inputs, data, batch.labels)
            if any(k == "loss" or k.startswith("head(") for k in contract.result_kinds()):
                expected = expected.with_head(find_linear(instance))
            function = _method(instance, entry)
        else:
            function = _function(target, contract, config, env, modules)
            expected = self._reference(config, contract, batch, modules, data)
        kwargs = {b.name: argument(b.kind, batch, config, env, modules) for b in entry.arguments}
        _check_binding(function, kwargs, entry.name)
        return lambda: function(**kwargs), expected

    def _construct(self, target: object, contract: Contract, config: Config) -> nn.Module:
        entry, env = contract.entry, self.env
        if not (isinstance(target, type) and issubclass(target, nn.Module)):
            raise ContractMismatch(f"`{entry.name}` is not an nn.Module class")
        kwargs = {b.name: _setting(b.kind, config) for b in entry.constructor}
        _check_binding(target, kwargs, entry.name)
        torch.manual_seed(SEED)
        try:
            return target(**kwargs).to(env.device, env.dtype).eval()
        except Exception as exc:
            raise FixtureRaised(exc) from exc

    def _reference(
        self, config: Config, contract: Contract, batch: Batch, modules: dict[str, nn.Module], data: tuple[Tensor, ...]
    ) -> Expected:
        rnn = modules.get("rnn")
        if not isinstance(rnn, nn.RNNBase):
            return data_only(data, batch.labels)
        key = (config, contract.options.sorted, contract.uses_windows())
        if key not in self._references:
            self._references[key] = run_alone(rnn, batch.seqs, data, batch.labels)
        return self._references[key].with_head(modules.get("head"))

    def _judge(
        self, label: str, result: Result, call: Callable[[], object], expected: Expected, config: Config
    ) -> Outcome:
        try:
            value = call()
        except ContractMismatch:
            raise
        except Exception as exc:
            return Outcome(label, RAISE, detail=exception_text(exc))
        try:
            gap = compare(result, value, expected, config.batch_first, self._packed_order)
        except StructureError as exc:
            return Outcome(label, ERROR, detail=str(exc))
        except Exception as exc:  # a corrupt result (a PackedSequence that cannot be unpacked)
            return Outcome(label, RAISE, detail="reading the result: " + exception_text(exc))
        return self._verdict(label, gap)

    def _verdict(self, label: str, gap: Gap) -> Outcome:
        verdict = MATCH if gap.error <= self.env.tolerance else DEVIATE
        return Outcome(label, verdict, gap.error, "" if verdict == MATCH else gap.note)

    def _alone(self, label: str, target: object, contract: Contract, config: Config) -> Outcome:
        """`-> alone`: the entry on the whole batch, row by row, against the entry on each sequence alone."""
        entry, env = contract.entry, self.env
        batch = self.batch(contract.options.sorted, contract.uses_windows())
        modules: dict[str, nn.Module] = {}
        if entry.is_class:
            instance = self._construct(target, contract, config)
            function = _method(instance, entry)
        else:
            function = _function(target, contract, config, env, modules)

        def call(part: Batch) -> object:
            kwargs = {b.name: argument(b.kind, part, config, env, modules) for b in entry.arguments}
            _check_binding(function, kwargs, entry.name)
            return function(**kwargs)

        try:
            value = call(batch)
            rows = [call(batch.single(i)) for i in range(len(batch.lengths))]
        except ContractMismatch:
            raise
        except Exception as exc:
            return Outcome(label, RAISE, detail=exception_text(exc))
        try:
            gap = alone_gap(value, rows)
        except StructureError as exc:
            return Outcome(label, ERROR, detail=str(exc))
        return self._verdict(label, gap)

    def _train(self, label: str, target: object, contract: Contract, config: Config) -> Outcome:
        if not callable(target):
            raise ContractMismatch(f"`{contract.entry.name}` is not callable")
        env, opts = self.env, contract.options
        args = make_arguments(config, env, self.batch(opts.sorted))
        start = copy.deepcopy(args.model)
        values: dict[str, object] = {
            "model": args.model,
            "optimizer": args.optimizer,
            "loader": args.loader,
            "loss_fn": args.loss_fn,
            "epochs": EPOCHS,
            "accumulate": ACCUMULATE,
        }
        kinds = contract.entry.kinds()
        kwargs = {b.name: values[b.kind] for b in contract.entry.arguments}
        _check_binding(target, kwargs, contract.entry.name)
        loop = Loop(
            epochs=EPOCHS if "epochs" in kinds else 1,
            accumulate=ACCUMULATE if "accumulate" in kinds else 1,
            clip=opts.clip,
            amp=opts.amp,
        )
        try:
            target(**kwargs)
        except Exception as exc:
            return Outcome(label, RAISE, detail=exception_text(exc))
        wanted = reference_parameters(start, args, loop, env)
        got = [p.detach().double() for p in args.model.parameters()]
        error = max(float((p - w.double()).abs().max()) for p, w in zip(got, wanted))
        return self._verdict(label, Gap(error, "params"))

    def _evaluation(self, label: str, target: object, contract: Contract) -> Outcome:
        """`-> (trained, scores)`: the scores must be what the returned model gives in eval mode."""
        if not callable(target):
            raise ContractMismatch(f"`{contract.entry.name}` is not callable")
        loader = make_loader(self.batch(contract.options.sorted))
        values: dict[str, object] = {
            "loader": loader,
            "loss_fn": nn.CrossEntropyLoss(),
            "epochs": EPOCHS,
            "device": self.env.device,
        }
        kwargs = {b.name: values[b.kind] for b in contract.entry.arguments}
        _check_binding(target, kwargs, contract.entry.name)
        try:
            value = target(**kwargs)
        except Exception as exc:
            return Outcome(label, RAISE, detail=exception_text(exc))
        if not (isinstance(value, tuple) and len(value) == 2):
            return Outcome(label, ERROR, detail="`-> (trained, scores)` needs a returned pair")
        named = dict(zip(contract.result, value))
        trained, scores = named["trained"], named["scores"]
        if not isinstance(trained, nn.Module):
            return Outcome(label, ERROR, detail="`trained` must be the model (an nn.Module)")
        if isinstance(scores, (list, tuple)) and all(isinstance(s, Tensor) for s in scores):
            scores = torch.cat(list(scores))
        if not isinstance(scores, Tensor):
            return Outcome(label, ERROR, detail="`scores` must be a tensor (or a list of per-batch tensors)")
        wanted = evaluation_scores(trained, loader)
        if scores.shape != wanted.shape:
            return self._verdict(label, Gap(float("inf"), f"scores of shape {tuple(scores.shape)}"))
        error = float((scores.detach().double() - wanted.double()).abs().max())
        return self._verdict(label, Gap(error, "scores differ from the trained model's in eval mode"))


def _setting(kind: str, config: Config) -> object:
    value = {"num_layers": config.num_layers, "bidirectional": config.bidirectional}.get(kind)
    if kind == "batch_first":
        return config.batch_first
    if value is not None:
        return value
    return SETTINGS[kind]


def _check_binding(function: object, kwargs: dict[str, object], name: str) -> None:
    try:
        signature = inspect.signature(function)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        raise ContractMismatch(f"the header's parameters do not fit `{name}`: {exc}") from None


def _globals(namespace: dict[str, object], result: Result) -> object:
    if isinstance(result, str):
        if result == "_":
            return None
        if result not in namespace:
            raise ContractMismatch(f"the module defines no global `{result}`")
        return namespace[result]
    return tuple(_globals(namespace, item) for item in result)


def _module_expectation(namespace: dict[str, object], contract: Contract) -> Expected:
    values = {}
    for b in contract.entry.arguments:
        if b.name not in namespace:
            raise ContractMismatch(f"the module defines no global `{b.name}`")
        values[b.kind] = namespace[b.name]
    seqs = values.get("seqs")
    if not (isinstance(seqs, (list, tuple)) and all(isinstance(s, Tensor) for s in seqs)):
        raise ContractMismatch("a module entry names its input sequences: `<module>(seqs)`")
    rnn = next((values[k] for k in RNN_KINDS if k in values), None)
    if isinstance(rnn, nn.RNNBase):
        # 1-D sequences of numbers into an RNN with input_size=1 (PKL113/PKL114): alone, each sequence
        # is what the RNN must see, T×1 floating-point values.
        scalar = rnn.input_size == 1 and all(s.dim() == 1 for s in seqs)
        dtype = rnn.weight_ih_l0.dtype
        features = [(s.unsqueeze(-1) if scalar else s).to(dtype) for s in seqs]
        return run_alone(rnn, features, seqs, None)
    return data_only(seqs, None)


def _method(instance: object, entry: Entry) -> Callable[..., object]:
    """The class entry's method on the instance the shim built."""
    assert entry.method is not None
    function = getattr(instance, entry.method, None)
    if function is None:
        raise ContractMismatch(f"`{entry.name}` has no method `{entry.method}`")
    return cast("Callable[..., object]", function)


def _function(
    target: object, contract: Contract, config: Config, env: Env, modules: dict[str, nn.Module]
) -> Callable[..., object]:
    """A function entry, with the RNN (and its head) it takes built into `modules`."""
    entry = contract.entry
    if not callable(target):
        raise ContractMismatch(f"`{entry.name}` is not callable")
    if contract.builds_rnn():
        rnn = modules["rnn"] = build_rnn(config, env)
        if "head" in entry.kinds():
            modules["head"] = build_head(rnn, env)
    return target
