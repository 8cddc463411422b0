"""`packlint server` driven as an editor drives it: JSON-RPC over the server's standard input and output."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IMPORTS = "from torch import nn\nfrom torch.nn.utils.rnn import pack_padded_sequence, pad_sequence\n"
# The batch is padded batch-first in sight, so PKL112's fix is safe (the RNN's flag alone would not be).
MODEL = "x = pad_sequence(seqs, batch_first=True); rnn = nn.GRU(8, 16, batch_first=True)\n"
CALL = "packed = pack_padded_sequence(x, lengths, enforce_sorted=False)\n_, h = rnn(packed)\n"
FIXED_CALL = CALL.replace("enforce_sorted=False)", "enforce_sorted=False, batch_first=True)")
# A second mistake that the workspace's configuration turns off (PKL104: unsorted lengths, default on).
# (A collate's batch is in dataset order: lengths of a name nothing is known of would be PKL107's.)
IGNORED = (
    "def collate(batch):\n    seqs = [x for x, _ in batch]\n    lens = [len(s) for s in seqs]\n"
    "    return pack_padded_sequence(pad_sequence(seqs, batch_first=True), lens, batch_first=True)\n"
)
TIMEOUT = 60


class Client:
    """A minimal LSP client: Content-Length framing, requests matched by id, notifications kept."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "packlint", "server"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.pending: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []  # what the server asked the client (answered null)
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
            assert length is not None
            self.messages.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any] | None) -> Any:
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        message = self._wait(lambda m: m.get("id") == ident and "method" not in m)
        assert "error" not in message, message
        return message.get("result")

    def diagnostics(self, uri: str) -> list[dict[str, Any]]:
        """The next diagnostics published for `uri`."""
        message = self._wait(
            lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
        )
        return message["params"]["diagnostics"]  # type: ignore[no-any-return]

    def _wait(self, match: Any) -> dict[str, Any]:
        for i, message in enumerate(self.pending):
            if match(message):
                return self.pending.pop(i)
        while True:
            try:
                message = self.messages.get(timeout=TIMEOUT)
            except queue.Empty:
                assert self.process.stderr is not None
                raise AssertionError("the server did not answer in time") from None
            if "method" in message and "id" in message:  # a request from the server: accept it
                self.server_requests.append(message)
                self.send({"id": message["id"], "result": None})
                continue
            if match(message):
                return message
            self.pending.append(message)

    def close(self) -> int:
        self.request("shutdown", None)
        self.notify("exit", {})
        return self.process.wait(timeout=TIMEOUT)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    pytest.importorskip("pygls")  # in the test extra; the skip only guards a bare `pip install packlint`
    (tmp_path / "pyproject.toml").write_text('[tool.packlint]\nignore = ["PKL104"]\n', encoding="utf-8")
    c = Client(tmp_path)
    result = c.request(
        "initialize",
        {
            "processId": None,
            "rootUri": tmp_path.as_uri(),
            "capabilities": {
                "textDocument": {"codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": []}}}},
                "notebookDocument": {"synchronization": {}},
            },
        },
    )
    capabilities = result["capabilities"]
    assert "source.fixAll.packlint" in capabilities["codeActionProvider"]["codeActionKinds"]
    assert capabilities["notebookDocumentSync"]["notebookSelector"]
    c.notify("initialized", {})
    yield c
    assert c.close() == 0


def offset(text: str, position: dict[str, int]) -> int:
    """The character offset of an LSP position (UTF-16 columns)."""
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: position["line"]])
    line = lines[position["line"]] if position["line"] < len(lines) else ""
    units = 0
    for i, char in enumerate(line):
        if units >= position["character"]:
            return start + i
        units += 2 if ord(char) > 0xFFFF else 1
    return start + len(line)


def apply(text: str, edits: list[dict[str, Any]]) -> str:
    """`text` with LSP text edits applied, as an editor applies them."""
    spans = sorted((offset(text, e["range"]["start"]), offset(text, e["range"]["end"]), e["newText"]) for e in edits)
    for start, end, new in reversed(spans):
        text = text[:start] + new + text[end:]
    return text


def actions_for(client: Client, uri: str, diagnostic: dict[str, Any], only: list[str] | None = None) -> list[Any]:
    context: dict[str, Any] = {"diagnostics": [diagnostic]}
    if only is not None:
        context["only"] = only
    params = {"textDocument": {"uri": uri}, "range": diagnostic["range"], "context": context}
    return client.request("textDocument/codeAction", params)  # type: ignore[no-any-return]


def change(client: Client, uri: str, version: int, text: str) -> list[dict[str, Any]]:
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
    )
    return client.diagnostics(uri)


