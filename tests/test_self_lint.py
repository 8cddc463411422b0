"""packlint's own sources give packlint nothing to say, and the linter never loads torch."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, run_packlint


def test_packlint_is_silent_on_itself() -> None:
    ours = ["packlint", "tests", *(str(p.relative_to(ROOT)) for p in (ROOT / "benchmarks").glob("*.py"))]
    result = run_packlint("--select", "ALL", *ours)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checking_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from packlint.config import Settings\n"
        "from packlint.engine import check_paths\n"
        "check_paths(['fixtures/PKL104/bad_collate.py'], Settings(select=('ALL',), fix=True), jobs=1)\n"
        "import packlint.cli, packlint.flake8_plugin\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'libcst' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
