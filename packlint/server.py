"""`packlint server`: diagnostics and code actions over the Language Server Protocol on stdio (pygls 2)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from packlint import DOCS_URL, __version__
from packlint.config import ConfigError, Settings, load_settings
from packlint.diagnostics import Applicability, Diagnostic, FileError, FileResult, Fix, Location
from packlint.engine import Plan, apply_edits, check_source, with_edits
from packlint.notebook import CellIndex, CellModule, NotebookCell, is_python_cell, lint_cells, split_cells
from packlint.source import Source

SOURCE = "packlint"
FIX_ALL = "source.fixAll.packlint"
FIX_ALL_TITLE = "packlint: Fix all auto-fixable problems"
_NEWLINE = re.compile(r"\r\n|\r|\n")
_NOQA_CODES = re.compile(r"#\s*noqa:\s*[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*", re.I)


def uri_to_path(uri: str) -> str:
    """The file system path of a `file:` URI (a notebook cell's URI gives its notebook's path)."""
    parsed = urlparse(uri)
    path = unquote(parsed.path)
    if os.name == "nt" and re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    return path


@dataclass(frozen=True)
class Finding:
    """One packlint diagnostic as the editor sees it: in which document, and the engine's diagnostic
    with document-relative rows (for a notebook cell, relative to the cell)."""

    uri: str
    diagnostic: Diagnostic
    module_row: int  # the row in the text the fix and noqa edits are made on (a notebook's joined cells)


@dataclass(frozen=True)
class Checked:
    """A document checked: its findings, failures, and the text edits are made on."""

    findings: tuple[Finding, ...]
    errors: tuple[FileError, ...]
    text: str  # the document's text, or a notebook's joined (masked) cells
    module: CellModule | None  # set for notebook documents
    cell_uris: dict[int, str]  # notebook cell index -> cell document URI
    # Project mode: (path, digest) of the other files the check used ("" absent, "+" found): see FileResult.
    depends: tuple[tuple[str, str], ...] = ()
    # Each finding's fix with its text edits, made through libcst when a code action first asks for it
    # (a change publishes diagnostics without them: building every fix costs seconds on a large file).
    made: dict[int, Fix | None] = field(default_factory=dict, compare=False)

    def fixes(self, wanted: Sequence[int]) -> dict[int, Fix | None]:
        """The fixes of the findings numbered `wanted`, with their edits (None: it could not be built)."""
        missing = [i for i in wanted if i not in self.made and self.findings[i].diagnostic.fix is not None]
        if missing:
            diagnostics = [self.findings[i].diagnostic for i in missing]
            built, _ = with_edits(Source.decode(self.text.encode("utf-8")), diagnostics)
            self.made.update((i, d.fix) for i, d in zip(missing, built))
        return {i: self.made.get(i) for i in wanted}


class PacklintServer(LanguageServer):
    """A pygls server that remembers each directory's settings until a pyproject.toml changes."""

    def __init__(self) -> None:
        sync = lsp.NotebookDocumentSyncOptions(
            notebook_selector=[
                lsp.NotebookDocumentFilterWithCells(
                    cells=[lsp.NotebookCellLanguage(language="python")], notebook="jupyter-notebook"
                )
            ],
            save=True,
        )
        super().__init__("packlint", __version__, notebook_document_sync=sync)
        self.settings_cache: dict[str, Settings] = {}
        # The last check of each document, keyed by its text: a code action right after a change
        # reuses the check that published the diagnostics instead of running the rules again.
        self.checked: dict[str, tuple[tuple[str, ...], Checked]] = {}

    def settings_for(self, path: str) -> Settings:
        """`[tool.packlint]` of the nearest pyproject.toml above `path`, as the command line finds it."""
        directory = os.path.dirname(os.path.abspath(path))
        if directory not in self.settings_cache:
            try:
                settings = load_settings(None, Path(directory))
            except ConfigError as exc:
                self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, f"packlint: {exc}"))
                settings = Settings(root=directory)
            self.settings_cache[directory] = settings
        return self.settings_cache[directory]

    def resolves_edits(self) -> bool:
        """Whether the client asks for a code action's edit later (`codeAction/resolve`)."""
        text_document = self.client_capabilities.text_document
        code_action = text_document.code_action if text_document is not None else None
        support = code_action.resolve_support if code_action is not None else None
        return support is not None and "edit" in support.properties

    def units(self, text: str) -> int:
        """Length of `text` in the position encoding agreed with the client (UTF-16 unless told otherwise)."""
        return int(self.workspace.position_codec.client_num_units(text))


