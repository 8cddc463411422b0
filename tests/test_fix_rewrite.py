"""Fixes rewritten through libcst keep layout: parentheses, comments, continuation lines, line endings."""

from __future__ import annotations

import ast
from dataclasses import replace

from packlint.config import Settings
from packlint.diagnostics import Applicability, Fix, Location
from packlint.engine import Plan, check_source, fix_source, lint_text
from packlint.fixes.apply import materialise, text_edits
from packlint.fixes.changes import SetKeyword, Target
from packlint.source import Source

FIX = Settings(select=("ALL",), fix=True, strict=True)
CHECK = Settings(select=("ALL",), strict=True)

COLLATE = (
    "from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence\n"
    "\n"
    "\n"
    "def collate(seqs):\n"
    "    lengths = [len(s) for s in seqs]\n"
    "    padded = pad_sequence(seqs, batch_first=True)\n"
    "    return {call}\n"
)


def fixed(text: str, settings: Settings = FIX) -> str:
    result = check_source(text.encode("utf-8"), "t.py", settings)
    assert result.errors == (), result.errors
    assert result.new_source is not None, "no fix was applied"
    return result.new_source.decode("utf-8")


def test_keyword_lands_after_a_parenthesised_argument() -> None:
    text = COLLATE.format(call="pack_padded_sequence(padded, (lengths), batch_first=True)")
    assert "pack_padded_sequence(padded, (lengths), batch_first=True, enforce_sorted=False)" in fixed(text)
    text = COLLATE.format(call="pack_padded_sequence(padded, (lengths))")
    out = fixed(text)  # PKL104 and PKL112 both add a keyword after `(lengths)`, in two passes
    assert "pack_padded_sequence(padded, (lengths), enforce_sorted=False, batch_first=True)" in out


def test_keyword_follows_one_argument_per_line_and_keeps_comments() -> None:
    call = (
        "pack_padded_sequence(\n"
        "        padded,  # the batch\n"
        "        lengths,  # one per sequence\n"
        "        batch_first=True,\n"
        "    )"
    )
    out = fixed(COLLATE.format(call=call))
    assert "        batch_first=True,\n        enforce_sorted=False,\n    )" in out
    assert "# the batch" in out and "# one per sequence" in out


def test_one_line_loop_body_after_a_continuation_line() -> None:
    text = (
        "def train(model, optimizer, loader, loss_fn):\n"
        "    for inputs, targets in \\\n"
        "            loader: loss = loss_fn(model(inputs), targets); loss.backward(); optimizer.step()\n"
        "    return model\n"
    )
    out = fixed(text)
    assert "loader: optimizer.zero_grad(); loss = loss_fn(model(inputs), targets);" in out
    ast.parse(out)


def test_inserted_line_takes_its_neighbours_line_ending() -> None:
    text = (
        "# written on Linux, loop pasted from Windows\n"
        "def train(model, optimizer, loader, loss_fn):\r\n"
        "    for inputs, targets in loader:\r\n"
        "        loss = loss_fn(model(inputs), targets)\r\n"
        "        loss.backward()\r\n"
        "        optimizer.step()\r\n"
        "    return model\n"
    )
    out = fixed(text)
    assert "    for inputs, targets in loader:\r\n        optimizer.zero_grad()\r\n        loss =" in out
    assert out.startswith("# written on Linux, loop pasted from Windows\n")
    assert out.endswith("    return model\n")


def test_reset_after_the_step_keeps_the_step_lines_ending() -> None:
    text = (
        "def train(model, optimizer, loader, loss_fn):\n"
        "    for inputs, targets in loader:\r\n"
        "        optimizer.step()  # apply last batch\r\n"
        "        loss = loss_fn(model(inputs), targets)\n"
        "        loss.backward()\n"
        "    return model\n"
    )
    out = fixed(text)
    assert "        optimizer.step()  # apply last batch\r\n        optimizer.zero_grad()\r\n        loss" in out


def test_moved_reset_keeps_its_comment_and_the_comment_above() -> None:
    text = (
        "def train(model, optimizer, loader, loss_fn):\n"
        "    for inputs, targets in loader:\n"
        "        loss = loss_fn(model(inputs), targets)\n"
        "        loss.backward()\n"
        "        # fresh gradients for the step\n"
        "        optimizer.zero_grad()  # reset\n"
        "        optimizer.step()\n"
        "    return model\n"
    )
    out = fixed(text)
    assert (
        "        # fresh gradients for the step\n        optimizer.step()\n        optimizer.zero_grad()  # reset\n"
        in out
    )


