"""Ground truth by definition: the same RNN, same weights, each sequence run alone and unpadded."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Expected:
    """What a correct batch computation returns, in caller order."""

    inputs: tuple[Tensor, ...]  # the sequences as given: what a `packed` result must hold
    lengths: tuple[int, ...]
    labels: Tensor | None
    outputs: tuple[Tensor, ...] | None = None  # per sequence, per step: [L_i, D*H]
    h_n: Tensor | None = None  # [num_layers*D, B, H]
    c_n: Tensor | None = None  # LSTM only
    bidirectional: bool = False
    head: nn.Module | None = None  # what `head(...)` and `loss` pass results through

    def with_head(self, head: nn.Module | None) -> Expected:
        """The same expectations, with a copy of `head` as it is now (the fixture may train the original)."""
        return replace(self, head=copy.deepcopy(head))

    def through_head(self, value: Tensor) -> Tensor:
        """`value` passed through the head (no gradient)."""
        assert self.head is not None
        with torch.no_grad():
            return self.head(value)  # type: ignore[no-any-return]

    @property
    def loss(self) -> Tensor:
        """Cross-entropy of the head's scores for the representation against the labels."""
        assert self.labels is not None
        return torch.nn.functional.cross_entropy(self.through_head(self.representation), self.labels)

    @property
    def last(self) -> Tensor:
        """The output at each sequence's last real step: [B, D*H]."""
        assert self.outputs is not None
        return torch.stack([out[-1] for out in self.outputs])

    @property
    def representation(self) -> Tensor:
        """The last layer's final state, both directions concatenated when bidirectional: [B, D*H]."""
        assert self.h_n is not None
        if self.bidirectional:
            return torch.cat((self.h_n[-2], self.h_n[-1]), dim=-1)
        return self.h_n[-1]


def find_rnn(module: nn.Module) -> nn.RNNBase:
    """The one RNN inside a module (a class entry); ValueError if there is none or several."""
    found = [m for m in module.modules() if isinstance(m, nn.RNNBase)]
    if len(found) != 1:
        raise ValueError(f"{type(module).__name__} holds {len(found)} RNN modules; the contract needs exactly one")
    return found[0]


def find_linear(module: nn.Module) -> nn.Linear:
    """The one linear layer inside a module: the head of `head(kind)` and `loss`."""
    found = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if len(found) != 1:
        raise ValueError(f"{type(module).__name__} holds {len(found)} nn.Linear; `head(...)` needs exactly one")
    return found[0]


def find_embedding(module: nn.Module) -> nn.Embedding:
    """The one embedding inside a module, which turns `tokens` into the RNN's input."""
    found = [m for m in module.modules() if isinstance(m, nn.Embedding)]
    if len(found) != 1:
        raise ValueError(f"{type(module).__name__} holds {len(found)} embeddings; `tokens` needs exactly one")
    return found[0]


def data_only(inputs: Sequence[Tensor], labels: Tensor | None) -> Expected:
    """Expectations for code that builds no RNN result (a collate function)."""
    return Expected(tuple(s.detach() for s in inputs), tuple(len(s) for s in inputs), labels)


def run_alone(
    rnn: nn.RNNBase, rnn_inputs: Sequence[Tensor], inputs: Sequence[Tensor], labels: Tensor | None
) -> Expected:
    """Run `rnn` on each sequence by itself (a batch of one, no padding) and collect the results."""
    batch_dim = 0 if rnn.batch_first else 1
    outputs, hs, cs = [], [], []
    with torch.no_grad():
        for x in rnn_inputs:
            out, state = rnn(x.unsqueeze(batch_dim))
            outputs.append(out.squeeze(batch_dim))
            if isinstance(state, tuple):
                hs.append(state[0])
                cs.append(state[1])
            else:
                hs.append(state)
    return Expected(
        inputs=tuple(s.detach() for s in inputs),
        lengths=tuple(len(s) for s in inputs),
        labels=labels,
        outputs=tuple(outputs),
        h_n=torch.cat(hs, dim=1),
        c_n=torch.cat(cs, dim=1) if cs else None,
        bidirectional=rnn.bidirectional,
    )
