"""PKL010: a file that only pasted invisible spaces stop from parsing is repaired, reported and analysed."""

from __future__ import annotations

import ast

from packlint.config import Settings
from packlint.engine import check_source

NB = "\u00a0"
TUTORIAL = f"""import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

def collate(seqs):
{NB * 4}lengths = [len(s) for s in seqs]
{NB * 4}padded = pad_sequence(seqs, batch_first=True)
{NB * 4}order = torch.argsort(-torch.tensor(lengths))
{NB * 4}padded, lengths = padded[order], lengths[order]
{NB * 4}return pack_padded_sequence(padded, lengths, batch_first=True)
"""


def _check(text: str, **settings: object) -> tuple[list[tuple[str, int]], list[str], bytes | None]:
    result = check_source(text.encode(), "pasted.py", Settings(strict=True).but(**settings))
    return [(d.code, d.location.row) for d in result.diagnostics], [e.reason for e in result.errors], result.new_source


def test_each_line_is_reported_and_the_rest_is_analysed_in_the_same_run() -> None:
    found, errors, _ = _check(TUTORIAL)
    assert errors == []
    assert found == [("PKL010", 5), ("PKL010", 6), ("PKL010", 7), ("PKL010", 8), ("PKL101", 8), ("PKL010", 9)]


def test_fix_replaces_the_spaces_then_fixes_the_rest() -> None:
    _, errors, fixed = _check(TUTORIAL, fix=True)
    assert errors == [] and fixed is not None
    text = fixed.decode()
    assert NB not in text
    ast.parse(text)
    assert "torch.as_tensor(lengths)[order]" in text
    assert text == TUTORIAL.replace(NB, " ").replace("lengths[order]", "torch.as_tensor(lengths)[order]")


def test_spaces_in_strings_and_comments_stay() -> None:
    text = f'x = "a{NB}b"  # c{NB}d\nif x:\n{NB}{NB}y = 1\n'
    assert _check(text, select=("PKL010",))[0] == [("PKL010", 3)]
    _, _, fixed = _check(text, select=("PKL010",), fix=True)
    assert fixed is not None and fixed.decode() == f'x = "a{NB}b"  # c{NB}d\nif x:\n  y = 1\n'


def test_a_real_syntax_error_is_still_reported_as_one() -> None:
    found, errors, _ = _check(f"def f(:  # pack_sequence\n{NB}{NB}return 1\n")
    assert found == [] and len(errors) == 1 and errors[0].startswith("syntax error")


def test_unselected_rule_leaves_the_syntax_error() -> None:
    found, errors, _ = _check(TUTORIAL, ignore=("PKL010",))
    assert found == [] and len(errors) == 1 and "U+00A0" in errors[0]


def test_zero_width_space_is_not_replaced() -> None:
    _, errors, _ = _check("x\u200b = 1  # pack_sequence\n")
    assert len(errors) == 1


def test_crlf_line_endings_survive_the_fix() -> None:
    text = f"if True:\r\n{NB}{NB}x = 1\r\n"
    assert _check(text, select=("PKL010",))[0] == [("PKL010", 2)]
    _, _, fixed = _check(text, select=("PKL010",), fix=True)
    assert fixed == b"if True:\r\n  x = 1\r\n"


def test_a_fix_touching_a_pasted_space_waits_for_the_next_pass() -> None:
    text = TUTORIAL.replace("padded[order], lengths[order]", f"padded[order],{NB}lengths[order]")
    result = check_source(text.encode(), "pasted.py", Settings(strict=True))
    fixes = {d.code: d.fix for d in result.diagnostics if d.location.row == 8}
    assert fixes["PKL010"] is not None and fixes["PKL101"] is None  # it touches the space before `lengths`
    _, errors, fixed = _check(text, fix=True)
    assert errors == [] and fixed is not None
    assert fixed.decode() == TUTORIAL.replace(NB, " ").replace("lengths[order]", "torch.as_tensor(lengths)[order]")


def test_a_fix_elsewhere_on_the_line_is_offered_at_once() -> None:
    result = check_source(TUTORIAL.encode(), "pasted.py", Settings(strict=True))
    assert [d.fix is not None for d in result.diagnostics if d.code == "PKL101"] == [True]
