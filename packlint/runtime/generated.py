"""Fixes proven by execution at scale: generated training loops and packing pipelines, each run
before and after `packlint --fix`, against the reference semantics.

A program is a small frozen description (`TrainingProgram`, `PackingProgram`) rendered to source.
Its reference is fixed by definition: for a training loop, the same operations in the same order
where every optimizer step is followed by a reset of that optimizer's gradients (so each step
applies exactly the gradients computed since the previous one); for a packing pipeline, each
sequence run alone through the same RNN, results in the caller's batch order and batch-first.

The promise checked (`judge`): a safe fix applied to a program that deviates must make it match;
a program that already matches must not be changed by any safe fix. Hypothesis draws the programs
(`training_programs`, `packing_programs`); `check_many` runs many and counts.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from packlint.config import Settings
from packlint.engine import check_source

SEED = 1234
INPUT, HIDDEN = 3, 4
# Unsorted, with ties, and as many sequences as the longest is long (B == T: a transposed batch
# then runs without an error and is silently wrong), then an already sorted batch.
HOSTILE_LENGTHS = ((3, 5, 1, 5, 2), (5, 4, 4, 2, 1), (2, 6, 3))
FIX = Settings(select=("ALL",), fix=True)


# ---------------------------------------------------------------------------------------------
# Training loops


@dataclass(frozen=True)
class TrainingProgram:
    """A training loop: the order of its body's operations and the shape around them."""

    order: tuple[str, ...]  # a permutation of "forward", "backward", "step" and maybe "reset"
    reset: str = "optimizer"  # optimizer | model | set_to_none: how a reset is written
    accumulate: bool = False  # the step runs only every second iteration: `if (i + 1) % 2 == 0:`
    reset_in_branch: bool = False  # with accumulate, a reset right after the step goes in its branch
    nested: bool = False  # an epoch loop around the batch loop
    outer_reset: bool = False  # a reset at the top of the epoch loop
    reset_before_loop: bool = False
    optimizers: int = 1
    amp: bool = False  # a GradScaler (CPU autocast with bfloat16 where torch has it)

    @property
    def names(self) -> tuple[str, ...]:
        """The optimizers' names."""
        return ("optimizer",) if self.optimizers == 1 else ("opt_enc", "opt_head")


def render_training(program: TrainingProgram) -> str:
    """The program's source."""
    names = program.names
    reset_lines = {
        "optimizer": [f"{n}.zero_grad()" for n in names],
        "set_to_none": [f"{n}.zero_grad(set_to_none=True)" for n in names],
        "model": ["model.zero_grad()"],
    }[program.reset]
    step_lines = (
        [f"scaler.step({n})" for n in names] + ["scaler.update()"] if program.amp else [f"{n}.step()" for n in names]
    )
    backward = "scaler.scale(loss).backward()" if program.amp else "loss.backward()"
    forward = (
        [
            'with torch.autocast("cpu", dtype=torch.bfloat16, enabled=scaler.is_enabled()):',
            "    loss = loss_fn(model(inputs), targets)",
        ]
        if program.amp
        else ["loss = loss_fn(model(inputs), targets)"]
    )
    body: list[str] = []
    order = list(program.order)
    i = 0
    while i < len(order):
        op = order[i]
        if op == "forward":
            body += forward
        elif op == "backward":
            body.append(backward)
        elif op == "reset":
            body += reset_lines
        elif op == "step":
            if program.accumulate:
                branch = list(step_lines)
                if program.reset_in_branch and i + 1 < len(order) and order[i + 1] == "reset":
                    branch += reset_lines
                    i += 1
                body.append("if (i + 1) % 2 == 0:")
                body += ["    " + line for line in branch]
            else:
                body += step_lines
        i += 1
    loop = ["for i, (inputs, targets) in enumerate(loader):", *("    " + line for line in body)]
    if program.nested:
        outer = ["for epoch in range(2):"]
        if program.outer_reset:
            outer += ["    " + line for line in reset_lines]
        loop = outer + ["    " + line for line in loop]
    params = ", ".join(("model", *names, "loader", "loss_fn", "scaler"))
    lines = ["import torch", "", "", f"def train({params}):"]
    if program.reset_before_loop:
        lines += ["    " + line for line in reset_lines]
    lines += ["    " + line for line in loop]
    lines += ["    return model", ""]
    return "\n".join(lines)