def check_text(text: str, path: str, settings: Settings, fix: bool = False) -> FileResult:
    """What the server runs on each change: the engine on the editor's text, reported as `path`."""
    if settings.project:  # other files may have changed since the last check: resolve and read them again
        from packlint.project.gate import refresh

        refresh()
    return check_source(text.encode("utf-8"), path, settings.but(fix=fix, unsafe_fixes=False))


def check_document(server: PacklintServer, uri: str) -> Checked:
    """Check a text document, or the notebook a cell URI belongs to (reusing the last check of the same text)."""
    notebook = server.workspace.get_notebook_document(cell_uri=uri) or server.workspace.get_notebook_document(
        notebook_uri=uri
    )
    if notebook is not None:
        key = notebook.uri
        documents = [(c, server.workspace.get_text_document(c.document)) for c in notebook.cells]
        texts = tuple(f"{c.kind}:{d.language_id}:{d.source}" for c, d in documents)
    else:
        key, texts = uri, (server.workspace.get_text_document(uri).source,)
    cached = server.checked.get(key)
    if cached is not None and cached[0] == texts and project_unchanged(cached[1].depends):
        return cached[1]
    checked = check_notebook_document(server, notebook) if notebook is not None else check_text_document(server, uri)
    server.checked[key] = (texts, checked)
    return checked


def check_text_document(server: PacklintServer, uri: str) -> Checked:
    """Check a text document (a `.ipynb` opened as JSON text is read as a notebook)."""
    document = server.workspace.get_text_document(uri)
    path = uri_to_path(uri)
    result = check_text(document.source, path, server.settings_for(path))
    raw_notebook = path.endswith(".ipynb")  # a notebook opened as JSON text: point into its JSON lines
    findings = []
    for d in result.diagnostics:
        if raw_notebook and d.cell is not None:
            d = Diagnostic(d.code, d.name, d.message, d.cell.file_location, d.cell.file_end_location)
        findings.append(Finding(uri, d, d.noqa_row or d.location.row))
    return Checked(tuple(findings), result.errors, document.source, None, {}, depends=result.depends)


def check_notebook_document(server: PacklintServer, notebook: lsp.NotebookDocument) -> Checked:
    """Check a notebook's code cells as one module; findings are placed in their cells."""
    path = uri_to_path(notebook.uri)
    settings = server.settings_for(path)
    cells, uris = [], {}
    for index, cell in enumerate(notebook.cells):
        document = server.workspace.get_text_document(cell.document)
        kind = "code" if cell.kind == lsp.NotebookCellKind.Code and document.language_id == "python" else "markdown"
        cells.append(NotebookCell(index, kind, document.source, (0, 0), None))
        uris[index] = cell.document
    python = [c for c in cells if is_python_cell(c)]
    checked = lint_cells(python, path, settings, Plan.from_settings(settings, path))
    rows = CellIndex.of(checked.module.text, checked.module)
    findings = []
    for d in checked.result.diagnostics:
        cell_index, start = rows.place(d.location)
        _, end = rows.place(d.end_location)
        placed = Diagnostic(d.code, d.name, d.message, start, end if end.row >= start.row else start, d.fix)
        findings.append(Finding(uris[cell_index], placed, d.noqa_row or d.location.row))
    errors = (*checked.errors, *checked.result.errors)
    return Checked(tuple(findings), errors, checked.module.text, checked.module, uris)


def to_lsp(server: PacklintServer, finding: Finding, lines: Sequence[str]) -> lsp.Diagnostic:
    """The LSP form of a finding: code, link to the rule's page, message and the rule's summary."""
    from packlint.rules import BY_CODE

    d = finding.diagnostic
    rule = BY_CODE.get(d.code)
    summary = f"\n{d.code} ({rule.name}): {rule.summary()}" if rule is not None else ""
    return lsp.Diagnostic(
        range=lsp.Range(position(server, lines, d.location), position(server, lines, d.end_location)),
        message=d.message + summary,
        severity=lsp.DiagnosticSeverity.Warning,
        code=d.code,
        code_description=lsp.CodeDescription(href=DOCS_URL.format(code=d.code)),
        source=SOURCE,
    )


