"""`--diff`: a unified diff of a file's bytes, named as ruff names them, for `patch -p0` or `git apply -p0`."""

from __future__ import annotations

import difflib

NO_NEWLINE = b"\\ No newline at end of file\n"


def split_lines(data: bytes) -> list[bytes]:
    """Lines as patch sees them: ended by LF (a CR before it stays part of the line), the last maybe unended."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def _line(prefix: bytes, line: bytes) -> bytes:
    # Without its marker, a last line with no newline would run into the next line of the patch.
    return prefix + line if line.endswith(b"\n") else prefix + line + b"\n" + NO_NEWLINE


def unified_diff(old: bytes, new: bytes, path: str, context: int = 3) -> bytes:
    """The diff from `old` to `new`, byte for byte (encoding, BOM and line endings as in the file)."""
    a, b = split_lines(old), split_lines(new)
    if a == b:
        return b""
    name = path.replace("\\", "/").encode("utf-8", "surrogateescape")
    # No a/ and b/ prefixes: the paths are the user's own (as ruff prints them), so -p0 applies them.
    out = [b"--- " + name + b"\n", b"+++ " + name + b"\n"]
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n".encode())
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_line(b" ", line) for line in a[i1:i2])
                continue
            out.extend(_line(b"-", line) for line in a[i1:i2])
            out.extend(_line(b"+", line) for line in b[j1:j2])
    return b"".join(out)