@dataclass
class _Trainer:
    """A seeded model, its optimizers and a loader, rebuilt identically for each run."""

    device: torch.device
    model: nn.Module = field(init=False)
    optimizers: list[torch.optim.Optimizer] = field(init=False)
    loader: list[tuple[Tensor, Tensor]] = field(init=False)

    def build(self, count: int) -> None:
        torch.manual_seed(SEED)
        self.model = nn.Sequential(nn.Linear(INPUT, 5), nn.Tanh(), nn.Linear(5, 2)).to(self.device)
        if count == 1:
            self.optimizers = [torch.optim.SGD(self.model.parameters(), lr=0.1)]
        else:
            self.optimizers = [
                torch.optim.SGD(self.model[0].parameters(), lr=0.1),
                torch.optim.SGD(self.model[2].parameters(), lr=0.1),
            ]
        gen = torch.Generator().manual_seed(SEED)
        self.loader = [
            (
                torch.randn(6, INPUT, generator=gen).to(self.device),
                torch.randint(0, 2, (6,), generator=gen).to(self.device),
            )
            for _ in range(4)
        ]

    def parameters(self) -> list[Tensor]:
        return [p.detach().clone() for p in self.model.parameters()]


def _scaler(program: TrainingProgram, device: torch.device) -> Any:
    # A small scale: at the default 65536, `scaler.step` divides what a missing reset leaves behind
    # by 65536 each step, and a loop without resets matches the reference to 1e-6 (until an inf).
    return torch.amp.GradScaler(device.type, init_scale=2.0, enabled=program.amp)


def run_training(source: str, program: TrainingProgram, device: torch.device) -> list[Tensor] | str:
    """The parameters after running the program's `train`, or the exception it raised."""
    trainer = _Trainer(device)
    trainer.build(program.optimizers)
    namespace: dict[str, Any] = {}
    try:
        exec(compile(source, "<generated>", "exec"), namespace)
        namespace["train"](
            trainer.model, *trainer.optimizers, trainer.loader, nn.CrossEntropyLoss(), _scaler(program, device)
        )
    except Exception as exc:  # a generated program may crash: that is an outcome, not an error here
        return f"{type(exc).__name__}: {exc}"
    return trainer.parameters()


def reference_training(program: TrainingProgram, device: torch.device) -> list[Tensor]:
    """The program's operations in its order, each step followed by a reset of what it stepped."""
    trainer = _Trainer(device)
    trainer.build(program.optimizers)
    model, loss_fn, scaler = trainer.model, nn.CrossEntropyLoss(), _scaler(program, device)
    ops = [op for op in program.order if op != "reset"]
    for _ in range(2 if program.nested else 1):
        for i, (inputs, targets) in enumerate(trainer.loader):
            loss: Tensor | None = None
            for op in ops:
                if op == "forward":
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=program.amp):
                        loss = loss_fn(model(inputs), targets)
                elif op == "backward":
                    assert loss is not None
                    scaler.scale(loss).backward()
                elif op == "step" and (not program.accumulate or (i + 1) % 2 == 0):
                    for optimizer in trainer.optimizers:
                        scaler.step(optimizer)
                    scaler.update()
                    for optimizer in trainer.optimizers:
                        optimizer.zero_grad()
    return trainer.parameters()


# ---------------------------------------------------------------------------------------------
# Packing pipelines


@dataclass(frozen=True)
class PackingProgram:
    """A packing pipeline in an `nn.Module.forward`: pad, maybe sort, maybe transpose, pack, run,
    read the result back in the caller's order."""

    rnn_batch_first: bool = True  # the RNN's own flag (it does not matter for packed input)
    pad_batch_first: bool = True
    transpose: bool = False  # `padded = padded.transpose(0, 1)` before packing
    pack_batch_first: bool | None = True  # None: not written
    lengths_tensor: bool = False
    sort: str = "none"  # none | descending | ascending | inside_descending | inside_ascending
    reorder_batch: bool = True  # with a sort: the batch is indexed with the permutation too
    enforce: bool | None = False  # None: not written (True)
    unsort: bool = True  # with a sort: the result is indexed with `perm.argsort()`
    result: str = "h_n"  # h_n | outputs
    unpack_batch_first: bool | None = True  # None: not written (False)
    final_transpose: bool = False  # outputs transposed after unpacking
    rebuild: bool = False  # `PackedSequence(packed.data, packed.batch_sizes)` before the RNN
    pack_sequence: str = ""  # "" (pad and pack) | plain | ascending | descending


