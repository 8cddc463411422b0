"""Generated programs through check and fix: nothing crashes, fixes re-parse and settle.

Two sources of programs: hypothesmith's grammar-derived Python (odd syntax the rules must survive)
and snippets assembled from packing and training-loop building blocks, nested in loops, branches,
`with` and `try`, so that the rules actually fire and their fixes are exercised. A third test
checks that torch's largest source file is analysed within a generous memory bound.
"""

from __future__ import annotations

import ast
import importlib.util
import tracemalloc
from pathlib import Path
from typing import Union

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packlint.config import Settings
from packlint.engine import Plan, apply_edits, check_source, fix_source, lint_text
from packlint.fixes.apply import materialise
from packlint.source import Source

CHECK = Settings(select=("ALL",), strict=True)
FIX = CHECK.but(fix=True, unsafe_fixes=True)
# Words that every rule family's prefilter looks for, so that generated code is always analysed.
TRIGGERS = "# loss.backward() pack_padded_sequence LSTM\n"
FAIR_ERRORS = ("syntax error", "cannot parse")

IMPORTS = {
    "names": (
        "import torch\nfrom torch import nn\n"
        "from torch.nn.utils.rnn import pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence\n",
        "",
    ),
    "module": ("import torch\nimport torch.nn as nn\nimport torch.nn.utils.rnn as R\n", "R."),
}

PACKING = (
    "lengths = [len(s) for s in batch]",
    "lengths = torch.tensor([len(s) for s in batch])",
    "lengths = (tokens != 0).sum(dim=1)",
    "lengths, perm = lengths.sort(descending=True)",
    "lengths, perm = torch.sort(lengths)",
    "order = torch.argsort(lengths, descending=True)",
    "lengths = lengths[order]",
    "batch.sort(key=len, reverse=True)",
    "batch = sorted(batch, key=len)",
    "padded = {R}pad_sequence(batch, batch_first=True)",
    "padded = {R}pad_sequence(batch)",
    "padded = padded[perm]",
    "padded = padded.index_select(0, order)",
    "lengths = lengths.cuda()",
    "lengths = lengths.to(device)",
    "lengths = lengths.cpu()",
    "packed = {R}pack_padded_sequence(padded, lengths, batch_first=True)",
    "packed = {R}pack_padded_sequence(padded, lengths, enforce_sorted=False)",
    "packed = {R}pack_padded_sequence(padded, lengths.cpu(), batch_first=True, enforce_sorted=True)",
    "packed = {R}pack_sequence(batch)",
    "out, h_n = rnn(packed)",
    "out, (h_n, c_n) = self.rnn(packed)",
    "out, h_n = rnn(padded)",
    "out, _ = {R}pad_packed_sequence(out, batch_first=True)",
    "out, lens = {R}pad_packed_sequence(out)",
    "last = out[:, -1]",
    "last = out[:, -1, :]",
    "last = out[-1]",
    "last = h_n[-1]",
    "last = torch.cat((h_n[-2], h_n[-1]), dim=-1)",
    "out = out[perm.argsort()]",
    "logits = head(last)",
    "loss = loss_fn(logits, labels)",
    "return out",
    "return last, perm",
    "rnn = nn.LSTM(8, 16, batch_first=True, bidirectional=True)",
    "rnn = nn.GRU(8, 16)",
)