def test_comment_inside_a_wrapped_expression_survives() -> None:
    text = (
        "import torch\n"
        "from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence\n"
        "\n"
        "\n"
        "def collate(seqs):\n"
        "    lengths = [len(s) for s in seqs]\n"
        "    order = torch.argsort(-torch.tensor(lengths))\n"
        "    padded = pad_sequence(seqs, batch_first=True)[order]\n"
        "    return pack_padded_sequence(padded, lengths[  # sorted like the batch\n"
        "        order], batch_first=True)\n"
    )
    out = fixed(text)
    assert "torch.as_tensor(lengths)[  # sorted like the batch\n        order]" in out


def test_no_fix_where_it_would_delete_a_comment() -> None:
    text = (
        "from torch.nn.utils.rnn import pack_padded_sequence\n"
        "\n"
        "\n"
        "def encode(gru, padded, lengths, device):\n"
        "    packed = pack_padded_sequence(padded, lengths.to(  # the GPU\n"
        "        device), batch_first=True, enforce_sorted=False)\n"
        "    return gru(packed)\n"
    )
    (d,) = [d for d in check_source(text.encode(), "t.py", CHECK).diagnostics if d.code == "PKL111"]
    assert d.fix is None
    plain = text.replace("lengths.to(  # the GPU\n        device)", "lengths.to(device)")
    (d,) = [d for d in check_source(plain.encode(), "t.py", CHECK).diagnostics if d.code == "PKL111"]
    assert d.fix is not None and d.fix.applicability is Applicability.SAFE


def test_a_fix_that_cannot_be_applied_leaves_the_others_applied() -> None:
    text = COLLATE.format(call="pack_padded_sequence(padded, lengths, batch_first=True)")
    source = Source.decode(text.encode())
    plan = Plan.from_settings(FIX)
    diagnostics, _ = lint_text(text, source, plan.codes, True)
    (good,) = diagnostics
    nowhere = Fix(Applicability.SAFE, "Do it", changes=(SetKeyword(Target("call", 99, 0, 99, 5), "x", "1"),))
    broken = replace(good, code="PKL999", message="elsewhere", location=Location(99, 1), fix=nowhere)
    result = fix_source("t.py", source, [good, broken], plan)
    assert result.new_source is not None
    assert b"enforce_sorted=False" in result.new_source
    (error,) = result.errors
    assert "PKL999" in error.reason and "PKL104" not in error.reason


def test_json_edits_are_minimal_text_edits() -> None:
    text = COLLATE.format(call="pack_padded_sequence(padded, lengths, batch_first=True)")
    result = check_source(text.encode(), "t.py", CHECK.but(fix_edits=True))
    (d,) = result.diagnostics
    assert d.fix is not None
    (edit,) = d.fix.edits
    assert edit.content == ", enforce_sorted=False"
    assert edit.start == edit.end == text.rindex("batch_first=True)\n") + len("batch_first=True")
    assert (edit.location.row, edit.location.column) == (7, 66)


def test_text_edits_split_a_move_into_two_line_edits() -> None:
    old = "a\nb\nc\nd\ne\n"
    new = "a\nc\nd\nb\ne\n"
    source = Source.from_text(old)
    edits = text_edits(source, old, new)
    assert [(e.start, e.end, e.content) for e in edits] == [(2, 4, ""), (8, 8, "b\n")]


def test_a_plain_check_leaves_fixes_unmaterialised() -> None:
    text = COLLATE.format(call="pack_padded_sequence(padded, lengths, batch_first=True)")
    (d,) = check_source(text.encode(), "t.py", CHECK).diagnostics
    assert d.fix is not None and d.fix.edits == () and d.fix.changes
    (made,) = materialise(Source.decode(text.encode()), [d.fix])
    assert made.error is None and made.fix.edits


def test_lines_inserted_around_a_with_block_keep_its_comments_and_line_endings() -> None:
    text = (
        "import torch\n"
        "from torch import nn\n"
        "\n"
        "\n"
        "def fit(loader):\n"
        "    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))\n"
        "    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    for epoch in range(2):\r\n"
        "        for x in loader:\r\n"
        "            optimizer.zero_grad()\r\n"
        "            model(x).sum().backward()\r\n"
        "            optimizer.step()\r\n"
        "        # score the epoch\r\n"
        "        with torch.no_grad():  # no graph\r\n"
        "            scores = [model(x) for x in loader]\r\n"
        "    return scores\n"
    )
    out = fixed(text, replace(FIX, unsafe_fixes=True))
    assert (
        "        # score the epoch\r\n"
        "        model.eval()\r\n"
        "        with torch.no_grad():  # no graph\r\n"
        "            scores = [model(x) for x in loader]\r\n"
        "        model.train()\r\n"
        "    return scores\n"
    ) in out
    assert check_source(out.encode("utf-8"), "t.py", CHECK).diagnostics == ()