def test_a_file_gets_diagnostics_quick_fixes_noqa_and_fix_all(client: Client, tmp_path: Path) -> None:
    text = IMPORTS + "x = '\U0001f600'; " + MODEL + CALL + IGNORED
    uri = (tmp_path / "model.py").as_uri()
    client.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}
    )
    (diagnostic,) = client.diagnostics(uri)  # PKL104 is ignored by the workspace's [tool.packlint]
    assert diagnostic["code"] == "PKL112"
    assert diagnostic["source"] == "packlint"
    assert diagnostic["codeDescription"]["href"].endswith("/docs/rules/PKL112.md")
    assert "batch_first=True" in diagnostic["message"] and "PKL112 (batch-first-mismatch)" in diagnostic["message"]
    assert diagnostic["range"]["start"] == {"line": 3, "character": 9}

    actions = actions_for(client, uri, diagnostic)
    kinds = {a["title"]: a["kind"] for a in actions}
    assert kinds == {
        "packlint (PKL112): Pass `batch_first=True`": "quickfix",
        "packlint (PKL112): Ignore PKL112 on this line": "quickfix",
        "packlint: Fix all auto-fixable problems": "source.fixAll.packlint",
    }
    quick = next(a for a in actions if a["title"].endswith("Pass `batch_first=True`"))
    assert quick["isPreferred"] is True
    fixed = apply(text, quick["edit"]["changes"][uri])
    assert fixed == IMPORTS + "x = '\U0001f600'; " + MODEL + FIXED_CALL + IGNORED
    assert change(client, uri, 2, fixed) == []

    assert len(change(client, uri, 3, text)) == 1
    ignore = next(a for a in actions_for(client, uri, diagnostic) if "Ignore" in a["title"])
    quiet = apply(text, ignore["edit"]["changes"][uri])
    assert "enforce_sorted=False)  # noqa: PKL112\n" in quiet
    assert change(client, uri, 4, quiet) == []

    assert len(change(client, uri, 5, text)) == 1
    (fix_all,) = actions_for(client, uri, diagnostic, only=["source.fixAll"])
    assert fix_all["kind"] == "source.fixAll.packlint"
    assert apply(text, fix_all["edit"]["changes"][uri]) == fixed


def test_a_notebook_gets_diagnostics_in_its_cells_and_fixes_edit_only_that_cell(client: Client, tmp_path: Path) -> None:
    notebook = (tmp_path / "nb.ipynb").as_uri()
    sources = [
        ("markdown", "# Title"),
        ("python", "%matplotlib inline\n" + IMPORTS),
        ("python", MODEL),
        ("python", CALL),
    ]
    uris = [f"vscode-notebook-cell:{notebook[5:]}#cell{i}" for i in range(len(sources))]
    client.notify(
        "notebookDocument/didOpen",
        {
            "notebookDocument": {
                "uri": notebook,
                "notebookType": "jupyter-notebook",
                "version": 1,
                "cells": [
                    {"kind": 1 if lang == "markdown" else 2, "document": u} for u, (lang, _) in zip(uris, sources)
                ],
            },
            "cellTextDocuments": [
                {"uri": u, "languageId": lang, "version": 1, "text": text} for u, (lang, text) in zip(uris, sources)
            ],
        },
    )
    published = {uri: client.diagnostics(uri) for uri in uris[1:]}
    assert published[uris[1]] == [] and published[uris[2]] == []
    (diagnostic,) = published[uris[3]]  # the GRU two cells up is batch-first: the cells are one module
    assert diagnostic["code"] == "PKL112"
    assert diagnostic["range"]["start"] == {"line": 0, "character": 9}  # relative to its cell

    actions = actions_for(client, uris[3], diagnostic, only=["quickfix"])
    quick = next(a for a in actions if "batch_first" in a["title"])
    assert set(quick["edit"]["changes"]) == {uris[3]}
    fixed = apply(CALL, quick["edit"]["changes"][uris[3]])
    assert fixed == FIXED_CALL
    client.notify(
        "notebookDocument/didChange",
        {
            "notebookDocument": {"uri": notebook, "version": 2},
            "change": {
                "cells": {"textContent": [{"document": {"uri": uris[3], "version": 2}, "changes": [{"text": fixed}]}]}
            },
        },
    )
    after = {uri: client.diagnostics(uri) for uri in uris[1:]}
    assert after[uris[3]] == []


def test_a_file_that_does_not_parse_is_shown_not_passed(client: Client, tmp_path: Path) -> None:
    uri = (tmp_path / "broken.py").as_uri()
    text = "def f(:\n    pack_padded_sequence\n"
    client.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}
    )
    (diagnostic,) = client.diagnostics(uri)
    assert diagnostic["severity"] == 1 and "could not check this file: syntax error" in diagnostic["message"]


def test_an_unsafe_fix_is_offered_labelled_and_not_preferred(client: Client, tmp_path: Path) -> None:
    source = (Path(__file__).resolve().parent.parent / "fixtures" / "PKL202" / "bad_h_n_last.py").read_text()
    uri = (tmp_path / "encoder.py").as_uri()
    client.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": source}}
    )
    (diagnostic,) = client.diagnostics(uri)
    assert diagnostic["code"] == "PKL202"
    actions = actions_for(client, uri, diagnostic, only=["quickfix"])
    (unsafe,) = [a for a in actions if "Ignore" not in a["title"]]
    assert unsafe["title"].endswith("(unsafe fix: review the change)")
    assert not unsafe.get("isPreferred")
    assert "torch.cat((h_n[-2], h_n[-1]), dim=-1)" in apply(source, unsafe["edit"]["changes"][uri])
    # Fix-all applies safe fixes only, as `--fix` does: none here.
    assert actions_for(client, uri, diagnostic, only=["source.fixAll"]) == []


