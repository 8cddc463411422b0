"""The flake8 plugin: a thin adapter over the engine, with the same codes, rows and columns."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packlint import __version__


@functools.lru_cache(maxsize=64)
def _settings_for(directory: str) -> Any:
    from packlint.config import ConfigError, Settings, load_settings

    try:
        return load_settings(None, Path(directory))
    except ConfigError:
        return Settings(root=directory)


class Plugin:
    """flake8 entry point `PKL`: yields `(row, col, "PKL101 message", type)` with 0-based columns."""

    name = "packlint"
    version = __version__

    def __init__(self, tree: Any, filename: str = "stdin", lines: list[str] | None = None) -> None:
        self.filename = filename
        self.lines = lines or []

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        """Check the file flake8 gives us; nothing is parsed unless the prefilter passes."""
        from packlint.engine import Plan, admits

        text = "".join(self.lines)
        directory = os.path.dirname(os.path.abspath(self.filename)) if self.filename != "stdin" else os.getcwd()
        settings = _settings_for(directory)
        plan = Plan.from_settings(settings, self.filename)
        data = text.encode("utf-8", "surrogatepass")
        if not admits(data, self.filename, plan)[0]:
            return
        from packlint.engine import lint_text
        from packlint.noqa import skips_file
        from packlint.source import Source

        if skips_file(text):
            return
        source = Source.from_text(text.lstrip("\ufeff"))
        # Project mode resolves imports from the file's own path, as the CLI does.
        where = self.filename if plan.project and self.filename not in ("stdin", "-") else None
        diagnostics, _ = lint_text(source.text, source, plan.codes, strict=False, path=where)
        for d in diagnostics:
            yield d.location.row, d.location.column - 1, f"{d.code} {d.message}", type(self)
