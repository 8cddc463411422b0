"""Decoding a file's bytes and mapping parser positions to characters, keeping BOM and encoding."""

from __future__ import annotations

import codecs
import io
import operator
import re
import tokenize
from dataclasses import dataclass, replace
from itertools import accumulate, repeat

from packlint.diagnostics import Location

_NEWLINE = re.compile(r"\r\n|\r|\n")


class SourceError(Exception):
    """The bytes are not Python source that we can decode."""


@dataclass(frozen=True)
class Source:
    """Decoded text of one file plus what it takes to write it back byte-for-byte."""

    text: str
    encoding: str
    bom: bool
    line_starts: tuple[int, ...]

    @classmethod
    def decode(cls, data: bytes) -> Source:
        """Decode like the interpreter does (PEP 263 cookie, BOM); raise SourceError if we cannot."""
        text, codec, bom = decode_text(data)
        return cls(text, codec, bom, line_starts(text))

    @classmethod
    def from_text(cls, text: str) -> Source:
        """A source already decoded (as flake8 hands it over), taken as UTF-8 without a BOM."""
        return cls(text, "utf-8", False, line_starts(text))

    def encode(self, text: str) -> bytes:
        """Bytes for `text` in this file's encoding, with its BOM if it had one."""
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode(self.encoding)

    def but(self, **changes: object) -> Source:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def newline(self) -> str:
        """The line ending the file uses first (new lines we insert follow it)."""
        m = _NEWLINE.search(self.text)
        return m.group() if m else "\n"

    def line(self, row: int) -> str:
        """Text of 1-based `row`, without its line ending."""
        start = self.line_starts[row - 1]
        end = self.line_starts[row] if row < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def offset(self, row: int, byte_col: int) -> int:
        """Character offset of a parser position (1-based row, UTF-8 byte column)."""
        line = self.line(row)
        if line.isascii():
            return self.line_starts[row - 1] + byte_col
        return self.line_starts[row - 1] + len(line.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))

    def location(self, offset: int) -> Location:
        """1-based row and column of a character offset."""
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return Location(lo + 1, offset - self.line_starts[lo] + 1)


def decode_text(data: bytes) -> tuple[str, str, bool]:
    """A file's text, codec and whether it had a BOM, decoded like the interpreter does (PEP 263 cookie,
    BOM); raise SourceError if it cannot be. What `Source.decode` does, without mapping the lines."""
    if b"\x00" in data:
        raise SourceError("binary file (contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        # detect_encoding also rejects undecodable bytes in the first two lines: say which.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise SourceError(f"not valid UTF-8: byte {bad.start} cannot be decoded") from None
        raise SourceError(f"cannot determine encoding: {exc}") from None
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if codec == "utf-8" else codec
        raise SourceError(f"not valid {name}: byte {exc.start} cannot be decoded") from None
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}") from None
    return text, codec, bom


def line_starts(text: str) -> tuple[int, ...]:
    """The offset where each line starts (a line ends at `\\r\\n`, `\\r` or `\\n`)."""
    if "\r" in text:
        return (0, *(m.end() for m in _NEWLINE.finditer(text)))
    # Without a carriage return every line ends at a newline: its start is the previous start plus the previous
    # line's length plus one, summed in C.
    return tuple(accumulate(map(operator.add, map(len, text.split("\n")[:-1]), repeat(1)), initial=0))