def render_packing(program: PackingProgram) -> str:
    """The program's source."""
    p = program
    lines = [
        "import torch",
        "from torch import nn",
        "from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,"
        " pad_sequence",
        "",
        "",
        "class Model(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
        f"        self.rnn = nn.GRU({INPUT}, {HIDDEN}, batch_first={p.rnn_batch_first})",
        "",
        "    def forward(self, seqs):",
    ]
    body: list[str] = []
    enforce = "" if p.enforce is None else f", enforce_sorted={p.enforce}"
    sorted_here = False
    if p.pack_sequence:
        ordered = {
            "plain": "seqs",
            "ascending": "sorted(seqs, key=len)",
            "descending": "sorted(seqs, key=len, reverse=True)",
        }[p.pack_sequence]
        body.append(f"packed = pack_sequence({ordered}{enforce})")
    else:
        lengths = (
            "torch.tensor([len(s) for s in seqs])" if p.lengths_tensor or p.sort != "none" else "[len(s) for s in seqs]"
        )
        body.append(f"lengths = {lengths}")
        body.append(f"padded = pad_sequence(seqs, batch_first={p.pad_batch_first})")
        lengths_arg = "lengths"
        if p.sort in ("descending", "ascending"):
            flag = ", descending=True" if p.sort == "descending" else ""
            body.append(f"lengths, perm = torch.sort(lengths{flag})")
            sorted_here = True
            if p.reorder_batch:
                body.append("padded = padded[perm]" if p.pad_batch_first else "padded = padded[:, perm]")
        elif p.sort.startswith("inside"):
            flag = ", descending=True" if p.sort == "inside_descending" else ""
            lengths_arg = f"torch.sort(lengths{flag})[0]"
        if p.transpose:
            body.append("padded = padded.transpose(0, 1)")
        batch_first = "" if p.pack_batch_first is None else f", batch_first={p.pack_batch_first}"
        body.append(f"packed = pack_padded_sequence(padded, {lengths_arg}{batch_first}{enforce})")
    if p.rebuild:
        body.append("packed = PackedSequence(packed.data, packed.batch_sizes)")
    if p.result == "h_n":
        body.append("_, h_n = self.rnn(packed)")
        body.append("result = h_n[-1]")
    else:
        body.append("out, _ = self.rnn(packed)")
        unpack = "" if p.unpack_batch_first is None else f", batch_first={p.unpack_batch_first}"
        body.append(f"result, _ = pad_packed_sequence(out{unpack})")
        if p.final_transpose:
            body.append("result = result.transpose(0, 1)")
    if sorted_here and p.unsort:
        body.append("result = result[perm.argsort()]")
    body.append("return result")
    lines += ["        " + line for line in body]
    return "\n".join(lines) + "\n"


def _batches(device: torch.device) -> list[list[Tensor]]:
    gen = torch.Generator().manual_seed(SEED)
    return [[torch.randn(n, INPUT, generator=gen).to(device) for n in lengths] for lengths in HOSTILE_LENGTHS]


def run_packing(source: str, device: torch.device) -> list[Tensor] | str:
    """The program's result on each hostile batch, or the exception it raised."""
    namespace: dict[str, Any] = {}
    try:
        exec(compile(source, "<generated>", "exec"), namespace)
        torch.manual_seed(SEED)
        model = namespace["Model"]().to(device).eval()
        with torch.no_grad():
            return [model(seqs) for seqs in _batches(device)]
    except Exception as exc:  # a crash is an outcome
        return f"{type(exc).__name__}: {exc}"


def reference_packing(program: PackingProgram, device: torch.device) -> list[tuple[list[Tensor], Tensor]]:
    """Per hostile batch: each sequence's outputs [L, H] and the last layer's final states [B, H],
    from each sequence run alone."""
    torch.manual_seed(SEED)
    rnn = nn.GRU(INPUT, HIDDEN, batch_first=program.rnn_batch_first).to(device).eval()
    out = []
    with torch.no_grad():
        for seqs in _batches(device):
            outputs, finals = [], []
            for seq in seqs:
                x = seq.unsqueeze(0 if program.rnn_batch_first else 1)
                y, h = rnn(x)
                outputs.append(y.squeeze(0 if program.rnn_batch_first else 1))
                finals.append(h[-1, 0])
            out.append((outputs, torch.stack(finals)))
    return out


