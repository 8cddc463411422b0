"""Jupyter notebooks: read the JSON, lint the code cells as one module, map positions back, splice fixes in."""

from __future__ import annotations

import ast
import codecs
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, TypeVar

from packlint.diagnostics import FIX_ERROR, SYNTAX_ERROR, Cell, Diagnostic, Edit, FileError, FileResult, Fix, Location

if TYPE_CHECKING:
    from packlint.config import Settings
    from packlint.engine import Plan

SUFFIX = ".ipynb"
# Cell magics whose body is Python (IPython runs it as code); any other `%%name` cell is skipped, as
# ruff skips it: `%%bash`, `%%writefile`, `%%html`, `%%sql`...
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "debug", "prun", "python", "python3", "pypy"})
# Between two cells of the module we lint: a comment line, so that a fix which moves text across a cell
# boundary (and would silently merge two cells) is caught when the cells are split apart again.
_MARKER = "#packlint-cell:{index}"
_MARKER_LINE = re.compile(r"^#packlint-cell:(\d+)(?:\r\n|\r|\n)", re.M)
_NEWLINE = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_INDENT = re.compile(r"[ \t]+")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Quick test: text with none of these has no IPython syntax to mask.
_MAYBE_IPYTHON = re.compile(r"^[ \t]*[%!?]|\?|=[ \t]*[%!]", re.M)
# `files = !ls`, `t = %timeit -o f()`: IPython's assignment from a magic or a shell command.
_ASSIGN_MAGIC = re.compile(r"^[\w.\[\](), *]+?\s*=\s*(?=[%!])")
_DECODER = json.JSONDecoder()
_PLACEHOLDER = "__packlint_ipython_{n}__"


class NotebookError(Exception):
    """The bytes are not a notebook we can read; the message says why."""


@dataclass(frozen=True)
class NotebookCell:
    """One cell as stored: its position among all cells, type, source text and where its value lies."""

    index: int  # 0-based among every cell; reports print index + 1, as ruff and Jupyter count
    kind: str  # "code", "markdown" or "raw"
    source: str
    span: tuple[int, int]  # the "source" value's characters in the notebook's text
    items: tuple[tuple[int, int], ...] | None  # each line's JSON string when the value is a list


@dataclass(frozen=True)
class Notebook:
    """A notebook's text (decoded JSON, without its BOM) and its cells."""

    text: str
    bom: bool
    cells: tuple[NotebookCell, ...]
    python: bool  # False when the kernel's language is declared and is not Python

    @classmethod
    def parse(cls, data: bytes) -> Notebook:
        """Read a notebook in nbformat 4; raise NotebookError when the bytes are not one."""
        bom = data.startswith(codecs.BOM_UTF8)
        try:
            text = data[len(codecs.BOM_UTF8) if bom else 0 :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotebookError(f"not valid UTF-8: byte {exc.start} cannot be decoded") from None
        try:
            members, end = _members(text, 0, cells=True)
            if _skip(text, end) != len(text):
                raise json.JSONDecodeError("Extra data", text, _skip(text, end))
        except json.JSONDecodeError as exc:
            raise NotebookError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except (IndexError, RecursionError):
            raise NotebookError("not valid JSON: the text ends too early or nests too deep") from None
        top = {key: (value, start) for key, value, start, _ in members}
        nbformat = top.get("nbformat", (None, 0))[0]
        if "worksheets" in top or (isinstance(nbformat, int) and nbformat < 4):
            hint = "convert it with `jupyter nbconvert --to notebook`"
            raise NotebookError(f"nbformat {nbformat} is not supported ({hint})")
        if "cells" not in top or not isinstance(top["cells"][0], list):
            raise NotebookError("not a Jupyter notebook: no `cells` list")
        metadata = top.get("metadata", ({}, 0))[0]
        cells = tuple(_cells(text, top["cells"][0]))
        return cls(text, bom, cells, _is_python(metadata))

    def encode(self, text: str) -> bytes:
        """Bytes for a new notebook text, keeping the BOM if there was one."""
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode("utf-8")


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


Members = list[tuple[str, object, int, int]]


def _members(text: str, pos: int, cells: bool = False) -> tuple[Members, int]:
    """The object at `pos` as (key, value, value start, value end) members, and where it ends; with
    `cells`, a "cells" value is scanned into its cells' members instead of decoded twice."""
    pos = _skip(text, pos)
    if text[pos : pos + 1] != "{":
        raise json.JSONDecodeError("Expecting an object", text, pos)
    found: Members = []
    pos = _skip(text, pos + 1)
    if text[pos] == "}":
        return found, pos + 1
    while True:
        if text[pos] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
        key, pos = scanstring(text, pos + 1)
        pos = _skip(text, pos)
        if text[pos] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        start = _skip(text, pos + 1)
        value: object
        if cells and key == "cells" and text[start : start + 1] == "[":
            value, end = _array(text, start, lambda at: _members(text, at))
        else:
            value, end = _DECODER.raw_decode(text, start)
        found.append((key, value, start, end))
        pos = _skip(text, end)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos] == "}":
            return found, pos + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


