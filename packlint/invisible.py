"""Invisible spaces pasted from a web page: where they stop a file from parsing, and the text without them."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

# Characters that render as a space but that Python rejects outside strings and comments (`invalid
# non-printable character U+00A0`). Each is replaced by one ASCII space, so every character offset, and
# the column a monospaced editor showed, stays where it was. Zero-width characters are left alone:
# deleting them would move every offset after them, and a space in their place would shift indentation.
INVISIBLE = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_FOUND = re.compile(f"[{INVISIBLE}]")
_TO_SPACE = str.maketrans(dict.fromkeys(INVISIBLE, " "))
_LITERAL_TOKENS = {tokenize.STRING, tokenize.COMMENT}
# Python 3.12 splits f-strings into tokens; only their literal text is a string.
_FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", None)
if _FSTRING_MIDDLE is not None:
    _LITERAL_TOKENS.add(_FSTRING_MIDDLE)


@dataclass(frozen=True)
class Repair:
    """A file that parses once its pasted spaces outside strings and comments are ordinary spaces."""

    text: str  # the repaired text: same length, same offsets
    tree: ast.Module
    offsets: tuple[int, ...]  # character offsets of the replaced characters, ascending
    chars: str  # the characters that were there, one per offset


def repair(text: str) -> Repair | None:
    """The repair of `text` when invisible spaces are all that stops it from parsing, else None."""
    found = [m.start() for m in _FOUND.finditer(text)]
    if not found:
        return None
    cleaned = text.translate(_TO_SPACE)
    try:
        ast.parse(cleaned)
        literal = literal_spans(cleaned)
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError):
        return None
    # Inside a string or a comment the character is the program's data: it stays.
    replaced = tuple(i for i in found if not any(lo <= i < hi for lo, hi in literal))
    if not replaced:
        return None
    chars = list(text)
    for i in replaced:
        chars[i] = " "
    fixed = "".join(chars)
    try:
        tree = ast.parse(fixed)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return Repair(fixed, tree, replaced, "".join(text[i] for i in replaced))


def literal_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of the string literals and comments of `text` (which must tokenize)."""
    starts = [0]
    for line in io.StringIO(text):
        starts.append(starts[-1] + len(line))
    spans = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in _LITERAL_TOKENS:
            (srow, scol), (erow, ecol) = token.start, token.end
            spans.append((starts[srow - 1] + scol, starts[erow - 1] + ecol))
    return spans


def runs(offsets: tuple[int, ...]) -> list[tuple[int, int]]:
    """Consecutive offsets as `(start, end)` ranges."""
    ranges: list[tuple[int, int]] = []
    for i in offsets:
        if ranges and ranges[-1][1] == i:
            ranges[-1] = (ranges[-1][0], i + 1)
        else:
            ranges.append((i, i + 1))
    return ranges
