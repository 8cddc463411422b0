"""PKL010: invisible spaces pasted from a web page, which stop the file from parsing."""

from __future__ import annotations

from collections.abc import Iterator

from packlint.diagnostics import Diagnostic
from packlint.fixes.edits import edit
from packlint.invisible import runs
from packlint.rules.base import Context, Rule


class PastedInvisibleWhitespace(Rule):
    """
    ## What it does
    Reports each line of a file that does not parse only because it holds invisible spaces such as
    U+00A0 (no-break space) outside strings and comments, as code copied from a web page often does.
    The rest of the file is then checked as if those characters were ordinary spaces.

    ## Why is this bad?
    Python rejects the file before it runs a line: `SyntaxError: invalid non-printable character
    U+00A0`. An editor shows the character as a space, so the indentation looks right and the error
    looks like nonsense. Without this rule no other rule could read the file either.

    ## Example
    ```python
    import torch

    def lengths_of(seqs):
        return torch.tensor([len(s) for s in seqs])
    ```

    ## Use instead
    ```python
    import torch

    def lengths_of(seqs):
        return torch.tensor([len(s) for s in seqs])
    ```

    ## Fix safety
    Safe: each character becomes one ordinary space, so the code reads and indents as it was shown.
    Characters inside strings and comments are data and stay; the rule fires only when the file
    parses with that replacement, so no program that ran before changes. Another rule's fix that
    touches one of these characters waits for the next fix pass, on the text that parses.
    """

    code = "PKL010"
    name = "pasted-invisible-whitespace"
    fix_availability = "always"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        if ctx.pasted is None:
            return
        src = ctx.source
        pasted = dict(zip(ctx.pasted.offsets, ctx.pasted.chars))
        by_row: dict[int, list[tuple[int, int]]] = {}
        for start, end in runs(ctx.pasted.offsets):
            by_row.setdefault(src.location(start).row, []).append((start, end))
        for row, spans in sorted(by_row.items()):
            names = sorted({f"U+{ord(pasted[i]):04X}" for start, end in spans for i in range(start, end)})
            count = sum(end - start for start, end in spans)
            edits = [edit(src, start, end, " " * (end - start)) for start, end in spans]
            fix = self.safe_fix("Replace with ordinary spaces", *edits)
            first, last = src.location(spans[0][0]), src.location(spans[-1][1])
            plural = "s" if count > 1 else ""
            message = (
                f"{count} invisible space{plural} ({', '.join(names)}) where Python expects ordinary spaces; "
                "replace them with spaces"
            )
            yield Diagnostic(self.code, self.name, message, first, last, fix, row)