def position(server: PacklintServer, lines: Sequence[str], location: Location) -> lsp.Position:
    """An LSP position (0-based line, client units) of a 1-based row and character column."""
    row = max(location.row - 1, 0)
    line = lines[row] if row < len(lines) else ""
    return lsp.Position(row, server.units(line[: max(location.column - 1, 0)]))


def error_diagnostic(error: FileError) -> lsp.Diagnostic:
    """A file that could not be checked, shown at its top: never a silent pass."""
    return lsp.Diagnostic(
        range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
        message=f"packlint could not check this file: {error.reason}",
        severity=lsp.DiagnosticSeverity.Error,
        source=SOURCE,
    )


def publish(server: PacklintServer, uri: str) -> None:
    """Check a document (or its whole notebook) and publish the diagnostics of each document involved."""
    checked = check_document(server, uri)
    # Every cell of a notebook gets its list, so that a cell that stopped being Python loses its diagnostics.
    targets = list(checked.cell_uris.values()) if checked.module is not None else [uri]
    by_uri: dict[str, list[lsp.Diagnostic]] = {target: [] for target in targets}
    for finding in checked.findings:
        text = server.workspace.get_text_document(finding.uri).source
        by_uri.setdefault(finding.uri, []).append(to_lsp(server, finding, _NEWLINE.split(text)))
    if checked.errors and targets:
        by_uri[targets[0]].extend(error_diagnostic(e) for e in checked.errors)
    for target, diagnostics in by_uri.items():
        server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=target, diagnostics=diagnostics))


def republish(server: PacklintServer) -> None:
    """Check every open document again (the settings changed): each notebook once, as a whole."""
    notebooks = list(server.workspace.notebook_documents)
    for uri in list(server.workspace.text_documents):
        if server.workspace.get_notebook_document(cell_uri=uri) is None:
            publish(server, uri)
    for uri in notebooks:
        publish(server, uri)


def edits_for(
    server: PacklintServer, checked: Checked, new_text: str, uri: str
) -> dict[str, list[lsp.TextEdit]] | None:
    """The text edits that turn the checked text into `new_text`, per document (a notebook's cells);
    None when a notebook's cells cannot be told apart in it any more."""
    if checked.module is None:
        return {uri: [minimal_edit(server, checked.text, new_text)]} if new_text != checked.text else {}
    sources = split_cells(checked.module, new_text)
    if sources is None:
        return None
    changes: dict[str, list[lsp.TextEdit]] = {}
    for cell in checked.module.cells:
        if sources[cell.index] != cell.source:
            changes[checked.cell_uris[cell.index]] = [minimal_edit(server, cell.source, sources[cell.index])]
    return changes


