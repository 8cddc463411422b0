"""pytest plugin: `--packlint-runtime` runs the test session under the packing sanitizer.

Registered as a `pytest11` entry point, so it is imported by every pytest run where packlint is
installed: it must import nothing heavy. torch is imported only when the option is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from packlint.runtime.sanitizer import Sanitizer

_SANITIZER: pytest.StashKey[Sanitizer] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--packlint-runtime` and `--packlint-runtime-strict`."""
    group = parser.getgroup("packlint", "packlint runtime sanitizer")
    group.addoption(
        "--packlint-runtime",
        action="store_true",
        help="Check every torch pack call against packlint's invariants (PKL103/104/111/112).",
    )
    group.addoption(
        "--packlint-runtime-strict",
        action="store_true",
        help="Like --packlint-runtime, and also check that rows hold only padding past their length (PKL102).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Install the sanitizer before test modules are imported, only when asked."""
    strict = bool(config.getoption("packlint_runtime_strict"))
    if not (strict or config.getoption("packlint_runtime")):
        return
    from packlint.runtime.sanitizer import Sanitizer

    sanitizer = Sanitizer(strict=strict)
    sanitizer.install()
    config.stash[_SANITIZER] = sanitizer


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put torch's functions back."""
    sanitizer = config.stash.get(_SANITIZER, None)
    if sanitizer is not None:
        sanitizer.uninstall()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """List every violation, including those a test caught and carried on from."""
    sanitizer = config.stash.get(_SANITIZER, None)
    if sanitizer is None:
        return
    terminalreporter.section("packlint runtime")
    if not sanitizer.violations:
        terminalreporter.write_line("no packing violations")
    for violation in sanitizer.violations:
        terminalreporter.write_line(violation.render())
