"""PKL900 (unused-noqa): off by default; its fixes remove just the stale codes, comment or directive."""

from __future__ import annotations

from packlint.config import Settings
from packlint.engine import check_source

SORTED = (
    "from torch.nn.utils.rnn import pack_sequence\n"
    "def encode(gru, batch):\n"
    "    packed = pack_sequence(batch, enforce_sorted=False){comment}\n"
    "    return gru(packed)\n"
)


def _check(comment: str, **changes: object) -> tuple[list[str], str | None]:
    settings = Settings(extend_select=("PKL900",), strict=True).but(**changes)
    result = check_source(SORTED.format(comment=comment).encode(), "a.py", settings)
    fixed = result.new_source.decode() if result.new_source is not None else None
    return [d.code for d in result.diagnostics], fixed


def test_off_by_default() -> None:
    result = check_source(SORTED.format(comment="  # noqa: PKL104").encode(), "a.py", Settings(strict=True))
    assert result.diagnostics == ()


def test_whole_comment_removed_with_its_spaces() -> None:
    codes, fixed = _check("  # noqa: PKL104", fix=True)
    assert codes == []
    assert fixed == SORTED.format(comment="")


def test_directive_removed_before_a_comment_of_its_own() -> None:
    _, fixed = _check("  # noqa: PKL104  # kept", fix=True)
    assert fixed == SORTED.format(comment="  # kept")


def test_text_after_the_directive_gets_no_fix() -> None:
    codes, fixed = _check("  # noqa: PKL104 -- legacy", fix=True)
    assert codes == ["PKL900"] and fixed is None


def test_only_stale_codes_are_removed() -> None:
    _, fixed = _check("  # noqa: E501, PKL104, W291", fix=True)
    assert fixed == SORTED.format(comment="  # noqa: E501, W291")


def test_a_file_without_trigger_words_is_still_checked_for_noqa() -> None:
    text = b"import os  # noqa: PKL104\n"
    result = check_source(text, "a.py", Settings(extend_select=("PKL900",), strict=True))
    assert [d.code for d in result.diagnostics] == ["PKL900"]
    assert (result.diagnostics[0].location.row, result.diagnostics[0].location.column) == (1, 12)


def test_a_noqa_for_pkl900_itself_silences_it() -> None:
    codes, _ = _check("  # noqa: PKL104, PKL900")
    assert codes == []
