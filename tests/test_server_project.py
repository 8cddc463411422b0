"""The language server in project mode: a document's diagnostics follow the other files of its project,
whether they change on disk or in another open buffer (the server's memo of a check is not served stale)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_server import Client

PROJECT = ROOT / "fixtures" / "project" / "bad_lengths_to_gpu"
PACKS = "pack_padded_sequence(padded, lengths,"
UNPACKS = "pack_padded_sequence(padded, lengths.cpu(),"  # the model moves them back itself: no report


def start(tmp_path: Path) -> tuple[Client, Path]:
    pytest.importorskip("pygls")
    project = tmp_path / "p"
    shutil.copytree(PROJECT, project)
    (project / "pyproject.toml").write_text('[project]\nname = "tagger"\n\n[tool.packlint]\nproject = true\n')
    client = Client(project)
    client.request("initialize", {"processId": None, "rootUri": project.as_uri(), "capabilities": {}})
    client.notify("initialized", {})
    return client, project


def open_document(client: Client, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    text = path.read_text(encoding="utf-8") if text is None else text
    document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
    client.notify("textDocument/didOpen", {"textDocument": document})
    return uri


def codes(diagnostics: list[dict[str, object]]) -> list[object]:
    return sorted(d["code"] for d in diagnostics)


def test_an_edit_in_another_open_buffer_rechecks_the_document(tmp_path: Path) -> None:
    client, project = start(tmp_path)
    train = open_document(client, project / "train.py")
    assert codes(client.diagnostics(train)) == ["PKL111"]
    model_path = project / "tagger" / "model.py"
    text = model_path.read_text(encoding="utf-8")
    model = open_document(client, model_path)
    client.diagnostics(model)
    assert codes(client.diagnostics(train)) == ["PKL111"]  # opening a file it uses checks it again: the same
    # Unsaved: the file on disk still packs the lengths as given, the buffer no longer does.
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": model, "version": 2}, "contentChanges": [{"text": text.replace(PACKS, UNPACKS)}]},
    )
    client.diagnostics(model)
    assert codes(client.diagnostics(train)) == []  # train.py was checked again, against the buffer
    client.notify(
        "textDocument/didChange", {"textDocument": {"uri": model, "version": 3}, "contentChanges": [{"text": text}]}
    )
    client.diagnostics(model)
    assert codes(client.diagnostics(train)) == ["PKL111"]
    assert client.close() == 0


def test_a_change_on_disk_is_seen_at_the_next_check(tmp_path: Path) -> None:
    client, project = start(tmp_path)
    train = open_document(client, project / "train.py")
    assert codes(client.diagnostics(train)) == ["PKL111"]
    model = project / "tagger" / "model.py"
    model.write_text(model.read_text(encoding="utf-8").replace(PACKS, UNPACKS), encoding="utf-8")
    # The same text of train.py: the server's memo of its last check must not be served.
    client.notify("textDocument/didSave", {"textDocument": {"uri": train}})
    assert codes(client.diagnostics(train)) == []
    model.write_text(model.read_text(encoding="utf-8").replace(UNPACKS, PACKS), encoding="utf-8")
    client.notify("textDocument/didSave", {"textDocument": {"uri": train}})
    assert codes(client.diagnostics(train)) == ["PKL111"]
    assert client.close() == 0