def packing_matches(program: PackingProgram, got: list[Tensor], device: torch.device) -> bool:
    """Whether the results are the reference's: batch order, up to each length, either layout."""
    for result, (outputs, finals) in zip(got, reference_packing(program, device)):
        if program.result == "h_n":
            if result.shape != finals.shape or not torch.allclose(result, finals, atol=1e-5):
                return False
            continue
        # Either layout is a fair way to return outputs: what must hold is the values, per sequence.
        if not (
            _outputs_match(result, outputs) or (result.dim() == 3 and _outputs_match(result.transpose(0, 1), outputs))
        ):
            return False
    return True


def _outputs_match(result: Tensor, outputs: list[Tensor]) -> bool:
    """Batch-first `result` holds each sequence's outputs up to its length."""
    if result.dim() != 3 or result.shape[0] != len(outputs) or result.shape[1] < max(len(o) for o in outputs):
        return False
    return all(torch.allclose(row[: len(want)], want, atol=1e-5) for row, want in zip(result, outputs))


# ---------------------------------------------------------------------------------------------
# Judging


@dataclass(frozen=True)
class Verdict:
    """One program before and after `packlint --fix`."""

    source: str
    matched: bool  # before fixing
    fixed_source: str | None  # None: no safe fix applied
    matched_after: bool | None
    failure: str | None  # what broke the promise, or None
    remaining: int = 0  # diagnostics left after fixing (on the original when nothing was fixed)


def fixed(source: str) -> tuple[str | None, int]:
    """The program after `packlint check --fix` (safe fixes only, every rule selected), and how
    many diagnostics remain on it."""
    result = check_source(source.encode(), "generated.py", FIX)
    if result.errors:
        raise AssertionError(f"packlint failed on a generated program: {result.errors}\n{source}")
    after = result.new_source.decode() if result.new_source is not None else None
    return after, len(result.diagnostics)


def judge(source: str, matches: Callable[[str], bool], raises: Callable[[str], bool], strict: bool) -> Verdict:
    """Run a program before and after its safe fixes; a failure is a broken promise: a safe fix
    that changes a program matching the reference, or that leaves a program deviating while
    packlint reports nothing more on it (the file then looks clean but computes the wrong thing).
    With `strict` (training loops, where every deviation is a misplaced reset, which is what the
    fixes claim to repair) any deviation left after a fix with nothing more reported is a failure.
    Otherwise (packing pipelines, which can hold several independent bugs) a program that deviated
    silently before and still does was not made worse, the remaining bug being one packlint misses
    (counted in `Tally.unreported_after`); a crash turned into a silent deviation is a failure."""
    before = matches(source)
    after_source, remaining = fixed(source)
    if after_source is None:
        return Verdict(source, before, None, None, None, remaining)
    after = matches(after_source)
    failure = None
    if before:
        failure = "a safe fix changed a program that already matched the reference"
        if not after:
            failure = "a safe fix broke a program that matched the reference"
    elif not after and not remaining and strict:
        failure = "after its safe fixes the program deviates from the reference and is reported clean"
    elif not after and not remaining and raises(source) and not raises(after_source):
        failure = "a safe fix turned a crash into a silently wrong result reported clean"
    return Verdict(source, before, after_source, after, failure, remaining)


def judge_training(program: TrainingProgram, device: torch.device | None = None) -> Verdict:
    """A training loop against the loop that resets after each step."""
    device = device or torch.device("cpu")
    reference = reference_training(program, device)

    def matches(source: str) -> bool:
        got = run_training(source, program, device)
        return not isinstance(got, str) and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, reference))

    def raises(source: str) -> bool:
        return isinstance(run_training(source, program, device), str)

    return judge(render_training(program), matches, raises, strict=True)


def judge_packing(program: PackingProgram, device: torch.device | None = None) -> Verdict:
    """A packing pipeline against each sequence run alone."""
    device = device or torch.device("cpu")

    def matches(source: str) -> bool:
        got = run_packing(source, device)
        return not isinstance(got, str) and packing_matches(program, got, device)

    def raises(source: str) -> bool:
        return isinstance(run_packing(source, device), str)

    return judge(render_packing(program), matches, raises, strict=False)


# ---------------------------------------------------------------------------------------------
# Hypothesis strategies and the bulk run


