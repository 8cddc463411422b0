"""Project mode's PKL304: quiet when every call of the evaluation function, in the project's other files,
runs with autograd off; the cache re-checks the function's file when a caller changes or a new one appears."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.test_project import NAMES, PROJECTS, invoke


def test_each_caller_pattern_has_a_project() -> None:
    assert {
        "good_eval_callers_wrap",
        "good_method_caller_wraps",
        "bad_eval_caller_with_grad",
        "bad_method_name_elsewhere",
    } <= set(NAMES)


def check(path: Path, cache: Path) -> tuple[int, str]:
    return invoke("--project", "--cache-dir", str(cache), "--output-format", "concise", str(path))


def test_a_caller_that_stops_wrapping_rechecks_the_function(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "good_eval_callers_wrap", project)
    (project / "setup.py").write_text("")
    code, out = check(project, tmp_path / "cache")
    assert code == 0, out
    train = project / "train.py"
    train.write_text(train.read_text().replace("@torch.inference_mode()\n", ""))
    code, out = check(project / "evaluation.py", tmp_path / "cache")
    assert code == 1 and "evaluation.py:5:5: PKL304" in out, out


def test_a_new_caller_with_autograd_on_rechecks_the_function(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "good_eval_callers_wrap", project)
    (project / "setup.py").write_text("")
    code, out = check(project, tmp_path / "cache")
    assert code == 0, out
    (project / "tools").mkdir()
    (project / "tools" / "score.py").write_text(
        "from evaluation import accuracy\n\n\ndef score(m, l):\n    return accuracy(m, l)\n"
    )
    code, out = check(project / "evaluation.py", tmp_path / "cache")
    assert code == 1 and "evaluation.py:5:5: PKL304" in out, out


def test_a_function_nobody_calls_is_reported(tmp_path: Path) -> None:
    # No caller found is no evidence that autograd is off: per-file mode's report stands.
    project = tmp_path / "p"
    shutil.copytree(PROJECTS / "good_eval_callers_wrap", project)
    (project / "train.py").unlink()
    code, out = check(project, tmp_path / "cache")
    assert code == 1 and "evaluation.py:5:5: PKL304" in out, out
