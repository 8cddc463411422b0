"""Suppression comments: `# noqa`, `# noqa: PKL101, PKL104` and `# packlint: skip-file`."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from packlint.diagnostics import Diagnostic

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)
_SKIP_FILE = re.compile(r"^[ \t]*#[ \t]*packlint:[ \t]*skip-file[ \t]*$", re.M)

ALL = frozenset({"*"})


def skips_file(text: str) -> bool:
    """Whether the file opts out entirely with a `# packlint: skip-file` line."""
    return "skip-file" in text and _SKIP_FILE.search(text) is not None


def noqa_rows(text: str) -> dict[int, frozenset[str]]:
    """For each row with a noqa comment, the codes it suppresses (ALL for a bare `# noqa`)."""
    rows: dict[int, frozenset[str]] = {}
    for token, match in _noqa_comments(text):
        codes = match.group("codes")
        rows[token.start[0]] = ALL if codes is None else frozenset(c.upper() for c in re.split(r"[,\s]+", codes) if c)
    return rows


def _noqa_comments(text: str) -> Iterator[tuple[tokenize.TokenInfo, re.Match[str]]]:
    """Each comment token holding a noqa directive, with the directive's match; a file that does not
    tokenize to its end gives the comments before the error."""
    if "noqa" not in text.lower():
        return
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                match = _NOQA.search(token.string)
                if match is not None:
                    yield token, match
    except (tokenize.TokenError, SyntaxError):
        return


def suppressed(code: str, row: int, rows: dict[int, frozenset[str]]) -> bool:
    """Whether a diagnostic of `code` starting on `row` is suppressed."""
    codes = rows.get(row)
    return codes is not None and (codes is ALL or code in codes)


def _comment_rows(text: str) -> tuple[dict[int, tokenize.TokenInfo], set[int]]:
    """Each row's comment token, and the rows whose end is inside a token (a multi-line string) or
    continued by a backslash: a comment cannot be added there."""
    comments: dict[int, tokenize.TokenInfo] = {}
    blocked: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token
        elif token.end[0] > token.start[0] and token.type not in (tokenize.NL, tokenize.NEWLINE):
            blocked.update(range(token.start[0], token.end[0]))
    for row, line in enumerate(text.splitlines(), 1):
        if line.rstrip().endswith("\\") and row not in comments:
            blocked.add(row)
    return comments, blocked


def add_noqa(text: str, diagnostics: Iterable[Diagnostic]) -> tuple[str, int, int]:
    """`text` with `# noqa: CODE` on each diagnostic's noqa row, merged into a noqa comment already there;
    returns the text, how many rows changed, and how many diagnostics could not take a comment."""
    wanted: dict[int, set[str]] = {}
    for d in diagnostics:
        wanted.setdefault(d.noqa_row, set()).add(d.code)
    try:
        comments, blocked = _comment_rows(text)
    except (tokenize.TokenError, SyntaxError):
        return text, 0, sum(len(c) for c in wanted.values())
    lines = text.splitlines(keepends=True)
    changed = skipped = 0
    for row, codes in sorted(wanted.items()):
        if row in blocked or not 0 < row <= len(lines):
            skipped += len(codes)
            continue
        line = lines[row - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        comment = comments.get(row)
        match = _NOQA.search(comment.string) if comment is not None else None
        if comment is not None and match is not None:
            if match.group("codes") is None:
                continue  # a bare noqa comment already suppresses everything
            present = [c for c in re.split(r"[,\s]+", match.group("codes")) if c]
            merged = present + sorted(codes - {c.upper() for c in present})
            start = comment.start[1] + match.start("codes")
            end = comment.start[1] + match.end("codes")
            body = body[:start] + ", ".join(merged) + body[end:]
        else:
            body = body.rstrip() + "  # noqa: " + ", ".join(sorted(codes))
        lines[row - 1] = body + ending
        changed += 1
    return "".join(lines), changed, skipped


@dataclass(frozen=True)
class Directive:
    """One noqa comment: where it is (1-based row, 0-based character columns) and the codes it names."""

    row: int
    comment_start: int  # where the comment token starts (its `#`)
    comment_end: int
    start: int  # where the directive starts inside the comment (after other text, if any)
    end: int
    codes: tuple[tuple[str, int, int], ...]  # each code with its columns; empty for a bare noqa comment


def directives(text: str) -> list[Directive]:
    """Every noqa comment with codes, in order (a noqa inside a string is not a comment)."""
    found: list[Directive] = []
    for token, match in _noqa_comments(text):
        base = token.start[1]
        codes: list[tuple[str, int, int]] = []
        if match.group("codes") is not None:
            offset = base + match.start("codes")
            for code in re.finditer(r"[A-Za-z]+[0-9]+", match.group("codes")):
                codes.append((code.group().upper(), offset + code.start(), offset + code.end()))
        end = base + match.end()
        found.append(Directive(token.start[0], base, base + len(token.string), base + match.start(), end, tuple(codes)))
    return found
