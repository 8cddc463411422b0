"""PKL900: a `# noqa: PKLxxx` comment that suppresses nothing (ruff's RUF100 for packlint's codes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from packlint.diagnostics import Diagnostic, Fix
from packlint.fixes.edits import edit
from packlint.noqa import Directive, directives
from packlint.rules.base import Context, Rule
from packlint.source import Source


class UnusedNoqa(Rule):
    """
    ## What it does
    Reports packlint codes in `# noqa: ...` comments that suppress no diagnostic on their line:
    the code is selected but reports nothing there, or no packlint rule has that code. Codes
    of other tools (`E501`), a bare `# noqa` and codes of rules this run does not select are
    left alone, since packlint cannot know what they are for.

    ## Why is this bad?
    A stale `# noqa` hides the next real finding on that line: after the code was fixed, a later
    edit can bring the mistake back and nobody hears of it. An unknown code is usually a typo, so
    the finding it was meant for is not suppressed either.

    ## Example
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def pack(padded, lengths):
        return pack_padded_sequence(padded, lengths.cpu(), enforce_sorted=False)  # noqa: PKL111
    ```

    ## Use instead
    ```python
    from torch.nn.utils.rnn import pack_padded_sequence

    def pack(padded, lengths):
        return pack_padded_sequence(padded, lengths.cpu(), enforce_sorted=False)
    ```

    ## Fix safety
    Safe: the fix removes only the unused codes (the whole comment when it held nothing else),
    and a comment does not change what the code computes.
    """

    code = "PKL900"
    name = "unused-noqa"
    fix_availability = "sometimes"

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        """Nothing here: the finding needs every other rule's diagnostics (see `after_rules`)."""
        return iter(())

    def after_rules(self, ctx: Context, found: Iterable[Diagnostic], selected: frozenset[str]) -> Iterator[Diagnostic]:
        """The noqa codes that none of `found` (before suppression) uses."""
        from packlint.config import known_codes

        used = {(d.noqa_row, d.code) for d in found}
        known = set(known_codes())
        for directive in directives(ctx.source.text):
            unused = []
            for code, start, end in directive.codes:
                if not code.startswith("PKL") or code == self.code:
                    continue
                if code not in known:
                    unused.append((code, start, end, "unknown code"))
                elif code in selected and (directive.row, code) not in used:
                    unused.append((code, start, end, "unused"))
            if not unused:
                continue
            names = ", ".join(f"`{code}`" for code, *_ in unused)
            kinds = {kind for *_, kind in unused}
            what = (
                "unknown code"
                if kinds == {"unknown code"}
                else "unused code"
                if len(kinds) == 1
                else "unused or unknown code"
            )
            plural = "s" if len(unused) > 1 else ""
            message = f"{what}{plural} {names} in `# noqa`; remove {'them' if plural else 'it'}"
            yield self._diagnostic(ctx.source, directive, message, self._fix(ctx.source, directive, unused))

    def _diagnostic(self, source: Source, directive: Directive, message: str, fix: Fix | None) -> Diagnostic:
        start = source.line_starts[directive.row - 1]
        location = source.location(start + directive.start)
        end = source.location(start + directive.end)
        return Diagnostic(self.code, self.name, message, location, end, fix, directive.row)

    def _fix(self, source: Source, directive: Directive, unused: list[tuple[str, int, int, str]]) -> Fix | None:
        line_start = source.line_starts[directive.row - 1]
        line = source.line(directive.row)
        gone = {code for code, *_ in unused}
        kept = [c for c in directive.codes if c[0] not in gone]
        if kept:
            first, last = directive.codes[0][1], directive.codes[-1][2]
            content = ", ".join(code for code, *_ in kept)
            title = f"Remove {', '.join(sorted(gone))} from the `# noqa`"
            return self.safe_fix(title, edit(source, line_start + first, line_start + last, content))
        rest = line[directive.end :].lstrip()
        if not rest:
            # The comment held only the directive: remove it with the spaces before it.
            before = len(line[: directive.comment_start].rstrip())
            return self.safe_fix(
                "Remove the `# noqa` comment", edit(source, line_start + before, line_start + len(line), "")
            )
        if directive.start == directive.comment_start and rest.startswith("#"):
            # A directive followed by a comment of its own (`#` again): keep that comment.
            end = len(line) - len(rest)
            return self.safe_fix(
                "Remove the `# noqa` directive", edit(source, line_start + directive.start, line_start + end, "")
            )
        return None  # text after the directive that is not a comment of its own: leave it to the author
