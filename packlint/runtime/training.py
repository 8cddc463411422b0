"""Training-loop fixtures: the model, loader and optimizer they get, and the reference loop."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence

from packlint.runtime.batch import HIDDEN_SIZE, INPUT_SIZE, NUM_CLASSES, SEED, Batch, build_rnn
from packlint.runtime.contract import Config
from packlint.runtime.devices import Env

STEPS = 4  # batches in the loader
LEARNING_RATE = 0.1
EPOCHS = 2  # bound to an `epochs` parameter
ACCUMULATE = 2  # bound to an `accumulate` parameter


class SequenceClassifier(nn.Module):
    """The `model` of a training fixture: an RNN over a PackedSequence, its final state, a linear head."""

    def __init__(self, config: Config, env: Env) -> None:
        super().__init__()
        self.rnn = build_rnn(config, env)
        directions = 2 if self.rnn.bidirectional else 1
        self.head = nn.Linear(directions * HIDDEN_SIZE, NUM_CLASSES).to(env.device, env.dtype)

    def forward(self, inputs: PackedSequence | Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class scores [B, NUM_CLASSES] for a PackedSequence (or a padded batch and its lengths)."""
        if not isinstance(inputs, PackedSequence):
            if lengths is None:
                raise TypeError("a padded batch needs its lengths")
            inputs = pack_padded_sequence(inputs, lengths.cpu(), self.rnn.batch_first, enforce_sorted=False)
        _, state = self.rnn(inputs)
        h_n = state[0] if isinstance(state, tuple) else state
        representation = torch.cat((h_n[-2], h_n[-1]), dim=-1) if self.rnn.bidirectional else h_n[-1]
        return self.head(representation)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Loop:
    """How the reference loop runs, from the fixture's arguments and header options."""

    epochs: int = 1
    accumulate: int = 1
    clip: float | None = None
    amp: bool = False


@dataclass
class TrainingArguments:
    """The values bound to a training fixture's parameters; `model` is trained in place."""

    model: SequenceClassifier
    optimizer: torch.optim.Optimizer
    loader: list[tuple[PackedSequence, Tensor]]
    loss_fn: nn.Module


def make_loader(batch: Batch) -> list[tuple[PackedSequence, Tensor]]:
    """STEPS batches: the hostile batch reshuffled by a seeded permutation each time, packed."""
    gen = torch.Generator().manual_seed(SEED + 1)
    loader = []
    for _ in range(STEPS):
        order = torch.randperm(len(batch.seqs), generator=gen).tolist()
        inputs = pack_sequence([batch.seqs[i] for i in order], enforce_sorted=False)
        loader.append((inputs, batch.labels[order]))
    return loader


def make_arguments(config: Config, env: Env, batch: Batch) -> TrainingArguments:
    """A fresh seeded model, an SGD optimizer over it, the loader and cross-entropy."""
    torch.manual_seed(SEED)
    model = SequenceClassifier(config, env)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    return TrainingArguments(model, optimizer, make_loader(batch), nn.CrossEntropyLoss())


def reference_parameters(start: SequenceClassifier, args: TrainingArguments, loop: Loop, env: Env) -> list[Tensor]:
    """Parameters after the reference loop: reset, forward, backward, (clip,) step, per batch."""
    model = copy.deepcopy(start)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    amp = loop.amp and env.kind == "cuda"
    scaler = torch.amp.GradScaler(env.kind, enabled=amp)
    optimizer.zero_grad()
    for _ in range(loop.epochs):
        for i, (inputs, targets) in enumerate(args.loader):
            with _autocast(env, amp):
                loss = args.loss_fn(model(inputs), targets) / loop.accumulate
            scaler.scale(loss).backward()
            if (i + 1) % loop.accumulate:
                continue
            if loop.clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=loop.clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
    return [p.detach().clone() for p in model.parameters()]


def evaluation_scores(model: nn.Module, loader: list[tuple[PackedSequence, Tensor]]) -> Tensor:
    """What an evaluation of a trained model must give: its class scores for every batch, in eval mode."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(inputs) for inputs, _ in loader])


def parameters(model: nn.Module) -> Iterator[Tensor]:
    """The model's parameters, detached."""
    return (p.detach() for p in model.parameters())


def _autocast(env: Env, enabled: bool) -> AbstractContextManager[object]:
    return torch.autocast(env.kind, enabled=True) if enabled else nullcontext()


__all__ = [
    "INPUT_SIZE",
    "Loop",
    "SequenceClassifier",
    "TrainingArguments",
    "evaluation_scores",
    "make_arguments",
    "make_loader",
    "reference_parameters",
]
