from __future__ import annotations

import re

import pytest

from packlint.source import Source, SourceError, decode_text, line_starts


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "x\n",
        "\n\n",
        "a\nbb\nccc",
        "a\r\nb\r\n",
        "a\rb\rc",
        "a\r\nb\nc\rd\n",
        "\u00e9\n\u4e2d\n",
        "x\x0c\ny\x0b\n",
    ],
)
def test_lines_start_after_each_line_ending_and_only_there(text: str) -> None:
    expected = (0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", text)))
    assert line_starts(text) == expected
    source = Source.from_text(text)
    assert [source.line(row) for row in range(1, len(expected) + 1)] == re.split(r"\r\n|\r|\n", text)


def test_decoding_without_mapping_lines_fails_and_succeeds_as_decoding_does() -> None:
    for data in (b"x = 1\n", "# -*- coding: latin-1 -*-\ns = '\u00e9'\n".encode("latin-1"), b"\xef\xbb\xbfy = 2\n"):
        source = Source.decode(data)
        assert decode_text(data) == (source.text, source.encoding, source.bom)
    for bad in (b"x = '\xff'\n", b"a\x00b", b"# coding: nope\n"):
        with pytest.raises(SourceError) as decoded:
            Source.decode(bad)
        with pytest.raises(SourceError) as text_only:
            decode_text(bad)
        assert str(decoded.value) == str(text_only.value)
