"""Project mode two calls deep (a helper in another file that calls a helper that resets) and namespace
packages (a folder without `__init__.py`) in resolution and in the project prefilter."""

from __future__ import annotations

import ast
from pathlib import Path

from packlint.project import ProjectView
from packlint.project.gate import reaches
from packlint.project.resolve import Resolver
from tests.test_project import NAMES, write


def test_each_depth_and_namespace_pattern_has_a_project() -> None:
    assert {"good_helper_resets_two_deep", "bad_helper_two_deep_no_reset", "good_namespace_package"} <= set(NAMES)


def test_namespace_packages_resolve(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "setup.py": "",
            "tools/helpers.py": "def prepare(opt):\n    opt.zero_grad()\n",
            "tools/deep/ops.py": "def f():\n    pass\n",
            "scripts/train.py": "",
        },
    )
    root = str(tmp_path.resolve())
    train = str(tmp_path / "scripts/train.py")
    resolver = Resolver(root, train)
    assert resolver.namespace("tools") and resolver.namespace("tools.deep")
    assert not resolver.namespace("typing") and not resolver.namespace("tools.helpers")  # a module, not a folder
    code = "from tools import helpers\nimport tools.deep.ops\nfrom tools.deep import ops as O\n"
    view = ProjectView(train, ast.parse(code), root)
    for name in ("helpers.prepare", "tools.deep.ops.f", "O.f"):
        assert view.resolve(ast.parse(name, mode="eval").body) is not None, name
    # The prefilter reads the namespace package's module for the word a cross-file check needs.
    found, read = reaches(train, b"from tools import helpers\n", b"grad", root)
    assert found and str(tmp_path / "tools/helpers.py") in dict(read)