T = TypeVar("T")


def _array(text: str, pos: int, item: Callable[[int], tuple[T, int]]) -> tuple[list[tuple[T, int, int]], int]:
    """Each element of the array at `pos` read by `item`, with its (start, end), and where the array ends."""
    found: list[tuple[T, int, int]] = []
    pos = _skip(text, pos + 1)
    if text[pos] == "]":
        return found, pos + 1
    while True:
        value, end = item(pos)
        found.append((value, pos, end))
        pos = _skip(text, end)
        if text[pos] == "]":
            return found, pos + 1
        if text[pos] != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)


def _cells(text: str, scanned: list[tuple[Members, int, int]]) -> Iterable[NotebookCell]:
    for index, (members, _, _) in enumerate(scanned):
        fields = {key: (value, lo, hi) for key, value, lo, hi in members}
        kind = fields.get("cell_type", ("code", 0, 0))[0]
        if "source" not in fields:
            raise NotebookError(f"cell {index + 1} has no `source`")
        value, lo, hi = fields["source"]
        if isinstance(value, str):
            yield NotebookCell(index, str(kind), value, (lo, hi), None)
        elif isinstance(value, list) and all(isinstance(line, str) for line in value):
            items, _ = _array(text, lo, lambda at: _DECODER.raw_decode(text, at))
            yield NotebookCell(index, str(kind), "".join(value), (lo, hi), tuple((lo, hi) for _, lo, hi in items))
        else:
            raise NotebookError(f"cell {index + 1}: `source` must be a string or a list of strings")


def _is_python(metadata: object) -> bool:
    if not isinstance(metadata, dict):
        return True
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        table = metadata.get(key)
        if isinstance(table, dict) and isinstance(table.get(field), str):
            return bool(table[field].lower().startswith("python"))
    return True


def is_python_cell(cell: NotebookCell) -> bool:
    """A code cell that IPython runs as Python (not `%%bash` and the like)."""
    if cell.kind != "code":
        return False
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    if not first.lstrip().startswith("%%"):
        return True
    name = first.lstrip()[2:].split(None, 1)[0] if first.lstrip()[2:].strip() else ""
    return name in PYTHON_CELL_MAGICS


@dataclass(frozen=True)
class Masked:
    """A cell's source with IPython syntax replaced, and (placeholder text, original text) to restore."""

    text: str
    replaced: tuple[tuple[str, str], ...]

    def restore(self, text: str) -> str | None:
        """`text` with the original IPython syntax back, or None if a placeholder did not survive once."""
        for placeholder, original in self.replaced:
            if text.count(placeholder) != 1:
                return None
            text = text.replace(placeholder, original)
        return text