def test_fix_all_is_built_when_a_resolving_client_resolves_it(tmp_path: Path) -> None:
    # A client that resolves edits gets fix-all without one (a whole `--fix` run per request a moving
    # cursor sends would be too slow) and asks `codeAction/resolve` for it when the user picks it.
    pytest.importorskip("pygls")
    c = Client(tmp_path)
    capabilities = {"textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]}, "dataSupport": True}}}
    result = c.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": capabilities})
    assert result["capabilities"]["codeActionProvider"]["resolveProvider"] is True
    c.notify("initialized", {})
    text = IMPORTS + MODEL + CALL
    uri = (tmp_path / "model.py").as_uri()
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    (diagnostic,) = c.diagnostics(uri)
    (fix_all,) = actions_for(c, uri, diagnostic, only=["source.fixAll"])
    assert "edit" not in fix_all or fix_all["edit"] is None
    resolved = c.request("codeAction/resolve", fix_all)
    assert apply(text, resolved["edit"]["changes"][uri]) == IMPORTS + MODEL + FIXED_CALL
    # Quick fixes keep their edits in the answer itself: they are built for the diagnostics in range only.
    quick = [a for a in actions_for(c, uri, diagnostic, only=["quickfix"]) if "Ignore" not in a["title"]]
    assert apply(text, quick[0]["edit"]["changes"][uri]) == IMPORTS + MODEL + FIXED_CALL
    assert c.close() == 0


def test_the_server_watches_pyproject_and_rechecks_open_files_when_it_changes(tmp_path: Path) -> None:
    pytest.importorskip("pygls")
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.packlint]\nignore = ["PKL104"]\n', encoding="utf-8")
    c = Client(tmp_path)
    capabilities = {"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}}}
    c.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": capabilities})
    c.notify("initialized", {})
    text = IMPORTS + MODEL + CALL + IGNORED
    uri = (tmp_path / "model.py").as_uri()
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    assert [d["code"] for d in c.diagnostics(uri)] == ["PKL112"]
    (registration,) = [r for r in c.server_requests if r["method"] == "client/registerCapability"]
    (watch,) = registration["params"]["registrations"]
    assert watch["method"] == "workspace/didChangeWatchedFiles"
    assert watch["registerOptions"]["watchers"] == [{"globPattern": "**/pyproject.toml"}]
    config.write_text("[tool.packlint]\n", encoding="utf-8")
    c.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": config.as_uri(), "type": 2}]})
    assert sorted(d["code"] for d in c.diagnostics(uri)) == ["PKL104", "PKL112"]
    assert c.close() == 0


def test_notebook_cells_added_and_removed_keep_diagnostics_in_place(client: Client, tmp_path: Path) -> None:
    notebook = (tmp_path / "nb.ipynb").as_uri()
    uris = [f"vscode-notebook-cell:{notebook[5:]}#c{i}" for i in range(3)]
    client.notify(
        "notebookDocument/didOpen",
        {
            "notebookDocument": {
                "uri": notebook,
                "notebookType": "jupyter-notebook",
                "version": 1,
                "cells": [{"kind": 2, "document": u} for u in uris[:2]],
            },
            "cellTextDocuments": [
                {"uri": uris[0], "languageId": "python", "version": 1, "text": IMPORTS + MODEL},
                {"uri": uris[1], "languageId": "python", "version": 1, "text": CALL},
            ],
        },
    )
    assert client.diagnostics(uris[0]) == [] and len(client.diagnostics(uris[1])) == 1

    def structure(
        version: int, start: int, delete: int, cells: list[Any], opened: list[Any], closed: list[Any]
    ) -> None:
        array = {"start": start, "deleteCount": delete, "cells": cells}
        change = {"cells": {"structure": {"array": array, "didOpen": opened, "didClose": closed}}}
        client.notify(
            "notebookDocument/didChange", {"notebookDocument": {"uri": notebook, "version": version}, "change": change}
        )

    # A cell inserted above: the finding stays in the call's cell, at the same cell-relative place.
    opened = {"uri": uris[2], "languageId": "python", "version": 1, "text": "seqs = []\n"}
    structure(2, 0, 0, [{"kind": 2, "document": uris[2]}], [opened], [])
    published = {u: client.diagnostics(u) for u in (uris[2], uris[0], uris[1])}
    assert published[uris[2]] == [] and published[uris[0]] == []
    assert [d["range"]["start"] for d in published[uris[1]]] == [{"line": 0, "character": 9}]
    # The call's cell deleted: its diagnostics are withdrawn.
    structure(3, 2, 1, [], [], [{"uri": uris[1]}])
    assert client.diagnostics(uris[1]) == []
