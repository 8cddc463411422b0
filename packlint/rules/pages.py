"""Rule pages: `packlint rule CODE` and docs/rules/CODE.md, both from the rule's docstring."""

from __future__ import annotations

import sys
from pathlib import Path

from packlint.rules import REGISTRY
from packlint.rules.base import Rule

AVAILABILITY = {
    "always": "Fix is always available.",
    "sometimes": "Fix is sometimes available.",
    "none": "No fix is available.",
}


def render_page(rule: type[Rule]) -> str:
    """The Markdown page of one rule."""
    if rule.default:
        selection = "On by default."
    else:
        selection = f"Opt-in: enable it with `--select {rule.code}` (or `--select ALL`)."
    return (
        f"# {rule.name} ({rule.code})\n\n{selection} {AVAILABILITY[rule.fix_availability]}\n\n{rule.documentation()}\n"
    )


def render_index() -> str:
    """The table of all rules, as in the README."""
    lines = ["| Code | Name | Default | Fix |", "| --- | --- | --- | --- |"]
    for rule in REGISTRY:
        lines.append(
            f"| [{rule.code}](docs/rules/{rule.code}.md) | `{rule.name}` | "
            f"{'yes' if rule.default else 'opt-in'} | {rule.fix_availability} |"
        )
    return "\n".join(lines) + "\n"


def write_pages(directory: Path) -> list[Path]:
    """Write every rule's page into `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for rule in REGISTRY:
        path = directory / f"{rule.code}.md"
        path.write_text(render_page(rule), encoding="utf-8")
        written.append(path)
    return written


TABLE_START, TABLE_END = "<!-- rules-table-start -->\n", "<!-- rules-table-end -->"


def with_index(readme: str) -> str:
    """The README with the rules table between its markers replaced by the current one."""
    start = readme.index(TABLE_START) + len(TABLE_START)
    end = readme.index(TABLE_END)
    return readme[:start] + render_index() + readme[end:]


if __name__ == "__main__":  # pragma: no cover - `python -m packlint.rules.pages docs/rules`
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules")
    for written_path in write_pages(target):
        sys.stdout.write(f"{written_path}\n")
    readme = target.parent.parent / "README.md"
    if readme.exists():
        readme.write_text(with_index(readme.read_text(encoding="utf-8")), encoding="utf-8")
        sys.stdout.write(f"{readme} (rules table)\n")
