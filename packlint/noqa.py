"""Suppression comments: `# noqa`, `# noqa: PKL101, PKL104` and `# packlint: skip-file`."""

from __future__ import annotations

import io
import re
import tokenize

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)
_SKIP_FILE = re.compile(r"^[ \t]*#[ \t]*packlint:[ \t]*skip-file[ \t]*$", re.M)

ALL = frozenset({"*"})


def skips_file(text: str) -> bool:
    """Whether the file opts out entirely with a `# packlint: skip-file` line."""
    return "skip-file" in text and _SKIP_FILE.search(text) is not None


def noqa_rows(text: str) -> dict[int, frozenset[str]]:
    """For each row with a noqa comment, the codes it suppresses (ALL for a bare `# noqa`)."""
    if "noqa" not in text.lower():
        return {}
    rows: dict[int, frozenset[str]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.COMMENT:
                continue
            match = _NOQA.search(token.string)
            if match is None:
                continue
            codes = match.group("codes")
            rows[token.start[0]] = (
                ALL if codes is None else frozenset(c.upper() for c in re.split(r"[,\s]+", codes) if c)
            )
    except (tokenize.TokenError, SyntaxError):
        return rows
    return rows


def suppressed(code: str, row: int, rows: dict[int, frozenset[str]]) -> bool:
    """Whether a diagnostic of `code` starting on `row` is suppressed."""
    codes = rows.get(row)
    return codes is not None and (codes is ALL or code in codes)
