"""The hostile batch the shim feeds fixtures, and the value it binds to each parameter kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from packlint.runtime.contract import RNN_KINDS, Config
from packlint.runtime.devices import Env

SEED = 20240607
# B = 6 > 5, unsorted, with a length-1 sequence and one of the full padded length T = 7 (T > B, so a
# batch/time mix-up cannot line up by accident); all lengths differ, so results identify sequences.
LENGTHS = (4, 7, 1, 5, 2, 6)
INPUT_SIZE = 3
HIDDEN_SIZE = 5
VOCAB_SIZE = 11  # token ids are 1..10; 0 is padding
NUM_CLASSES = 4
RNN_TYPES: dict[str, Callable[..., nn.RNNBase]] = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}

# The value a constructor parameter of a class entry receives, by setting.
SETTINGS: dict[str, int] = {
    "input_size": INPUT_SIZE,
    "hidden_size": HIDDEN_SIZE,
    "vocab_size": VOCAB_SIZE,
    "num_classes": NUM_CLASSES,
}


@dataclass(frozen=True)
class Batch:
    """Sequences in caller order, on the run's device; lengths and ids alongside."""

    seqs: tuple[Tensor, ...]  # float [L_i, INPUT_SIZE]
    ids: tuple[Tensor, ...]  # int64 [L_i], values 1..VOCAB_SIZE-1
    lengths: tuple[int, ...]
    labels: Tensor  # int64 [B]

    def single(self, i: int) -> Batch:
        """A batch of sequence `i` alone: no padding, the ground truth of `-> alone`."""
        return Batch((self.seqs[i],), (self.ids[i],), (self.lengths[i],), self.labels[i : i + 1])


def make_batch(env: Env, sorted_: bool = False, windows: bool = False) -> Batch:
    """The seeded hostile batch; `sorted_` orders it longest first (for code whose callers sort),
    `windows` makes every sequence full length (for code that takes no lengths at all)."""
    lengths = (max(LENGTHS),) * len(LENGTHS) if windows else LENGTHS
    gen = torch.Generator().manual_seed(SEED)
    seqs = [torch.randn(n, INPUT_SIZE, generator=gen, dtype=torch.float64) for n in lengths]
    ids = [torch.randint(1, VOCAB_SIZE, (n,), generator=gen) for n in lengths]
    labels = torch.randint(0, NUM_CLASSES, (len(lengths),), generator=gen)
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if sorted_ else list(range(len(lengths)))
    return Batch(
        seqs=tuple(seqs[i].to(env.device, env.dtype) for i in order),
        ids=tuple(ids[i].to(env.device) for i in order),
        lengths=tuple(lengths[i] for i in order),
        labels=labels[order].to(env.device),
    )


def build_rnn(config: Config, env: Env, input_size: int = INPUT_SIZE) -> nn.RNNBase:
    """The RNN under test for this configuration, with seeded weights."""
    assert config.rnn_type is not None and config.num_layers is not None and config.bidirectional is not None
    torch.manual_seed(SEED)
    rnn = RNN_TYPES[config.rnn_type](
        input_size,
        HIDDEN_SIZE,
        num_layers=config.num_layers,
        bidirectional=config.bidirectional,
        batch_first=config.batch_first,
    )
    return rnn.to(env.device, env.dtype).eval()


def padding_mask(batch: Batch, batch_first: bool, env: Env) -> Tensor:
    """1 on real steps, 0 on padding: [B, T] (or [T, B] time-first), int64."""
    lengths = torch.tensor(batch.lengths)
    mask = (torch.arange(max(batch.lengths))[None, :] < lengths[:, None]).long()
    return (mask if batch_first else mask.t().contiguous()).to(env.device)


def build_head(rnn: nn.RNNBase, env: Env) -> nn.Linear:
    """The `head` argument: a seeded linear layer from the RNN's output width to NUM_CLASSES."""
    torch.manual_seed(SEED + 2)
    width = rnn.hidden_size * (2 if rnn.bidirectional else 1)
    return nn.Linear(width, NUM_CLASSES).to(env.device, env.dtype).eval()


def argument(kind: str, batch: Batch, config: Config, env: Env, modules: dict[str, nn.Module]) -> object:
    """A fresh value of this kind (fixtures may sort or mutate what they are given)."""
    if kind in RNN_KINDS:
        return modules["rnn"]
    if kind == "head":
        return modules["head"]
    if kind == "optimizer":
        params = [p for name in ("rnn", "head") if name in modules for p in modules[name].parameters()]
        return torch.optim.SGD(params, lr=0.1)
    if kind == "h_0":
        return None
    seqs = [s.clone() for s in batch.seqs]
    if kind == "windows":
        return torch.stack(seqs, dim=0 if config.batch_first else 1)
    if kind == "token_windows":
        return torch.stack([i.clone() for i in batch.ids], dim=0 if config.batch_first else 1)
    if kind == "seqs":
        return seqs
    if kind == "padded":
        return pad_sequence(seqs, batch_first=config.batch_first)
    if kind == "lengths":
        return torch.tensor(batch.lengths, dtype=torch.int64)
    if kind == "length_list":
        return list(batch.lengths)
    if kind == "tokens":
        return pad_sequence([i.clone() for i in batch.ids], batch_first=config.batch_first, padding_value=0)
    if kind == "mask":
        return padding_mask(batch, config.batch_first, env)
    if kind == "pairs":
        return [(s, int(y)) for s, y in zip(seqs, batch.labels.tolist())]
    if kind == "records":
        return [{"features": s, "label": int(y)} for s, y in zip(seqs, batch.labels.tolist())]
    if kind == "labels":
        return batch.labels.clone()
    if kind == "device":
        return env.device
    if kind == "batch_first":
        return config.batch_first
    raise KeyError(kind)