def training_programs() -> Any:
    """Hypothesis strategy of training loops."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw: Any) -> TrainingProgram:
        ops = ["forward", "backward", "step"]
        if draw(st.booleans()):
            ops.append("reset")
        order = draw(st.permutations(ops).filter(runnable))
        amp = draw(st.booleans()) and order.index("step") > order.index("backward")
        accumulate = draw(st.booleans())
        return TrainingProgram(
            order=tuple(order),
            reset=draw(st.sampled_from(("optimizer", "model", "set_to_none"))),
            accumulate=accumulate,
            reset_in_branch=accumulate and draw(st.booleans()),
            nested=(nested := draw(st.booleans())),
            outer_reset=nested and draw(st.booleans()),
            reset_before_loop=draw(st.booleans()),
            optimizers=draw(st.sampled_from((1, 2))),
            amp=amp,
        )

    return build()


def runnable(order: Sequence[str]) -> bool:
    """Orders a real loop can run: the forward before its backward, and no step between them (the
    step changes the weights in place, and autograd then refuses the backward)."""
    forward, backward, step = order.index("forward"), order.index("backward"), order.index("step")
    return forward < backward and not forward < step < backward


def packing_programs() -> Any:
    """Hypothesis strategy of packing pipelines."""
    from hypothesis import strategies as st

    flag = st.sampled_from((True, False, None))
    return st.builds(
        PackingProgram,
        rnn_batch_first=st.booleans(),
        pad_batch_first=st.booleans(),
        transpose=st.booleans(),
        pack_batch_first=flag,
        lengths_tensor=st.booleans(),
        sort=st.sampled_from(("none", "descending", "ascending", "inside_descending", "inside_ascending")),
        reorder_batch=st.booleans(),
        enforce=flag,
        unsort=st.booleans(),
        result=st.sampled_from(("h_n", "outputs")),
        unpack_batch_first=flag,
        final_transpose=st.booleans(),
        rebuild=st.booleans(),
        pack_sequence=st.sampled_from(("", "", "", "plain", "ascending", "descending")),
    )


@dataclass
class Tally:
    """Counts over a generated run, and the programs that broke the promise."""

    programs: int = 0
    matched: int = 0
    fixed: int = 0
    fixed_to_match: int = 0
    unreported: int = 0  # deviating programs that packlint says nothing about (missed bugs, not broken promises)
    unreported_after: int = 0  # fixed programs still deviating, with nothing more reported
    failures: list[Verdict] = field(default_factory=list)

    def add(self, verdict: Verdict) -> None:
        self.programs += 1
        self.matched += verdict.matched
        self.fixed += verdict.fixed_source is not None
        self.fixed_to_match += bool(verdict.matched_after) and not verdict.matched
        self.unreported += not verdict.matched and verdict.fixed_source is None and not verdict.remaining
        self.unreported_after += verdict.matched_after is False and not verdict.remaining
        if verdict.failure is not None:
            self.failures.append(verdict)

    def summary(self) -> str:
        return (
            f"{self.programs} programs: {self.matched} matched the reference, {self.fixed} got a safe fix, "
            f"{self.fixed_to_match} fixed to match, {self.unreported} deviating and unreported, "
            f"{self.unreported_after} still deviating after a fix with nothing more reported, "
            f"{len(self.failures)} failures"
        )


def check_many(examples: int, device: torch.device | None = None, seed: int | None = None) -> dict[str, Tally]:
    """Run `examples` generated programs of each kind; counts per kind."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    tallies = {"training": Tally(), "packing": Tally()}
    config = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=seed is None,
    )

    @config
    @given(training_programs())
    def training(program: TrainingProgram) -> None:
        tallies["training"].add(judge_training(program, device))

    @config
    @given(packing_programs())
    def packing(program: PackingProgram) -> None:
        tallies["packing"].add(judge_packing(program, device))

    for run in (training, packing):
        (hypothesis_seed(seed)(run) if seed is not None else run)()
    return tallies


def describe_failures(verdicts: Sequence[Verdict], limit: int = 3) -> Iterator[str]:
    """The first failing programs, before and after, for a test's message."""
    for verdict in verdicts[:limit]:
        yield f"{verdict.failure}:\n{textwrap.indent(verdict.source, '    ')}\n--- fixed:\n" + textwrap.indent(
            verdict.fixed_source or "", "    "
        )
