"""`packlint run script.py [args]`: run a program as `python script.py` would, under the sanitizer."""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from packlint.runtime.sanitizer import PackingViolation, Sanitizer, Violation


@dataclass(frozen=True)
class ScriptResult:
    """How the program ended: its exit code, the violations seen, and an uncaught exception if any."""

    exit_code: int
    violations: tuple[Violation, ...]
    exception: BaseException | None


def run_script(script: str, args: Sequence[str], strict: bool = False) -> ScriptResult:
    """Run `script` as `__main__` with `sys.argv` set, the pack functions wrapped while it runs."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    sanitizer = Sanitizer(strict)
    exit_code, exception = 0, None
    try:
        with sanitizer:
            runpy.run_path(script, run_name="__main__")
    except PackingViolation:
        exit_code = 1
    except SystemExit as exc:
        exit_code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        exit_code, exception = 1, exc
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    if sanitizer.violations and exit_code == 0:
        exit_code = 1  # a violation the program caught and carried on from still fails the run
    return ScriptResult(exit_code, tuple(sanitizer.violations), exception)
