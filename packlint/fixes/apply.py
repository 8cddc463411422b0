"""Making fixes real: each fix's changes rewritten through libcst, then turned into minimal text edits.

libcst is imported here only, and only when a fix must be materialised (`--fix`, `--diff`, fix
edits in JSON or SARIF): a plain check never loads it. Each fix is rewritten on its own, from the
same parsed module, so a fix that cannot be applied is reported alone while the others stay.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from packlint.diagnostics import Edit, Fix
from packlint.fixes.changes import (
    Change,
    InsertFirst,
    InsertStatement,
    MoveStatement,
    RemoveStatement,
    ReplaceExpression,
    SetKeyword,
    Target,
    WrapExpression,
)
from packlint.source import Source

if TYPE_CHECKING:
    import libcst as cst

# Past this many characters of changed region the line-level split of edits is skipped (one edit).
_SPLIT_LIMIT = 200_000
_INNER = "__packlint_inner__"


class FixFailure(Exception):
    """A fix that cannot be made real, with the reason in words."""


@dataclass(frozen=True)
class Materialised:
    """A fix with its text edits, or the reason it has none."""

    fix: Fix
    error: str | None = None


def materialise(source: Source, fixes: Sequence[Fix]) -> list[Materialised]:
    """Each fix with its edits computed through libcst (fixes that already have edits are kept)."""
    pending = [fix for fix in fixes if fix.changes]
    if not pending:
        return [Materialised(fix) for fix in fixes]
    try:
        tree = _Tree.parse(source.text)
    except FixFailure as exc:
        return [Materialised(fix) if not fix.changes else Materialised(fix, str(exc)) for fix in fixes]
    out: list[Materialised] = []
    for fix in fixes:
        if not fix.changes:
            out.append(Materialised(fix))
            continue
        try:
            if fix.edits:
                raise FixFailure("it mixes text edits with changes")
            new_text = tree.rewrite(fix.changes)
            try:
                ast.parse(new_text)
            except SyntaxError as exc:
                raise FixFailure(f"it produced invalid code ({exc.msg})") from None
            edits = text_edits(source, source.text, new_text)
            if not edits:
                raise FixFailure("it changes nothing")
            out.append(Materialised(replace(fix, edits=edits)))
        except FixFailure as exc:
            out.append(Materialised(fix, str(exc)))
    return out


def text_edits(source: Source, old: str, new: str) -> tuple[Edit, ...]:
    """The smallest edits that turn `old` into `new`: one per changed run of lines, trimmed."""
    p = _common_prefix(old, new)
    if p == len(old) == len(new):
        return ()
    s = _common_suffix(old, new, p)
    if "\n" in old[p : len(old) - s] or "\n" in new[p : len(new) - s]:
        # A change of whole lines reads best as whole lines: start it at the beginning of its line.
        p = old.rfind("\n", 0, p) + 1 if "\n" in old[:p] else 0
        s = _common_suffix(old, new, p)
        # ... and end it at the end of a line, in both texts.
        while s > 0 and not (_line_start(old, len(old) - s) and _line_start(new, len(new) - s)):
            s -= 1
    a, b = old[p : len(old) - s], new[p : len(new) - s]
    pieces: list[tuple[int, int, str]] = []
    if len(a) + len(b) < _SPLIT_LIMIT and a.count("\n") > 1 and b.count("\n") > 1:
        old_lines, new_lines = a.splitlines(keepends=True), b.splitlines(keepends=True)
        matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        offsets = [0]
        for line in old_lines:
            offsets.append(offsets[-1] + len(line))
        new_offsets = [0]
        for line in new_lines:
            new_offsets.append(new_offsets[-1] + len(line))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                pieces.append((p + offsets[i1], p + offsets[i2], b[new_offsets[j1] : new_offsets[j2]]))
    else:
        pieces.append((p, len(old) - s, b))
    return tuple(
        Edit(start, end, content, source.location(start), source.location(end)) for start, end, content in pieces
    )


def _line_start(text: str, at: int) -> bool:
    return at == 0 or text[at - 1] == "\n"


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:  # binary search on slices: C-speed comparisons even for big files
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, prefix: int) -> int:
    n = min(len(a), len(b)) - prefix
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


_Node = Any  # a libcst node: typed loosely so that this module's types import no libcst


class _Tree:
    """One parsed module and its nodes by span, shared by every fix of the file."""

    def __init__(
        self, module: cst.Module, spans: dict[tuple[str, tuple[int, int, int, int]], _Node], lines: dict[int, _Node]
    ) -> None:
        self.module = module
        self.spans = spans
        self.lines = lines  # id of a small statement -> the line (or one-line body) that holds it

    @classmethod
    def parse(cls, text: str) -> _Tree:
        import libcst as cst
        from libcst.metadata import MetadataWrapper, PositionProvider

        try:
            module = cst.parse_module(text)
        except cst.ParserSyntaxError as exc:
            raise FixFailure(f"libcst cannot parse the file ({exc.raw_line}:{exc.raw_column}: {exc.message})") from None
        except (RecursionError, MemoryError) as exc:
            raise FixFailure(f"libcst cannot parse the file ({type(exc).__name__})") from None
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        spans: dict[tuple[str, tuple[int, int, int, int]], _Node] = {}
        lines: dict[int, _Node] = {}
        for node, where in wrapper.resolve(PositionProvider).items():
            if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                lines.update((id(small), node) for small in node.body)
            span = (where.start.line, where.start.column, where.end.line, where.end.column)
            for kind in _kinds(node):
                spans.setdefault((kind, span), node)  # parents come first: the outermost node wins
                if kind == "statement":
                    spans.setdefault(("statement-end", (0, 0, span[2], span[3])), node)
        return cls(wrapper.module, spans, lines)

    def find(self, where: Target) -> _Node:
        """The node a change names."""
        node = self.spans.get((where.kind, where.span))
        if node is None and where.kind == "statement":
            # `@decorator` lines belong to a definition in libcst's span, not in ast's: match by its end.
            node = self.spans.get(("statement-end", (0, 0, where.end_row, where.end_column)))
        if node is None:
            raise FixFailure(f"the code to change at {where.row}:{where.column + 1} was not found")
        return node

    def rewrite(self, changes: Sequence[Change]) -> str:
        """The module's code with `changes` applied."""
        rewriter = _make_rewriter()(self, changes)
        new = self.module.visit(rewriter)
        missing = rewriter.unapplied()
        if missing:
            raise FixFailure(f"the code to change at {missing} is not where a fix can change it")
        return str(new.code)


