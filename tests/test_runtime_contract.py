"""The `# verify:` contract is read without torch; which fixtures are executable is explicit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from packlint.runtime.contract import (
    Binding,
    ContractError,
    parse_header,
    read_contract,
)
from tests.conftest import ROOT
from tests.fixture_marks import FIXTURES


def _fixture_texts() -> list[tuple[str, str]]:
    files = sorted(FIXTURES.glob("*/*.py"))
    return [(str(p.relative_to(FIXTURES)), p.read_text(encoding="utf-8")) for p in files]


def test_every_header_in_the_tree_reads() -> None:
    for name, text in _fixture_texts():
        try:
            read_contract(text)
        except ContractError as exc:
            pytest.fail(f"{name}: {exc}")


def test_fixed_goldens_carry_their_bad_files_header() -> None:
    for bad in sorted(FIXTURES.glob("*/bad_*.py")):
        golden = bad.with_name(bad.stem + ".fixed.py")
        if bad.name.endswith(".fixed.py") or not golden.exists():
            continue
        bad_contract = read_contract(bad.read_text(encoding="utf-8"))
        assert read_contract(golden.read_text(encoding="utf-8")) == bad_contract, golden.name


def test_function_entry() -> None:
    contract = parse_header("collate(batch=pairs) -> (packed, labels)")
    assert contract.entry.name == "collate"
    assert contract.entry.arguments == (Binding("batch", "pairs"),)
    assert contract.result == ("packed", "labels")
    assert [c.label() for c in contract.configs()] == ["tf"]


def test_rnn_entry_sweeps_types_layers_directions() -> None:
    contract = parse_header("encode(rnn, padded, lengths) -> h_n; batch_first=false,true")
    labels = [c.label() for c in contract.configs()]
    assert len(labels) == 3 * 2 * 2 * 2
    assert "GRU/2/bi/bf" in labels
    only_lstm = parse_header("encode(lstm, seqs) -> h_n; layers=2 bidirectional=true")
    assert [c.label() for c in only_lstm.configs()] == ["LSTM/2/bi/tf"]


def test_class_entry_sweeps_only_what_the_constructor_takes() -> None:
    contract = parse_header("Encoder(input_size, hidden_size, bidirectional).forward(padded, lengths) -> repr")
    assert contract.entry.is_class
    assert contract.entry.constructor[2] == Binding("bidirectional", "bidirectional")
    assert [c.label() for c in contract.configs()] == ["uni/tf", "bi/tf"]


def test_module_entry_and_training_entry() -> None:
    module = parse_header("<module>(seqs) -> packed")
    assert module.entry.is_module and module.options.devices == ("cpu",)
    training = parse_header("train(model, optimizer, loader, loss_fn, epochs) -> params; clip=1.0")
    assert training.options.clip == 1.0


@pytest.mark.parametrize(
    "header, message",
    [
        ("collate(seqs)", "ENTRY -> RESULT"),
        ("collate(seqs) -> tensor", "not a result kind"),
        ("collate(batch=things) -> packed", "not in the vocabulary"),
        ("collate(seqs) -> packed; layers=3", "`layers` takes"),
        ("collate(seqs) -> packed; speed=fast", "unknown option"),
        ("collate(seqs) -> last", "needs an RNN"),
        ("train(model, optimizer) -> params", "missing"),
        ("train(model, optimizer, loader, loss_fn) -> (params, _)", "on its own"),
        ("Encoder(widgets).forward(seqs) -> repr", "constructor parameters"),
        ("collate(seqs[0]) -> packed", "must be names"),
        ("fit(loader, loss_fn) -> scores", "go together"),
        ("fit(loader, loss_fn) -> (trained, scores, _)", "go together"),
        ("fit(loss_fn, device) -> (trained, scores)", "takes a `loader`"),
        ("fit(loader, rnn) -> (trained, scores)", "takes a `loader`"),
        ("encode(rnn, padded, lengths) -> (alone, lengths)", "`alone` is a result on its own"),
    ],
)
def test_bad_headers_say_what_is_wrong(header: str, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        parse_header(header)


def test_header_only_in_the_leading_comment_block() -> None:
    assert read_contract("# what\n# verify: collate(seqs) -> packed\nimport torch\n") is not None
    assert read_contract("# what\nimport torch\n# verify: collate(seqs) -> packed\n") is None
    with pytest.raises(ContractError, match="one `# verify:` header"):
        read_contract("# verify: f(seqs) -> packed\n# verify: f(seqs) -> packed\n")


def test_linting_and_reading_contracts_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import packlint.cli, packlint.runtime, packlint.runtime.contract, packlint.runtime.pytest_plugin\n"
        "from packlint.config import Settings\n"
        "from packlint.engine import check_paths\n"
        "from packlint.runtime.contract import read_contract\n"
        "from pathlib import Path\n"
        "files = sorted(str(p) for p in Path('fixtures').glob('*/*.py'))\n"
        "check_paths(files, Settings(select=('ALL',), fix=True, unsafe_fixes=True), jobs=1)\n"
        "for f in files:\n"
        "    read_contract(Path(f).read_text(encoding='utf-8'))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", [["verify", "fixtures/PKL101"], ["run", "README.md"]])
def test_runtime_commands_say_torch_is_missing(command: list[str]) -> None:
    code = "import sys\nsys.modules['torch'] = None\nfrom packlint.cli import main\nmain()\n"
    result = subprocess.run(
        [sys.executable, "-c", code, *command], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "needs torch" in result.stderr and "Traceback" not in result.stderr