def mask_ipython(source: str, counter: list[int]) -> Masked:
    """Replace magics, shell escapes and help syntax at the start of a logical line with a placeholder
    name (a statement or an expression, as the place needs), so the cell parses and no other column moves."""
    if not _MAYBE_IPYTHON.search(source):
        return Masked(source, ())
    lines = _LINE.findall(source)
    out: list[str] = []
    replaced: list[tuple[str, str]] = []
    state = _LexState()
    first = True
    i = 0
    while i < len(lines):
        line = lines[i]
        body = line.rstrip("\r\n")
        indent = len(body) - len(body.lstrip(" \t"))
        code = body[indent:]
        start: int | None = None
        if state.at_statement_start and code:
            if first and code.startswith("%%"):
                start = indent
            elif code.startswith(("%", "!", "?")):
                start = indent
            else:
                assign = _ASSIGN_MAGIC.match(code)
                if assign is not None:
                    start = indent + assign.end()
                elif "?" in code and _lex(body, state).question:
                    start = indent
        if code:
            first = False
        if start is None:
            state = _lex(body, state)
            out.append(line)
            i += 1
            continue
        # A magic runs to the end of the line, and on over lines that end with a backslash; the lines
        # it continues over become empty lines, which are valid anywhere.
        j = i
        while lines[j].rstrip("\r\n").endswith("\\") and j + 1 < len(lines):
            j += 1
        placeholder = _PLACEHOLDER.format(n=counter[0])
        counter[0] += 1
        endings = [lines[k][len(lines[k].rstrip("\r\n")) :] for k in range(i, j + 1)]
        whole = "".join(lines[i : j + 1])
        replaced.append((placeholder + "".join(endings[:-1]), whole[start : len(whole) - len(endings[-1])]))
        out.append(body[:start] + placeholder + "".join(endings))
        i = j + 1
    return Masked("".join(out), tuple(replaced))


@dataclass
class _LexState:
    """What a line-by-line scan knows at the start of a line: open brackets, an open string, a backslash."""

    depth: int = 0
    string: str | None = None  # the delimiter of a string still open at the end of the last line
    continued: bool = False
    question: bool = False  # a `?` outside strings and comments (IPython's help syntax)

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.string is None and not self.continued


def _lex(body: str, state: _LexState) -> _LexState:
    """The state after scanning one line (without its line ending); tolerant, never raises."""
    depth, string, question = state.depth, state.string, False
    j, n = 0, len(body)
    while j < n:
        if string is not None:
            close = body.find(string, j)
            while close != -1 and _escaped(body, close):
                close = body.find(string, close + 1)
            if close == -1:
                if len(string) == 1 and not body.endswith("\\"):
                    string = None  # an unterminated one-line string: a syntax error; stop tracking it
                j = n
                break
            j = close + len(string)
            string = None
            continue
        c = body[j]
        if c == "#":
            break
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c in "\"'":
            string = c * 3 if body.startswith(c * 3, j) else c
            j += len(string)
            continue
        elif c == "?":
            question = True
        j += 1
    continued = string is None and body.endswith("\\") and not body.rstrip().startswith("#")
    return _LexState(depth, string, continued, question)


