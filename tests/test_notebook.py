"""Jupyter notebooks: cells joined into one module, IPython syntax masked, positions per cell, fixes spliced."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from packlint.config import Settings
from packlint.diagnostics import SYNTAX_ERROR, FileResult
from packlint.engine import check_paths, check_source
from packlint.notebook import (
    Notebook,
    NotebookCell,
    is_python_cell,
    join_cells,
    mask_ipython,
    splice_sources,
    split_cells,
)
from tests.conftest import run_packlint
from tests.fixture_marks import FIXTURES, fixture_settings

IMPORTS = "import torch\nfrom torch import nn\nfrom torch.nn.utils.rnn import pack_padded_sequence, pad_sequence\n"
# The batch is padded batch-first in sight, so PKL112's fix is safe (the RNN's flag alone would not be).
MODEL = "x = pad_sequence(seqs, batch_first=True)\nrnn = nn.GRU(8, 16, batch_first=True)\n"
BAD_CALL = "packed = pack_padded_sequence(x, lengths, enforce_sorted=False)\n_, h = rnn(packed)"
FIXED_CALL = "packed = pack_padded_sequence(x, lengths, enforce_sorted=False, batch_first=True)\n_, h = rnn(packed)"
SETTINGS = Settings(select=("ALL",), strict=True)


def lines(text: str) -> list[str]:
    """nbformat's list form of a source: each line keeps its ending, the last has none."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+", text)