def _kinds(node: _Node) -> list[str]:
    import libcst as cst

    kinds: list[str] = []
    if isinstance(node, cst.Call):
        kinds.append("call")
    if isinstance(node, cst.BaseExpression):
        kinds.append("expression")
    if isinstance(node, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
        kinds.append("statement")
    return kinds


def _where(change: Change) -> str:
    """Where a change points, as `row:column` for messages."""
    if isinstance(change, SetKeyword):
        where = change.call
    elif isinstance(change, InsertStatement):
        where = change.anchor
    elif isinstance(change, InsertFirst):
        where = change.owner
    else:
        where = change.node
    return f"{where.row}:{where.column + 1}"


_REWRITER: type | None = None


def _make_rewriter() -> type:
    """The libcst transformer class, defined on first use so that importing this module loads no libcst."""
    global _REWRITER
    if _REWRITER is None:
        _REWRITER = _define_rewriter()
    return _REWRITER


def _define_rewriter() -> type:
    import libcst as cst
    from libcst.helpers import parse_template_expression

    atoms = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.SimpleString, cst.List, cst.Tuple)

    def newline_of(statement: _Node, module: cst.Module) -> str:
        """The line ending of a statement's (first) line; an inserted line takes its neighbour's."""
        whitespace = None
        if isinstance(statement, cst.SimpleStatementLine):
            whitespace = statement.trailing_whitespace
        elif isinstance(getattr(statement, "body", None), cst.IndentedBlock):
            whitespace = statement.body.header
        elif isinstance(getattr(statement, "body", None), cst.SimpleStatementSuite):
            whitespace = statement.body.trailing_whitespace
        value = whitespace.newline.value if whitespace is not None else None
        return str(value) if value is not None else str(module.default_newline)

    def small_statements(code: str, module: cst.Module) -> list[_Node]:
        parsed = cst.parse_statement(code + module.default_newline, config=module.config_for_parsing)
        if not isinstance(parsed, cst.SimpleStatementLine):
            raise FixFailure(f"`{code}` is not a simple statement")
        return [s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for s in parsed.body]

    def new_line(smalls: list[_Node], newline: str) -> _Node:
        return cst.SimpleStatementLine(
            body=smalls, trailing_whitespace=cst.TrailingWhitespace(newline=cst.Newline(value=newline))
        )

    def with_newline(line: _Node, newline: str) -> _Node:
        whitespace = line.trailing_whitespace.with_changes(newline=cst.Newline(value=newline))
        return line.with_changes(leading_lines=[], trailing_whitespace=whitespace)

    def last_without_semicolon(smalls: list[_Node]) -> list[_Node]:
        """`a; b` keeps its separators; the last statement of a line gets none."""
        out = [
            s if isinstance(s.semicolon, cst.Semicolon) else s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            for s in smalls
        ]
        if out:
            out[-1] = out[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return out

    class Rewriter(cst.CSTTransformer):
        """Applies one fix's changes in one pass; every change must be used up by the end."""

        def __init__(self, tree: _Tree, changes: Sequence[Change]) -> None:
            super().__init__()
            self.tree = tree
            self.module = tree.module
            self.by_node: dict[int, list[Change]] = {}
            self.pending: dict[int, Change] = {}
            self.kept: dict[int, _Node] = {}  # original node a WrapExpression keeps -> its updated form
            self.keep: set[int] = set()
            self.removed_leading: dict[int, Any] = {}  # placeholder line -> comments above a removed line
            for change in changes:
                for node in self.nodes_of(change):
                    self.by_node.setdefault(id(node), []).append(change)
                self.pending[id(change)] = change

        def nodes_of(self, change: Change) -> list[_Node]:
            find = self.tree.find
            if isinstance(change, SetKeyword):
                return [find(change.call)]
            if isinstance(change, WrapExpression):
                self.keep.add(id(find(change.inner if change.inner is not None else change.node)))
                return [find(change.node)]
            if isinstance(change, (ReplaceExpression, RemoveStatement)):
                return [find(change.node)]
            if isinstance(change, InsertStatement):
                return [find(change.anchor)]
            if isinstance(change, InsertFirst):
                return [find(change.owner)]
            return [find(change.node), find(change.anchor)]  # MoveStatement

        def done(self, change: Change) -> None:
            self.pending.pop(id(change), None)

        def unapplied(self) -> str:
            for change in self.pending.values():
                return _where(change)
            return ""

        # Expressions, calls and compound statements -----------------------------------------------
        def on_leave(self, original_node: _Node, updated_node: _Node) -> Any:
            if id(original_node) in self.keep:
                self.kept[id(original_node)] = updated_node
            result = super().on_leave(original_node, updated_node)
            for change in self.by_node.get(id(original_node), []):
                if isinstance(change, SetKeyword) and isinstance(result, cst.Call):
                    result = self.set_keyword(result, change)
                elif isinstance(change, ReplaceExpression) and isinstance(result, cst.BaseExpression):
                    new = cst.parse_expression(change.code, config=self.module.config_for_parsing)
                    result = new.with_changes(lpar=result.lpar, rpar=result.rpar) if result.lpar else new
                elif isinstance(change, WrapExpression) and isinstance(result, cst.BaseExpression):
                    result = self.wrap(result, change)
                elif isinstance(change, InsertFirst) and isinstance(result, cst.BaseCompoundStatement):
                    result = self.insert_first(result, change)
                else:
                    continue
                self.done(change)
            inserts = [c for c in self.by_node.get(id(original_node), []) if isinstance(c, InsertStatement)]
            if inserts and isinstance(result, cst.BaseCompoundStatement):
                return self.around_compound(result, inserts)
            return result

        def around_compound(self, statement: _Node, inserts: list[InsertStatement]) -> Any:
            """Lines inserted before or after a `with`/`for`/`if` statement; comments above stay above all."""
            newline = newline_of(statement, self.module)
            before = [new_line(small_statements(c.code, self.module), newline) for c in inserts if not c.after]
            after = [new_line(small_statements(c.code, self.module), newline) for c in inserts if c.after]
            if before:
                before[0] = before[0].with_changes(leading_lines=statement.leading_lines)
                statement = statement.with_changes(leading_lines=[])
            for change in inserts:
                self.done(change)
            return cst.FlattenSentinel([*before, statement, *after])

        def set_keyword(self, call: _Node, change: SetKeyword) -> _Node:
            args = list(call.args)
            value = cst.parse_expression(change.value, config=self.module.config_for_parsing)
            for i, arg in enumerate(args):
                named = arg.keyword is not None and arg.keyword.value == change.name
                placed = arg.keyword is None and not arg.star and i == change.position
                if named or placed:
                    args[i] = arg.with_changes(value=value.with_changes(lpar=arg.value.lpar, rpar=arg.value.rpar))
                    return call.with_changes(args=args)
            if any(arg.star for arg in args):
                raise FixFailure(f"`*args` or `**kwargs` may already pass `{change.name}`")
            no_space = cst.SimpleWhitespace("")
            new = cst.Arg(
                value=value,
                keyword=cst.Name(change.name),
                equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space),
            )
            if args and isinstance(args[-1].comma, cst.Comma):
                # `f(a, b,)`, or one argument per line: the new one follows in the same style, the
                # separator copied from between the arguments before it.
                closing = args[-1].comma
                if len(args) > 1 and isinstance(args[-2].comma, cst.Comma):
                    between = args[-2].comma
                    space = between.whitespace_after
                    if isinstance(space, cst.ParenthesizedWhitespace):
                        # The line break and indent only: the comment after that comma stays its own.
                        first = cst.TrailingWhitespace(newline=space.first_line.newline)
                        between = between.with_changes(
                            whitespace_after=space.with_changes(first_line=first, empty_lines=[])
                        )
                else:
                    between = closing.with_changes(whitespace_after=call.whitespace_before_args)
                args[-1] = args[-1].with_changes(comma=between)
                args.append(new.with_changes(comma=closing))
                return call.with_changes(args=args)
            if args:
                args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            args.append(new)
            return call.with_changes(args=args)

        def wrap(self, updated: _Node, change: WrapExpression) -> _Node:
            own = change.inner is None
            inner = updated if own else self.kept.get(id(self.tree.find(change.inner)))  # type: ignore[arg-type]
            if inner is None:
                raise FixFailure("the expression to keep is not inside the one to replace")
            outer_parens = (updated.lpar, updated.rpar) if own else ((), ())
            if own:
                inner = inner.with_changes(lpar=[], rpar=[])
            if change.parenthesize and not inner.lpar and not isinstance(inner, atoms):
                inner = inner.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            template = change.template.replace("{}", "{" + _INNER + "}")
            new = parse_template_expression(template, config=self.module.config_for_parsing, **{_INNER: inner})
            if outer_parens[0]:
                new = new.with_changes(lpar=outer_parens[0], rpar=outer_parens[1])
            return new

        def insert_first(self, owner: _Node, change: InsertFirst) -> _Node:
            body = owner.body
            smalls = small_statements(change.code, self.module)
            if isinstance(body, cst.SimpleStatementSuite):
                # `for x in xs: a; b` (after a continuation line, too) -> `for x in xs: new; a; b`
                return owner.with_changes(body=body.with_changes(body=[*smalls, *body.body]))
            line = new_line(smalls, newline_of(owner, self.module))
            first = body.body[0]
            # The new line goes right above the first statement, below the comments that open the body.
            moved = first.with_changes(leading_lines=[])
            line = line.with_changes(leading_lines=first.leading_lines)
            return owner.with_changes(body=body.with_changes(body=[line, moved, *body.body[1:]]))

        # Simple statements ----------------------------------------------------------------------
        def small_changes(self, orig: _Node, small: _Node) -> tuple[list[_Node], bool, list[_Node]]:
            """What goes before `small`, whether it stays, and what goes after it."""
            before: list[_Node] = []
            after: list[_Node] = []
            stays = True
            for change in self.by_node.get(id(orig), []):
                if isinstance(change, InsertStatement):
                    (after if change.after else before).extend(small_statements(change.code, self.module))
                elif isinstance(change, RemoveStatement):
                    stays = False
                elif isinstance(change, MoveStatement):
                    if self.tree.find(change.node) is orig:
                        stays = False
                        continue  # done when it is placed after its anchor
                    after.append(self.moved(change))
                else:
                    continue
                self.done(change)
            return before, stays, after

        def moved(self, change: MoveStatement) -> _Node:
            """The statement a move takes, as written: its whole line (trailing comment too) when alone."""
            node = self.tree.find(change.node)
            line = self.tree.lines.get(id(node))
            if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
                return line.with_changes(body=[node.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
            return node.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)

        def leave_SimpleStatementLine(self, original_node: _Node, updated_node: _Node) -> Any:
            newline = newline_of(original_node, self.module)
            if len(original_node.body) > 1:
                out: list[_Node] = []
                for orig, small in zip(original_node.body, updated_node.body):
                    before, stays, after = self.small_changes(orig, small)
                    out.extend([*before, *([small] if stays else []), *[self.as_small(a) for a in after]])
                if not out:
                    return self.removed(updated_node)
                return updated_node.with_changes(body=last_without_semicolon(out))
            before, stays, after = self.small_changes(original_node.body[0], updated_node.body[0])
            if not (before or after) and stays:
                return updated_node
            lines: list[_Node] = [new_line([s], newline) for s in before]
            if before:
                # Comments above the statement stay above the inserted line.
                lines[0] = lines[0].with_changes(leading_lines=updated_node.leading_lines)
                updated_node = updated_node.with_changes(leading_lines=[])
            if stays:
                lines.append(updated_node)
            elif not before:
                placeholder = self.removed(updated_node)
                if after:
                    return cst.FlattenSentinel([placeholder, *self.as_lines(after, newline)])
                return placeholder
            lines.extend(self.as_lines(after, newline))
            return cst.FlattenSentinel(lines) if len(lines) > 1 else lines[0]

        def as_lines(self, items: list[_Node], newline: str) -> list[_Node]:
            return [
                with_newline(i, newline) if isinstance(i, cst.SimpleStatementLine) else new_line([i], newline)
                for i in items
            ]

        def as_small(self, item: _Node) -> _Node:
            return item.body[0] if isinstance(item, cst.SimpleStatementLine) else item

        def removed(self, line: _Node) -> Any:
            """A removed line: gone, or a placeholder that hands its comments to the next statement."""
            if not any(empty.comment is not None for empty in line.leading_lines):
                return cst.RemovalSentinel.REMOVE
            placeholder = cst.SimpleStatementLine(body=[cst.Pass()])
            self.removed_leading[id(placeholder)] = line.leading_lines
            return placeholder

        def leave_SimpleStatementSuite(self, original_node: _Node, updated_node: _Node) -> Any:
            out: list[_Node] = []
            for orig, small in zip(original_node.body, updated_node.body):
                before, stays, after = self.small_changes(orig, small)
                out.extend([*before, *([small] if stays else []), *[self.as_small(a) for a in after]])
            if not out:
                raise FixFailure("the fix would leave an empty body")
            return updated_node.with_changes(body=last_without_semicolon(out))

        def blocks(self, body: Sequence[_Node]) -> list[_Node]:
            """A block's statements with placeholders of removed lines gone, their comments carried on."""
            out: list[_Node] = []
            carried: list[Any] = []
            for statement in body:
                leading = self.removed_leading.pop(id(statement), None)
                if leading is not None:
                    carried.extend(leading)
                    continue
                if carried:
                    statement = statement.with_changes(leading_lines=[*carried, *statement.leading_lines])
                    carried = []
                out.append(statement)
            if carried:
                raise FixFailure("the statement to remove has comments above it and nothing after it")
            return out

        def leave_IndentedBlock(self, original_node: _Node, updated_node: _Node) -> Any:
            body = self.blocks(updated_node.body)
            if not body:
                raise FixFailure("the fix would leave an empty body")
            return updated_node.with_changes(body=body)

        def leave_Module(self, original_node: _Node, updated_node: _Node) -> Any:
            return updated_node.with_changes(body=self.blocks(updated_node.body))

    return Rewriter