# Whole recipes from the rule catalogue, so that every rule has code to fire on.
RECIPES = (
    "lengths = [len(s) for s in batch]\n"
    "order = torch.argsort(torch.tensor(lengths), descending=True)\n"
    "padded = {R}pad_sequence(batch, batch_first=True)\n"
    "padded, lengths = padded[order], lengths[order]",
    "lengths = torch.tensor([len(s) for s in batch])\n"
    "padded = {R}pad_sequence(batch, batch_first=True)\n"
    "lengths, perm = lengths.sort(descending=True)\n"
    "packed = {R}pack_padded_sequence(padded, lengths, batch_first=True)",
    "rnn = nn.GRU(8, 16, batch_first=True)\n"
    "lengths, perm = torch.tensor([len(s) for s in batch]).sort(descending=True)\n"
    "padded = {R}pad_sequence(batch, batch_first=True)[perm]\n"
    "out, h_n = rnn({R}pack_padded_sequence(padded, lengths, batch_first=True))\n"
    "out, _ = {R}pad_packed_sequence(out, batch_first=True)\n"
    "return out",
    "lengths = torch.tensor([len(s) for s in batch]).cuda()\n"
    "packed = {R}pack_padded_sequence({R}pad_sequence(batch), lengths, enforce_sorted=False)",
    "rnn = nn.LSTM(8, 16, batch_first=True, bidirectional=True)\n"
    "packed = {R}pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)\n"
    "out, (h_n, c_n) = rnn(packed)\n"
    "out, _ = {R}pad_packed_sequence(out, batch_first=True)\n"
    "return out[:, -1], h_n[-1]",
    "rnn = nn.GRU(8, 16, batch_first=True)\n"
    "padded = {R}pad_sequence(batch, batch_first=True)\n"
    "lengths = [len(s) for s in batch]\n"
    "out, h_n = rnn(padded)\n"
    "return h_n[-1], out[:, -1]",
    "padded = {R}pad_sequence(batch, batch_first=True)\n"
    "packed = {R}pack_padded_sequence(padded, lengths, enforce_sorted=False)",
)

TRAINING = (
    "optimizer.zero_grad()",
    "optimizer.zero_grad(set_to_none=True)",
    "model.zero_grad()",
    "loss = loss_fn(model(inputs), targets)",
    "loss.backward()",
    "scaler.scale(loss).backward()",
    "accelerator.backward(loss)",
    "optimizer.step()",
    "scaler.step(optimizer)",
    "scaler.update()",
    "scheduler.step()",
    "g_optimizer.step()",
    "optimizer.step(closure)",
    "clear_gradients(model)",
    "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
    "optimizer.zero_grad(); optimizer.step()",
    "loss.backward(); optimizer.step()",
    "optimizer.zero_grad()  # reset before the step",
    "for inputs, targets in loader: loss_fn(model(inputs), targets).backward(); optimizer.step()",
    "loss = loss_fn(\n    model(inputs),\n    targets,\n)",
    "optimizer.step(\n)",
    "@torch.no_grad()\ndef closure():\n    return loss_fn(model(inputs), targets)",
    "continue",
    "break",
)

HEADERS = (
    "for inputs, targets in loader:",
    "for i, (inputs, targets) in enumerate(loader):",
    "for p in model.parameters():",
    "while step < steps:",
    "if (i + 1) % 4 == 0:",
    "with torch.autocast('cpu'):",
    "with torch.no_grad():",
    "try:",
)

Tree = Union[str, tuple[str, list["Tree"]]]  # a run-time alias: `|` on classes needs Python 3.10


def statements(pool: tuple[str, ...]) -> st.SearchStrategy[list[Tree]]:
    """Lists of statements from `pool`, some nested under loop, branch, with and try headers."""
    leaf: st.SearchStrategy[Tree] = st.sampled_from(pool + RECIPES)
    trees = st.recursive(
        leaf,
        lambda inner: st.tuples(st.sampled_from(HEADERS), st.lists(inner, min_size=1, max_size=5)),
        max_leaves=14,
    )
    return st.lists(trees, min_size=1, max_size=8)


def render(body: list[Tree], indent: str, depth: int) -> list[str]:
    """Source lines for a statement tree; a `try` gets its `except`."""
    lines: list[str] = []
    pad = indent * depth
    for node in body:
        if isinstance(node, str):
            lines.extend(pad + line for line in node.split("\n"))
            continue
        header, children = node
        lines.append(pad + header)
        lines.extend(render(children, indent, depth + 1))
        if header == "try:":
            lines += [pad + "except Exception:", pad + indent + "pass"]
    return lines