def _escaped(text: str, pos: int) -> bool:
    backslashes = 0
    while pos - backslashes - 1 >= 0 and text[pos - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


@dataclass(frozen=True)
class Dedent:
    """A cell as IPython runs it: when its first line that is not blank is indented, that indentation is
    removed from every line that starts with it (`leading_indent`), so an indented cell runs. Positions in
    the dedented text move back right by the indentation on the rows it was removed from."""

    text: str
    indent: str  # "" when the cell's first line is not indented
    rows: frozenset[int]  # the cell's rows (1-based) the indentation was removed from
    line_count: int

    @classmethod
    def of(cls, source: str) -> Dedent:
        lines = _LINE.findall(source)
        first = next((i for i, line in enumerate(lines) if line and not line.isspace()), None)
        found = _INDENT.match(lines[first]) if first is not None else None
        if first is None or found is None:
            return cls(source, "", frozenset(), len(lines))
        indent = found.group()
        rows = frozenset(row for row in range(first + 1, len(lines) + 1) if lines[row - 1].startswith(indent))
        text = "".join(line[len(indent) :] if row in rows else line for row, line in enumerate(lines, 1))
        return cls(text, indent, rows, len(lines))

    def restore(self, text: str) -> str | None:
        """A dedented (and fixed) text with the indentation back on its rows; None when the fixes added or
        removed lines, so that which rows had it is not known."""
        if not self.indent:
            return text
        lines = _LINE.findall(text)
        if len(lines) != self.line_count:
            return None
        return "".join(self.indent + line if row in self.rows else line for row, line in enumerate(lines, 1))

    def column(self, row: int, column: int) -> int:
        """A column of the dedented text's `row` as a column of the cell."""
        return column + len(self.indent) if row in self.rows else column


@dataclass(frozen=True)
class CellModule:
    """The Python cells of a notebook joined into one module, with what it takes to split it again."""

    text: str
    cells: tuple[NotebookCell, ...]  # the cells in the module, in order
    masks: tuple[Masked, ...]
    added_newline: tuple[bool, ...]  # whether the join added a line ending after the cell
    dedents: tuple[Dedent, ...]  # per cell, the indentation IPython removes before running it

    def dedent_of(self, index: int) -> Dedent | None:
        """The indentation removed from the cell with this index, if any was."""
        for cell, dedent in zip(self.cells, self.dedents):
            if cell.index == index:
                return dedent if dedent.indent else None
        return None


def join_cells(cells: Sequence[NotebookCell]) -> CellModule:
    """One module of `cells`, each followed by a marker line (positions map back with `CellIndex`)."""
    parts: list[str] = []
    masks: list[Masked] = []
    added: list[bool] = []
    dedents: list[Dedent] = []
    counter = [0]
    for cell in cells:
        # IPython's order: the cell's leading indentation goes first, then its special syntax.
        dedent = Dedent.of(cell.source)
        masked = mask_ipython(dedent.text, counter)
        needs = not masked.text.endswith("\n") and masked.text != ""  # a lone "\r" gets its "\n" too
        parts.append(masked.text + ("\n" if needs else "") + _MARKER.format(index=cell.index) + "\n")
        masks.append(masked)
        added.append(needs)
        dedents.append(dedent)
    return CellModule("".join(parts), tuple(cells), tuple(masks), tuple(added), tuple(dedents))


def split_cells(module: CellModule, text: str) -> dict[int, str] | None:
    """Each cell's new source in a fixed module text, restored; None if the cell markers or the
    IPython placeholders did not survive (a fix crossed a cell boundary)."""
    markers = list(_MARKER_LINE.finditer(text))
    if [int(m.group(1)) for m in markers] != [c.index for c in module.cells]:
        return None
    sources: dict[int, str] = {}
    start = 0
    cells = zip(module.cells, module.masks, module.added_newline, module.dedents, markers)
    for cell, mask, added, dedent, marker in cells:
        segment = text[start : marker.start()]
        start = marker.end()
        if added:
            if not segment.endswith("\n"):
                return None
            segment = segment[:-1]
        restored = mask.restore(segment)
        if restored is not None:
            restored = dedent.restore(restored)
        if restored is None:
            return None
        sources[cell.index] = restored
    if text[start:] != "":
        return None
    return sources


@dataclass(frozen=True)
class CellIndex:
    """Rows of a module text mapped to (cell index, first row of that cell)."""

    starts: tuple[tuple[int, int], ...]  # (first row in the module, cell index), ascending
    module: CellModule  # the module the text was made from: the indentation removed from its cells

    @classmethod
    def of(cls, text: str, module: CellModule) -> CellIndex:
        """The index of a module text made by `join_cells` from `module` (fixed or not); locations also move
        back by the indentation IPython removes from a cell."""
        starts = []
        row, counted, at = 1, 1, 0
        for marker in _MARKER_LINE.finditer(text):
            counted += len(_NEWLINE.findall(text, at, marker.start()))
            at = marker.start()
            starts.append((row, int(marker.group(1))))
            row = counted + 1
        return cls(tuple(starts), module)

    def place(self, location: Location) -> tuple[int, Location]:
        """The cell index and the cell-relative location of a module location."""
        chosen = self.starts[0] if self.starts else (1, 0)
        for first, index in self.starts:
            if first > location.row:
                break
            chosen = (first, index)
        row = location.row - chosen[0] + 1
        dedent = self.module.dedent_of(chosen[1])
        return chosen[1], Location(row, dedent.column(row, location.column) if dedent is not None else location.column)


def check_notebook(data: bytes, path: str, settings: Settings, plan: Plan) -> FileResult:
    """Check a notebook's Python cells as one module; with fixes on, splice the fixed cells back in."""
    try:
        notebook = Notebook.parse(data)
    except NotebookError as exc:
        return FileResult(path, errors=(FileError(str(exc), SYNTAX_ERROR),))
    return lint_notebook(notebook, path, settings, plan)


@dataclass(frozen=True)
class CellCheck:
    """Checking cells as one module: the module of the cells that parse, the engine's result in that
    module's positions (fixed text when fixes were applied), and the cells that did not parse."""

    module: CellModule
    result: FileResult
    errors: tuple[FileError, ...]


def lint_cells(cells: Sequence[NotebookCell], path: str, settings: Settings, plan: Plan) -> CellCheck:
    """Run the engine on `cells` joined into one module (the editor's notebook documents use it too)."""
    from packlint.engine import check_python, trigger_words
    from packlint.prefilter import may_match

    errors: list[FileError] = []
    module = join_cells(cells)
    if plan.prefilter and not may_match(module.text.encode("utf-8"), trigger_words(plan.codes)):
        return CellCheck(module, FileResult(path), ())
    # Jupyter runs each cell on its own: a cell that does not parse is reported and left out, and the
    # others are still checked (one scratch cell should not hide the rest of the notebook).
    while True:
        try:
            ast.parse(module.text)
            break
        except SyntaxError as exc:
            index, where = CellIndex.of(module.text, module).place(Location(exc.lineno or 1, exc.offset or 0))
            errors.append(
                FileError(f"cell {index + 1}: syntax error at {where.row}:{where.column}: {exc.msg}", SYNTAX_ERROR)
            )
            cells = [c for c in cells if c.index != index]
            module = join_cells(cells)
        except (ValueError, RecursionError, MemoryError) as exc:
            failed = FileError(f"cannot parse: {type(exc).__name__}: {exc}", SYNTAX_ERROR)
            return CellCheck(module, FileResult(path), (*errors, failed))
    result = check_python(module.text.encode("utf-8"), path, settings, replace(plan, prefilter=False))
    return CellCheck(module, result, tuple(errors))


def lint_notebook(notebook: Notebook, path: str, settings: Settings, plan: Plan) -> FileResult:
    """Lint (and fix, when the plan says so) a parsed notebook."""
    cells = [c for c in notebook.cells if notebook.python and is_python_cell(c)]
    checked = lint_cells(cells, path, settings, plan)
    module, inner, errors = checked.module, checked.result, checked.errors
    new_data: bytes | None = None
    if inner.new_source is not None:
        sources = split_cells(module, inner.new_source.decode("utf-8"))
        if sources is None:
            plain = replace(plan, prefilter=False, fix=False)
            unfixed = lint_cells(module.cells, path, settings, plain).result
            message = "a fix crossed a cell boundary or removed IPython syntax; notebook left unchanged"
            return place_result(notebook, module, unfixed, (*errors, *unfixed.errors, FileError(message, FIX_ERROR)))
        new_text = splice_sources(notebook, sources)
        if new_text != notebook.text:
            new_data = notebook.encode(new_text)
    final = Notebook.parse(new_data) if new_data is not None else notebook
    result = place_result(final, module, inner, (*errors, *inner.errors))
    if new_data is not None:
        result = replace(result, new_source=new_data, fixed=inner.fixed)
    return result


def place_result(notebook: Notebook, module: CellModule, inner: FileResult, errors: Sequence[FileError]) -> FileResult:
    """A module result with every position moved to its cell (and to the notebook file's own lines)."""
    text = inner.new_source.decode("utf-8") if inner.new_source is not None else module.text
    index = CellIndex.of(text, module)
    by_index = {cell.index: cell for cell in notebook.cells}
    placed = tuple(place_diagnostic(d, index, notebook, by_index) for d in inner.diagnostics)
    return FileResult(inner.path, placed, tuple(errors))


def place_diagnostic(
    d: Diagnostic, index: CellIndex, notebook: Notebook, by_index: dict[int, NotebookCell]
) -> Diagnostic:
    """One diagnostic with cell-relative rows, its cell, and where it lies in the notebook's JSON text."""
    cell_index, start = index.place(d.location)
    end_cell, end = index.place(d.end_location)
    if end_cell != cell_index:
        end = start
    _, noqa = index.place(Location(d.noqa_row or d.location.row, 1))
    fix = d.fix
    if fix is not None:
        fix = Fix(fix.applicability, fix.message, tuple(_place_edit(e, index) for e in fix.edits))
    cell = by_index.get(cell_index)
    file_start = file_end = Location(1, 1)
    if cell is not None:
        file_start, file_end = file_location(notebook, cell, start), file_location(notebook, cell, end)
    return replace(
        d,
        location=start,
        end_location=end,
        noqa_row=noqa.row,
        fix=fix,
        cell=Cell(cell_index + 1, file_start, file_end),
    )


def _place_edit(edit: Edit, index: CellIndex) -> Edit:
    _, start = index.place(edit.location)
    _, end = index.place(edit.end_location)
    return replace(edit, location=start, end_location=end)


def file_location(notebook: Notebook, cell: NotebookCell, where: Location) -> Location:
    """Where a cell-relative location sits in the notebook's own text (its JSON lines and columns)."""
    lines = _LINE.findall(cell.source)
    offset = sum(len(line) for line in lines[: where.row - 1]) + where.column - 1
    item_start, prefix = cell.span[0], cell.source[:offset]
    if cell.items:
        seen = 0
        for lo, hi in cell.items:
            item = json.loads(notebook.text[lo:hi])
            item_start, prefix = lo, cell.source[seen:offset]
            if seen + len(item) > offset:
                break
            seen += len(item)
    escaped = len(json.dumps(prefix, ensure_ascii=_ensure_ascii(notebook.text))) - 2
    line_start = notebook.text.rfind("\n", 0, item_start) + 1
    file_row = notebook.text.count("\n", 0, item_start) + 1
    return Location(file_row, item_start - line_start + 2 + escaped)


def _ensure_ascii(text: str) -> bool:
    """Whether the notebook escapes non-ASCII characters (`json.dumps`'s default) or writes them as they are."""
    if not text.isascii():
        return False
    return any(int(m.group(1), 16) > 0x7F for m in re.finditer(r"\\u([0-9a-fA-F]{4})", text))


def splice_sources(notebook: Notebook, sources: dict[int, str]) -> str:
    """The notebook text with the "source" value of each changed cell replaced; all else byte-identical."""
    text = notebook.text
    ensure_ascii = _ensure_ascii(text)
    changed = [c for c in notebook.cells if c.index in sources and sources[c.index] != c.source]
    for cell in sorted(changed, key=lambda c: c.span[0], reverse=True):
        value = _serialise(notebook, cell, sources[cell.index], ensure_ascii)
        text = text[: cell.span[0]] + value + text[cell.span[1] :]
    return text


def _serialise(notebook: Notebook, cell: NotebookCell, source: str, ensure_ascii: bool) -> str:
    """A new "source" value in the style of the old one (string or list, same indentation); lines that
    did not change keep their original JSON spelling."""
    text = notebook.text
    if cell.items is None:
        return json.dumps(source, ensure_ascii=ensure_ascii)
    lines = _LINE.findall(source)
    spelled: dict[str, list[str]] = {}
    for lo, hi in cell.items:
        spelled.setdefault(json.loads(text[lo:hi]), []).append(text[lo:hi])
    tokens = [
        spelled[line].pop(0) if spelled.get(line) else json.dumps(line, ensure_ascii=ensure_ascii) for line in lines
    ]
    if not tokens:
        return "[]"
    lo, hi = cell.span
    if cell.items:
        opening = text[lo + 1 : cell.items[0][0]]
        closing = text[cell.items[-1][1] : hi - 1]
        if len(cell.items) > 1:
            separator = text[cell.items[0][1] : cell.items[1][0]]
        else:
            separator = "," + opening if "\n" in opening else ", "
    elif "\n" in text:
        line_start = text.rfind("\n", 0, lo) + 1
        key_indent = text[line_start : line_start + len(text[line_start:]) - len(text[line_start:].lstrip(" \t"))]
        unit = _indent_unit(text)
        opening, closing = "\n" + key_indent + unit, "\n" + key_indent
        separator = "," + opening
    else:
        opening, closing, separator = "", "", ","
    return "[" + opening + separator.join(tokens) + closing + "]"


def _indent_unit(text: str) -> str:
    match = re.search(r"\{\r?\n([ \t]+)\"", text)
    return match.group(1) if match else " "
