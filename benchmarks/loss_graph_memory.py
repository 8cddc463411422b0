"""PKL303's symptom: resident memory of a training loop that sums `loss` (tensor) against `loss.item()`.

Run: python benchmarks/loss_graph_memory.py tensor 20000; python benchmarks/loss_graph_memory.py item 20000
(Linux: reads /proc/self/statm). Prints the growth in MiB, the accumulator's type and its grad_fn.
"""

import os
import sys
import warnings

import torch

warnings.filterwarnings("ignore")
torch.manual_seed(0)
torch.set_num_threads(1)


def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(mode, steps):
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 64), torch.randn(32, 1)
    total = 0.0
    start = rss()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        total += loss if mode == "tensor" else loss.item()
    return rss() - start, type(total).__name__, getattr(total, "grad_fn", None)


if __name__ == "__main__":
    print(sys.argv[1], run(sys.argv[1], int(sys.argv[2])))
