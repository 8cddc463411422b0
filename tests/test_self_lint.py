"""packlint's own sources give packlint nothing to say, and the linter never loads torch."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, run_packlint


def test_packlint_is_silent_on_itself() -> None:
    ours = ["packlint", "tests", *(str(p.relative_to(ROOT)) for p in (ROOT / "benchmarks").glob("*.py"))]
    result = run_packlint("--select", "ALL", *ours)
    assert result.returncode == 0, result.stdout + result.stderr


def _modules_after(code: str) -> set[str]:
    """The top-level modules loaded after running `code` in a fresh interpreter."""
    script = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_checking_does_not_import_torch_or_libcst() -> None:
    loaded = _modules_after(
        "from packlint.config import Settings\n"
        "from packlint.engine import check_paths\n"
        "check_paths(['fixtures/PKL104/bad_collate.py'], Settings(select=('ALL',)), jobs=1)\n"
        "import packlint.cli, packlint.flake8_plugin"
    )
    assert "torch" not in loaded
    assert "libcst" not in loaded, "a check that applies no fix must not load libcst"


def test_plain_cli_check_does_not_import_libcst() -> None:
    loaded = _modules_after(
        "from packlint.cli import main\n"
        "try:\n"
        "    main(['check', '--no-cache', 'fixtures/PKL104/bad_collate.py'])\n"
        "except SystemExit:\n"
        "    pass"
    )
    assert "libcst" not in loaded and "torch" not in loaded


def test_fixing_goes_through_libcst_without_torch() -> None:
    loaded = _modules_after(
        "from packlint.config import Settings\n"
        "from packlint.engine import check_paths\n"
        "(result,) = check_paths(['fixtures/PKL104/bad_collate.py'], Settings(select=('ALL',), fix=True), jobs=1)\n"
        "assert result.new_source is not None"
    )
    assert "libcst" in loaded
    assert "torch" not in loaded


def test_the_server_publishes_without_libcst_and_builds_a_quick_fix_with_it() -> None:
    # What a change costs in the editor: the diagnostics alone. libcst is loaded only for a code action.
    loaded = _modules_after(
        "from pathlib import Path\n"
        "from packlint.config import Settings\n"
        "from packlint.server import Checked, Finding, check_text\n"
        "text = Path('fixtures/PKL104/bad_collate.py').read_text()\n"
        "result = check_text(text, 'bad_collate.py', Settings())\n"
        "assert any(d.fix is not None and not d.fix.edits for d in result.diagnostics)\n"
        "assert 'libcst' not in sys.modules\n"
        "findings = tuple(Finding('file:///x.py', d, d.location.row) for d in result.diagnostics)\n"
        "checked = Checked(findings, (), text, None, {})\n"
        "(fix,) = [f for f in checked.fixes(range(len(findings))).values() if f is not None][:1]\n"
        "assert fix.edits\n"
    )
    assert "libcst" in loaded and "torch" not in loaded