def code(source: str, outputs: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A code cell in nbformat 4.5."""
    cell = {"cell_type": "code", "execution_count": 1, "id": f"c{zlib.crc32(source.encode()):08x}", "metadata": {}}
    return {**cell, "outputs": outputs or [], "source": lines(source), **extra}


def markdown(source: str) -> dict[str, Any]:
    """A markdown cell."""
    return {"cell_type": "markdown", "id": "md", "metadata": {}, "source": lines(source)}


def notebook(*cells: dict[str, Any], **dump: Any) -> str:
    """A notebook's text as Jupyter writes it (indent 1, sorted keys, no ASCII escaping), unless told otherwise."""
    style = {"indent": 1, "sort_keys": True, "ensure_ascii": False, **dump}
    document = {
        "cells": list(cells),
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document, **style) + "\n"


def check(text: str, **changes: object) -> FileResult:
    """Check notebook text as a file named `nb.ipynb`."""
    return check_source(text.encode("utf-8"), "nb.ipynb", SETTINGS.but(**changes))


def positions(result: FileResult) -> list[tuple[str, int | None, int, int]]:
    """(code, cell, row, column) of each diagnostic."""
    return [(d.code, d.cell.number if d.cell else None, d.location.row, d.location.column) for d in result.diagnostics]


STANDARD = notebook(
    markdown("# Title\n\nSome words."),
    code("%matplotlib inline\n" + IMPORTS),
    markdown("More words."),
    code(MODEL),
    code(BAD_CALL, outputs=[{"name": "stdout", "output_type": "stream", "text": ["done\n"]}]),
)


def test_cells_are_counted_among_all_cells_and_rows_within_the_cell() -> None:
    result = check(STANDARD)
    assert not result.errors
    # The bad call is in the fifth cell (markdown cells count, as in ruff), on its first row.
    assert positions(result) == [("PKL112", 5, 1, 10)]


def test_later_cells_see_names_from_earlier_cells() -> None:
    # The GRU is built batch-first two cells before the pack call: only a joined module knows that.
    result = check(STANDARD)
    assert [d.code for d in result.diagnostics] == ["PKL112"]
    alone = notebook(code(IMPORTS), code(BAD_CALL))
    assert check(alone).diagnostics == ()


def test_text_json_sarif_and_github_reports_point_into_the_notebook(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    path.write_text(STANDARD, encoding="utf-8")
    text = run_packlint("check", "--no-cache", str(path), cwd=tmp_path)
    assert f"{path}:cell 5:1:10: PKL112" in text.stdout
    records = json.loads(run_packlint("check", "--no-cache", "--output-format", "json", str(path), cwd=tmp_path).stdout)
    assert [(r["cell"], r["location"]) for r in records] == [(5, {"column": 10, "row": 1})]
    file_lines = STANDARD.splitlines()
    call_line = next(i for i, line in enumerate(file_lines, start=1) if "pack_padded_sequence(x" in line)
    column = file_lines[call_line - 1].index("pack_padded_sequence(x") + 1
    sarif = json.loads(run_packlint("check", "--no-cache", "--output-format", "sarif", str(path), cwd=tmp_path).stdout)
    (result,) = sarif["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "nb.ipynb"
    assert (region["startLine"], region["startColumn"]) == (call_line, column)
    assert result["properties"]["notebookCell"] == 5
    github = run_packlint("check", "--no-cache", "--output-format", "github", str(path), cwd=tmp_path).stdout
    assert f"file={path},line={call_line},col={column}," in github
    assert "(cell 5:1:10)" in github


def test_full_output_frames_a_notebook_diagnostic_in_its_cell(tmp_path: Path) -> None:
    # As ruff does for notebooks: the cell's own lines, numbered within the cell, the caret under the
    # call; the magic is shown as written, and nothing of the file's JSON appears.
    cell = "%time\n" + BAD_CALL.replace("packed =", "x = x.float()\npacked =")
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook(code(IMPORTS), code(MODEL), markdown("# Run"), code(cell)), encoding="utf-8")
    out = run_packlint("check", "--no-cache", "--output-format", "full", str(path), cwd=tmp_path).stdout
    header = f"{path}:cell 4:3:10: PKL112"
    assert header in out
    frame = out.split(header, 1)[1].split("\n")[1:7]
    assert frame == [
        "  |",
        "1 | %time",
        "2 | x = x.float()",
        "3 | packed = pack_padded_sequence(x, lengths, enforce_sorted=False)",
        "  |          " + "^" * len("pack_padded_sequence(x, lengths, enforce_sorted=False)") + " PKL112",
        "4 | _, h = rnn(packed)",
    ]
    assert '"source"' not in out and "cell_type" not in out


def test_fix_rewrites_only_the_changed_cell(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    path.write_text(STANDARD, encoding="utf-8")
    done = run_packlint("check", "--no-cache", "--fix", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = STANDARD.replace(
        json.dumps("packed = pack_padded_sequence(x, lengths, enforce_sorted=False)\n"),
        json.dumps("packed = pack_padded_sequence(x, lengths, enforce_sorted=False, batch_first=True)\n"),
    )
    assert expected != STANDARD
    assert path.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize(
    "style",
    [
        {"indent": 1, "sort_keys": True, "ensure_ascii": False},
        {"indent": 2, "ensure_ascii": True},
        {"indent": 4, "ensure_ascii": False},
        {"indent": None, "separators": (",", ":")},
    ],
    ids=["jupyter", "indent2-ascii", "indent4", "minified"],
)
def test_fix_keeps_every_other_byte_in_each_json_style(style: dict[str, Any]) -> None:
    cells = (
        markdown("Längen — Ünïcode\n"),
        code(
            IMPORTS + "# längen\n" + MODEL, outputs=[{"data": {"text/plain": ["'é'"]}, "output_type": "execute_result"}]
        ),
        code(BAD_CALL.replace("\n", "  # Länge ↦ pädded\n", 1)),
    )
    text = notebook(*cells, **style)
    if style.get("indent") is None:
        text = text[:-1]  # and no trailing newline
    result = check(text, fix=True)
    assert not result.errors and result.new_source is not None
    expected_cells = (*cells[:2], {**cells[2], "source": lines(FIXED_CALL.replace("\n", "  # Länge ↦ pädded\n", 1))})
    expected = notebook(*expected_cells, **style)
    if style.get("indent") is None:
        expected = expected[:-1]
    # json.dumps writes the same document with the same style: only the changed cell's source differs.
    assert result.new_source.decode("utf-8") == expected


def test_string_sources_and_crlf_lines_survive_a_fix() -> None:
    crlf = {**code(""), "source": (IMPORTS + MODEL).replace("\n", "\r\n")}
    bad = {**code(""), "source": BAD_CALL}
    text = notebook(crlf, bad)
    result = check(text, fix=True)
    assert result.new_source is not None
    expected = notebook(crlf, {**bad, "source": FIXED_CALL})
    assert result.new_source.decode("utf-8") == expected


def test_a_run_that_fixes_nothing_leaves_the_notebook_untouched() -> None:
    clean = notebook(code(IMPORTS), code(MODEL), code(FIXED_CALL))
    result = check(clean, fix=True, unsafe_fixes=True)
    assert not result.errors and result.diagnostics == () and result.new_source is None


def test_fix_with_only_unsafe_fixes_on_offer_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    # A notebook as people keep them: outputs with an image, execution counts, a raw cell, a shell line,
    # a `%%bash` cell, keys in Jupyter's order but indent 2, no final newline. Its one finding has only an
    # unsafe fix: `--fix` must leave every byte as it was; `--unsafe-fixes` may change that cell alone.
    # Reading `.data` sees the packed order that `enforce_sorted=False` changes: the fix is unsafe.
    # PKL107 speaks only where a caller that sorts nothing, with lengths of its own, is in sight.
    encode = (
        "def encode(x, lengths):\n    packed = pack_padded_sequence(x, lengths)\n    return packed.data\n\n\n"
        "for x, n in batches():\n    encode(x, n)\n"
    )
    image = {
        "data": {"image/png": "iVBORw0KGgo=\n", "text/plain": ["<Figure>"]},
        "metadata": {},
        "output_type": "display_data",
    }
    cells = (
        markdown("# Läufe"),
        code("!pip install torch\n" + IMPORTS, outputs=[image], metadata={"collapsed": True, "tags": ["setup"]}),
        {"cell_type": "raw", "id": "raw", "metadata": {}, "source": ["raw text\n"]},
        code("%%bash\necho hi\n"),
        code(encode),
    )
    text = notebook(*cells, indent=2, sort_keys=False, ensure_ascii=True)[:-1]
    path = tmp_path / "nb.ipynb"
    path.write_bytes(text.encode("utf-8"))
    done = run_packlint("check", "--no-cache", "--select", "ALL", "--fix", str(path), cwd=tmp_path)
    assert done.returncode == 1 and "PKL107" in done.stdout, done.stdout + done.stderr
    assert path.read_bytes() == text.encode("utf-8")
    done = run_packlint("check", "--no-cache", "--select", "ALL", "--fix", "--unsafe-fixes", str(path), cwd=tmp_path)
    after = path.read_text(encoding="utf-8")
    fixed = encode.replace("(x, lengths)\n", "(x, lengths, enforce_sorted=False)\n")
    style = {"indent": 2, "sort_keys": False, "ensure_ascii": True}
    assert fixed != encode and after == notebook(*cells[:4], {**cells[4], "source": lines(fixed)}, **style)[:-1]


def test_splicing_unchanged_sources_gives_back_the_same_text() -> None:
    parsed = Notebook.parse(STANDARD.encode())
    assert splice_sources(parsed, {c.index: c.source for c in parsed.cells}) == STANDARD


def test_magics_shell_and_help_are_masked_without_moving_columns() -> None:
    source = (
        "%load_ext autoreload\n"
        "!pip install torch\n"
        "files = !ls data/\n"
        "t = %timeit -o f()\n"
        "nn.GRU?\n"
        "?nn.LSTM\n"
        "if True:\n"
        "    %time x = 1\n"
        "%cd \\\n"
        "   somewhere\n"
        "s = '%not a magic'\n"
        'doc = """\n'
        "%also not a magic\n"
        '"""\n'
        "y = (1 +\n"
        "     2) % 3\n"
    )
    masked = mask_ipython(source, [0])
    ast.parse(masked.text)
    before, after = source.splitlines(), masked.text.splitlines()
    assert len(before) == len(after)
    # Lines that are Python stay exactly as written; masked lines keep their indentation.
    for old, new in zip(before, after):
        if old.lstrip().startswith(("%", "!", "?")) or "= !" in old or "= %" in old or old.endswith("?"):
            assert new[: len(old) - len(old.lstrip())] == old[: len(old) - len(old.lstrip())]
        elif old != "   somewhere":
            assert new == old
    assert after[2].startswith("files = __packlint_ipython_")
    assert masked.restore(masked.text) == source


def test_non_python_cell_magics_are_skipped_and_python_ones_kept() -> None:
    def cell(source: str, kind: str = "code") -> NotebookCell:
        return NotebookCell(0, kind, source, (0, 0), None)

    assert not is_python_cell(cell("%%bash\necho hi"))
    assert not is_python_cell(cell("\n%%writefile x.py\nimport torch"))
    assert not is_python_cell(cell("import torch", "markdown"))
    assert is_python_cell(cell("%%time\nimport torch"))
    assert is_python_cell(cell("import torch"))
    skipped = notebook(code(IMPORTS + MODEL), code("%%writefile train.py\n" + BAD_CALL))
    assert check(skipped).diagnostics == ()
    timed = notebook(code(IMPORTS + MODEL), code("%%time\n" + BAD_CALL))
    assert positions(check(timed)) == [("PKL112", 2, 2, 10)]


def test_noqa_in_a_cell_and_skip_file_in_any_code_cell() -> None:
    suppressed = BAD_CALL.replace("enforce_sorted=False)", "enforce_sorted=False)  # noqa: PKL112")
    assert check(notebook(code(IMPORTS + MODEL), code(suppressed))).diagnostics == ()
    other_code = BAD_CALL.replace("enforce_sorted=False)", "enforce_sorted=False)  # noqa: PKL101")
    # PKL112 is still reported; with every rule selected, PKL900 also flags the noqa that suppresses nothing.
    assert [d.code for d in check(notebook(code(IMPORTS + MODEL), code(other_code))).diagnostics] == [
        "PKL112",
        "PKL900",
    ]
    skip = notebook(code(IMPORTS + MODEL), code(BAD_CALL), code("# packlint: skip-file"))
    assert check(skip).diagnostics == ()
    # In a markdown cell the comment is prose, not code: it skips nothing.
    prose = notebook(markdown("# packlint: skip-file"), code(IMPORTS + MODEL), code(BAD_CALL))
    assert len(check(prose).diagnostics) == 1


def test_a_cell_that_does_not_parse_is_reported_and_the_rest_still_checked() -> None:
    text = notebook(code(IMPORTS + MODEL), code("print 'python 2'"), code(BAD_CALL))
    result = check(text)
    assert len(result.errors) == 1 and result.errors[0].reason.startswith("cell 2: syntax error at 1:")
    assert positions(result) == [("PKL112", 3, 1, 10)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"cells": 3, "nbformat": 4}', "no `cells` list"),
        (b'{"worksheets": [], "nbformat": 3}', "nbformat 3 is not supported"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b'{"cells": [{"cell_type": "code", "source": 3}], "nbformat": 4}', "cell 1: `source` must be"),
    ],
)
def test_bad_notebooks_give_a_clear_error(data: bytes, reason: str) -> None:
    result = check_source(data, "nb.ipynb", SETTINGS)
    assert len(result.errors) == 1 and reason in result.errors[0].reason
    assert result.diagnostics == ()


def test_a_broken_notebook_fails_the_run_in_the_cli(tmp_path: Path) -> None:
    (tmp_path / "broken.ipynb").write_text("{", encoding="utf-8")
    done = run_packlint("check", "--no-cache", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert f"broken.ipynb:1:1: {SYNTAX_ERROR} not valid JSON" in done.stdout
    assert "1 file could not be checked." in done.stdout


def test_discovery_finds_notebooks_and_config_turns_them_off(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(STANDARD, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("pack_padded_sequence", encoding="utf-8")
    found = run_packlint("check", "--no-cache", ".", cwd=tmp_path)
    assert "nb.ipynb:cell 5:1:10: PKL112" in found.stdout
    for table in ['extend-exclude = ["*.ipynb"]', 'include = ["*.py"]']:
        (tmp_path / "pyproject.toml").write_text(f"[tool.packlint]\n{table}\n", encoding="utf-8")
        done = run_packlint("check", "--no-cache", ".", cwd=tmp_path)
        assert done.returncode == 0 and "No Python files found" in done.stderr, table
        assert "nb.ipynb" not in done.stdout, table
    (tmp_path / "script.pyw").write_text(IMPORTS + MODEL + BAD_CALL, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.packlint]\ninclude = ["*.py"]\nextend-include = ["*.pyw"]\n', encoding="utf-8"
    )
    extended = run_packlint("check", "--no-cache", ".", cwd=tmp_path)
    assert "script.pyw" in extended.stdout and "nb.ipynb" not in extended.stdout
    named = run_packlint("check", "--no-cache", "nb.ipynb", cwd=tmp_path)
    assert "nb.ipynb:cell 5:1:10: PKL112" in named.stdout  # a file named on the command line is checked


def test_per_file_ignores_apply_to_notebooks(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(STANDARD, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.packlint.per-file-ignores]\n"*.ipynb" = ["PKL112"]\n', encoding="utf-8"
    )
    assert run_packlint("check", "--no-cache", ".", cwd=tmp_path).returncode == 0


def test_cached_notebook_results_keep_their_cells(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(STANDARD, encoding="utf-8")
    first = run_packlint("check", ".", cwd=tmp_path)
    second = run_packlint("check", ".", cwd=tmp_path)
    assert (tmp_path / ".packlint_cache").is_dir()
    assert "nb.ipynb:cell 5:1:10: PKL112" in first.stdout
    assert second.stdout == first.stdout


def test_diff_is_a_patch_of_the_notebook_file_and_writes_nothing(tmp_path: Path) -> None:
    # A diff of the .ipynb file's own lines, so that `patch -p0` and `git apply` take it like any other.
    path = tmp_path / "nb.ipynb"
    path.write_text(STANDARD, encoding="utf-8")
    done = run_packlint("check", "--diff", "nb.ipynb", cwd=tmp_path)
    assert done.returncode == 1
    assert "--- nb.ipynb\n+++ nb.ipynb\n" in done.stdout
    assert "enforce_sorted=False, batch_first=True)" in done.stdout
    assert path.read_text(encoding="utf-8") == STANDARD
    applied = subprocess.run(["patch", "-p0", "--quiet"], input=done.stdout, text=True, cwd=tmp_path, check=False)
    assert applied.returncode == 0
    assert "PKL112" not in run_packlint("check", "--no-cache", str(path)).stdout


def test_cell_markers_that_do_not_survive_a_fix_refuse_the_split() -> None:
    cells = Notebook.parse(STANDARD.encode()).cells
    module = join_cells([c for c in cells if is_python_cell(c)])
    assert split_cells(module, module.text) == {c.index: c.source for c in cells if is_python_cell(c)}
    merged = re.sub(r"#packlint-cell:3\n", "", module.text)
    assert split_cells(module, merged) is None
    lost_magic = re.sub(r"__packlint_ipython_\d+__", "pass", module.text)
    assert split_cells(module, lost_magic) is None


NOTEBOOK_MARK = re.compile(r"# error: (PKL\d{3}):(\d+)")


def notebook_marks(path: Path) -> list[tuple[str, int, int, int]]:
    """(code, cell, row, column) for every `# error: CODE:COL` mark in a notebook fixture's code cells."""
    found = []
    for cell in Notebook.parse(path.read_bytes()).cells:
        if cell.kind != "code":
            continue
        for row, line in enumerate(cell.source.splitlines(), start=1):
            for match in NOTEBOOK_MARK.finditer(line):
                found.append((match.group(1), cell.index + 1, row, int(match.group(2))))
    return found


NOTEBOOK_FIXTURES = sorted(p for p in FIXTURES.glob("*/bad_*.ipynb") if not p.name.endswith(".fixed.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOK_FIXTURES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_notebook_fixture_gives_its_marks_and_its_fix(path: Path) -> None:
    settings = fixture_settings(path)
    result = check_source(path.read_bytes(), str(path), settings)
    assert not result.errors
    assert sorted(positions(result)) == sorted(notebook_marks(path))  # type: ignore[arg-type]
    fixed = check_source(path.read_bytes(), str(path), settings.but(fix=True, unsafe_fixes=True))
    golden = path.with_name(path.name.replace(".ipynb", ".fixed.ipynb"))
    assert fixed.new_source == golden.read_bytes()
    again = check_source(golden.read_bytes(), str(golden), settings.but(fix=True, unsafe_fixes=True))
    assert again.new_source is None and again.diagnostics == ()


def test_notebook_fixtures_exist() -> None:
    assert NOTEBOOK_FIXTURES


def test_check_paths_reads_notebooks_like_other_files(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    path.write_text(STANDARD, encoding="utf-8")
    (result,) = check_paths([str(path)], SETTINGS.but(fix=True))
    assert result.old_source == STANDARD.encode() and result.new_source is not None


def indented(source: str, indent: str = "  ") -> str:
    """`source` with every line that is not blank indented."""
    return "".join(indent + line if line.strip() else line for line in lines(source))


def test_an_indented_cell_is_checked_as_ipython_runs_it_and_placed_at_its_own_columns() -> None:
    # IPython removes the first line's indentation from every line that starts with it, so the cell runs:
    # no syntax error, and the diagnostic sits two columns right of where it sits unindented.
    text = notebook(code(IMPORTS + MODEL), code("\n" + indented(BAD_CALL)))
    result = check(text)
    assert not result.errors
    assert positions(result) == [("PKL112", 2, 2, 12)]
    tabbed = notebook(code(IMPORTS + MODEL), code(indented(BAD_CALL, "\t")))
    assert positions(check(tabbed)) == [("PKL112", 2, 1, 11)]


def test_a_line_without_the_first_lines_indentation_keeps_its_own() -> None:
    # The second line does not start with the first line's indentation: IPython leaves it, and so do we.
    cell = NotebookCell(0, "code", "  x = 1\ny = '''\n  text'''\n", (0, 0), None)
    module = join_cells([cell])
    assert module.text.startswith("x = 1\ny = '''\ntext'''\n")
    assert split_cells(module, module.text) == {0: cell.source}


def test_a_fix_in_an_indented_cell_puts_the_indentation_back() -> None:
    cells = (code(IMPORTS + MODEL), code(indented(BAD_CALL, "    ")))
    result = check(notebook(*cells), fix=True)
    assert not result.errors and result.new_source is not None
    expected = notebook(cells[0], {**cells[1], "source": lines(indented(FIXED_CALL, "    "))})
    assert result.new_source.decode("utf-8") == expected


def test_a_fix_that_adds_lines_to_an_indented_cell_is_refused() -> None:
    # Which new lines had the indentation is not known: the cell is left as it is, and the run says so.
    cell = NotebookCell(0, "code", "  x = 1\n  y = 2\n", (0, 0), None)
    module = join_cells([cell])
    fixed = module.text.replace("x = 1\n", "x = 1\nz = 3\n")
    assert split_cells(module, fixed) is None
    assert split_cells(module, module.text.replace("x = 1", "x = 4")) == {0: "  x = 4\n  y = 2\n"}