@st.composite
def snippets(draw: st.DrawFn) -> str:
    """A module of packing and training-loop code that the rules have something to say about."""
    imports, prefix = IMPORTS[draw(st.sampled_from(sorted(IMPORTS)))]
    indent = draw(st.sampled_from(("    ", "  ", "\t")))
    newline = draw(st.sampled_from(("\n", "\r\n")))
    lines = [TRIGGERS.rstrip("\n"), *imports.rstrip("\n").split("\n"), ""]
    lines += ["def clear_gradients(model):", f"{indent}for p in model.parameters():", f"{indent * 2}p.grad = None", ""]
    functions = draw(st.lists(st.sampled_from(("packing", "training", "method")), min_size=1, max_size=3))
    for n, kind in enumerate(functions):
        pool = TRAINING if kind == "training" else PACKING
        body = draw(statements(pool + (TRAINING if draw(st.booleans()) else ())))
        if kind == "method":
            lines += [f"class Model{n}(nn.Module):", f"{indent}def forward(self, batch, tokens, device):"]
            lines += render(body, indent, 2)
        else:
            params = "model, optimizer, loader, loss_fn, scaler, scheduler, rnn, batch, tokens, device, step, steps"
            lines += [f"def f{n}({params}):"]
            lines += render(body, indent, 1)
        lines.append("")
    end = newline if draw(st.booleans()) else ""  # some files end without a newline
    return newline.join(line.replace("{R}", prefix) for line in lines).rstrip(newline) + end


def assert_checks_and_fixes_cleanly(text: str) -> None:
    """No crash, no internal error; each fix alone and all fixes together re-parse; fixes settle."""
    data = text.encode("utf-8")
    result = check_source(data, "generated.py", CHECK)
    assert all(e.reason.startswith(FAIR_ERRORS) for e in result.errors), result.errors
    if result.errors:
        return
    source = Source.decode(data)
    for d in result.diagnostics:
        if d.fix is not None:
            (made,) = materialise(source, [d.fix])
            assert made.error is None, (d.code, made.error)
            alone, _ = apply_edits(text, [made.fix])
            ast.parse(alone)  # a SyntaxError here fails the test with the fix's code in the traceback
    fixed = check_source(data, "generated.py", FIX)
    assert fixed.errors == (), fixed.errors
    if fixed.new_source is not None:
        ast.parse(fixed.new_source)
        again = check_source(fixed.new_source, "generated.py", FIX)
        assert again.errors == () and again.new_source is None, "a second fix pass changed the file"


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@SETTINGS
@given(snippets())
def test_generated_snippets_check_and_fix_cleanly(text: str) -> None:
    assert_checks_and_fixes_cleanly(text)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(hypothesmith.from_grammar(), snippets())
def test_grammar_programs_check_and_fix_cleanly(program: str, snippet: str) -> None:
    assert_checks_and_fixes_cleanly(TRIGGERS + program)
    # The same odd code in front of code that the rules fire on (the snippet brings its own imports).
    assert_checks_and_fixes_cleanly(program.rstrip("\\ \t\r\n") + "\n" + snippet.replace("\r\n", "\n"))


def test_largest_torch_file_stays_within_memory_bound() -> None:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("torch is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    largest = max(root.rglob("*.py"), key=lambda p: p.stat().st_size)
    data = largest.read_bytes()
    source = Source.decode(data)
    plan = Plan.from_settings(FIX.but(strict=False))
    tracemalloc.start()
    try:
        # The analysis and every rule, bypassing the prefilter, then the fix loop.
        diagnostics, errors = lint_text(source.text, source, plan.codes, plan.strict)
        fix_source(str(largest), source, diagnostics, plan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not [e for e in errors if e.reason.startswith("internal error")]
    # Measured with torch 2.13: about 75 bytes per source byte (99 MiB for 1.4 MB); allow about three times that.
    assert peak < 200 * len(data) + 64 * 2**20, f"{largest.name}: {len(data)} bytes, peak {peak / 2**20:.0f} MiB"