def minimal_edit(server: PacklintServer, old: str, new: str) -> lsp.TextEdit:
    """One edit replacing only the stretch between the common prefix and suffix of `old` and `new`."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old, end_new = end_old - 1, end_new - 1
    return lsp.TextEdit(lsp.Range(_offset(server, old, start), _offset(server, old, end_old)), new[start:end_new])


def _offset(server: PacklintServer, text: str, offset: int) -> lsp.Position:
    before = text[:offset]
    lines = _NEWLINE.split(before)
    return lsp.Position(len(lines) - 1, server.units(lines[-1]))


def with_noqa(text: str, row: int, code: str) -> str:
    """`text` with `# noqa: CODE` on 1-based `row` (added to the codes of a noqa comment already there)."""
    lines = text.splitlines(keepends=True)
    if row > len(lines):
        return text
    line = lines[row - 1]
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    existing = _NOQA_CODES.search(body)
    if existing is not None:
        body = body[: existing.end()] + f", {code}" + body[existing.end() :]
    else:
        body = body.rstrip() + f"  # noqa: {code}"
    lines[row - 1] = body + ending
    return "".join(lines)


def code_actions(server: PacklintServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    """Quick fixes and noqa comments for the diagnostics in range, and fix-all for the document."""
    uri = params.text_document.uri
    checked = check_document(server, uri)
    only = params.context.only
    actions: list[lsp.CodeAction] = []
    text = server.workspace.get_text_document(uri).source
    lines = _NEWLINE.split(text)

    def wanted(kind: str) -> bool:
        return only is None or any(kind == k or kind.startswith(f"{k}.") for k in only)

    raw_notebook = checked.module is None and uri_to_path(uri).endswith(".ipynb")
    in_range: list[tuple[int, lsp.Diagnostic]] = []
    for number, finding in enumerate(checked.findings):
        if finding.uri == uri:
            shown = to_lsp(server, finding, lines)
            if _overlaps(shown.range, params.range):
                in_range.append((number, shown))
    quick = wanted(lsp.CodeActionKind.QuickFix) and not raw_notebook
    made = checked.fixes([number for number, _ in in_range]) if quick else {}
    for number, shown in in_range:
        d = checked.findings[number].diagnostic
        if quick:
            fix = made[number]
            if fix is not None and fix.applicability is not Applicability.DISPLAY_ONLY:
                action = _fix_action(server, checked, fix, d.code, shown, uri)
                if action is not None:
                    actions.append(action)
            changes = edits_for(
                server, checked, with_noqa(checked.text, checked.findings[number].module_row, d.code), uri
            )
            if changes:
                actions.append(
                    lsp.CodeAction(
                        title=f"packlint ({d.code}): Ignore {d.code} on this line",
                        kind=lsp.CodeActionKind.QuickFix,
                        diagnostics=[shown],
                        edit=lsp.WorkspaceEdit(changes=changes),
                    )
                )
    if wanted(FIX_ALL) and has_safe_fix(checked):
        if server.resolves_edits():
            # The edit is built when the client resolves the action: a full `--fix` run, too slow to
            # make for every request a moving cursor sends.
            actions.append(lsp.CodeAction(title=FIX_ALL_TITLE, kind=FIX_ALL, data={"uri": uri}))
        else:
            fix_all = fix_all_action(server, checked, uri)
            if fix_all is not None:
                actions.append(fix_all)
    return actions


def resolve_action(server: PacklintServer, action: lsp.CodeAction) -> lsp.CodeAction:
    """The fix-all action with its edit, for a client that resolves code actions."""
    data = action.data
    if action.kind != FIX_ALL or not isinstance(data, dict) or not isinstance(data.get("uri"), str):
        return action
    uri = data["uri"]
    if server.workspace.get_notebook_document(cell_uri=uri) is None and uri not in server.workspace.text_documents:
        return action  # the document was closed meanwhile
    built = fix_all_action(server, check_document(server, uri), uri)
    action.edit = built.edit if built is not None else lsp.WorkspaceEdit(changes={})
    return action


def has_safe_fix(checked: Checked) -> bool:
    """Whether fix-all has anything to apply."""
    return any(f.diagnostic.fix and f.diagnostic.fix.applicability is Applicability.SAFE for f in checked.findings)


def _fix_action(
    server: PacklintServer, checked: Checked, fix: Fix, code: str, shown: lsp.Diagnostic, uri: str
) -> lsp.CodeAction | None:
    new_text, applied = apply_edits(checked.text, [fix])
    changes = edits_for(server, checked, new_text, uri) if applied else None
    if not changes:
        return None
    safe = fix.applicability is Applicability.SAFE
    return lsp.CodeAction(
        title=f"packlint ({code}): {fix.message}" + ("" if safe else " (unsafe fix: review the change)"),
        kind=lsp.CodeActionKind.QuickFix,
        diagnostics=[shown],
        is_preferred=safe,
        edit=lsp.WorkspaceEdit(changes=changes),
    )


def fix_all_action(server: PacklintServer, checked: Checked, uri: str) -> lsp.CodeAction | None:
    """Every safe fix at once, as `packlint check --fix` applies them (re-checked until they settle)."""
    if not has_safe_fix(checked):
        return None
    if checked.module is not None:
        notebook = server.workspace.get_notebook_document(cell_uri=uri) or server.workspace.get_notebook_document(
            notebook_uri=uri
        )
        assert notebook is not None
        path = uri_to_path(notebook.uri)
        settings = server.settings_for(path).but(fix=True, unsafe_fixes=False)
        result = lint_cells(checked.module.cells, path, settings, Plan.from_settings(settings, path)).result
    else:
        path = uri_to_path(uri)
        result = check_text(checked.text, path, server.settings_for(path), fix=True)
    if result.new_source is None or result.errors:
        return None
    new_text = result.new_source.decode("utf-8")
    changes = edits_for(server, checked, new_text, uri)
    if not changes:
        return None
    return lsp.CodeAction(title=FIX_ALL_TITLE, kind=FIX_ALL, edit=lsp.WorkspaceEdit(changes=changes))


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def build_server() -> PacklintServer:
    """The server with its features registered."""
    server = PacklintServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PacklintServer, params: lsp.DidOpenTextDocumentParams) -> None:
        track_buffer(params.text_document.uri, params.text_document.text)
        publish(ls, params.text_document.uri)
        republish_dependents(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PacklintServer, params: lsp.DidChangeTextDocumentParams) -> None:
        track_buffer(params.text_document.uri, ls.workspace.get_text_document(params.text_document.uri).source)
        publish(ls, params.text_document.uri)
        republish_dependents(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: PacklintServer, params: lsp.DidSaveTextDocumentParams) -> None:
        if params.text_document.uri.endswith("pyproject.toml"):
            ls.settings_cache.clear()
            ls.checked.clear()
        publish(ls, params.text_document.uri)
        republish_dependents(ls, params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PacklintServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.checked.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))
        track_buffer(params.text_document.uri, None)  # from now on the file on disk is what others see
        republish_dependents(ls, params.text_document.uri)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_open(ls: PacklintServer, params: lsp.DidOpenNotebookDocumentParams) -> None:
        publish(ls, params.notebook_document.uri)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_change(ls: PacklintServer, params: lsp.DidChangeNotebookDocumentParams) -> None:
        structure = params.change.cells.structure if params.change.cells is not None else None
        for cell in structure.did_close or [] if structure is not None else []:
            # A deleted cell: its diagnostics go with it (the notebook's check no longer names it).
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=cell.uri, diagnostics=[]))
        publish(ls, params.notebook_document.uri)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(ls: PacklintServer, params: lsp.DidSaveNotebookDocumentParams) -> None:
        publish(ls, params.notebook_document.uri)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(ls: PacklintServer, params: lsp.DidCloseNotebookDocumentParams) -> None:
        ls.checked.pop(params.notebook_document.uri, None)
        for cell in params.cell_text_documents:
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=cell.uri, diagnostics=[]))

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: PacklintServer, params: lsp.InitializedParams) -> None:
        # A server cannot declare file watchers in its capabilities: it registers them, where the client
        # allows it. Settings live in pyproject.toml, which is seldom open in the editor (and then as
        # TOML, which the server is not attached to): without a watcher an edit to it would go unseen.
        workspace = ls.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace is not None else None
        if watched is None or not watched.dynamic_registration:
            return
        options = lsp.DidChangeWatchedFilesRegistrationOptions(watchers=[lsp.FileSystemWatcher("**/pyproject.toml")])
        registration = lsp.Registration("packlint-pyproject", lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
        ls.client_register_capability(lsp.RegistrationParams([registration]))

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: PacklintServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        ls.settings_cache.clear()
        ls.checked.clear()
        republish(ls)

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=True),
    )
    def code_action(ls: PacklintServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return code_actions(ls, params)

    @server.feature(lsp.CODE_ACTION_RESOLVE)
    def code_action_resolve(ls: PacklintServer, action: lsp.CodeAction) -> lsp.CodeAction:
        return resolve_action(ls, action)

    return server


# -- project mode: the other files of a document's project --------------------------------------------------


def track_buffer(uri: str, text: str | None) -> None:
    """Let project mode read an open Python document as the editor has it (None: it was closed)."""
    from packlint.project.gate import OPEN_BUFFERS

    path = os.path.realpath(uri_to_path(uri))  # as the project's resolver names files (from the real root)
    if not path.endswith(".py"):
        return
    if text is None:
        OPEN_BUFFERS.pop(path, None)
    else:
        OPEN_BUFFERS[path] = text.encode("utf-8", "surrogatepass")


def project_unchanged(depends: Sequence[tuple[str, str]]) -> bool:
    """Whether every other file a check used is as it was: same content (an open buffer's, else the
    file's), still there, or still absent. A check that used none (per-file mode) always is."""
    from packlint.project.gate import read

    for path, digest in depends:
        if digest in ("", "+"):
            if os.path.isfile(path) != (digest == "+"):
                return False
            continue
        try:
            data = read(path)
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != digest:
            return False
    return True


def republish_dependents(server: PacklintServer, uri: str) -> None:
    """Check again the open documents whose last check used the file of `uri` (project mode)."""
    path = os.path.realpath(uri_to_path(uri))
    for key, (_, checked) in list(server.checked.items()):
        if key != uri and any(p == path for p, _ in checked.depends):
            publish(server, key)


def main() -> None:
    """Serve on standard input and output until the client says exit."""
    build_server().start_io()
