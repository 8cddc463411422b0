"""The Rule base class: a rule's identity, its documentation, and helpers to report."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

from packlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from packlint.facts import FileFacts, LoopFacts
from packlint.fixes.changes import Change, drops_comment
from packlint.invisible import Repair
from packlint.prefilter import Trigger
from packlint.rules.triggers import ADMISSION
from packlint.source import Source

if TYPE_CHECKING:
    from packlint.project import ProjectView

SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety")


@dataclass
class Context:
    """What a rule gets for one file: the finished facts and the source they came from."""

    source: Source
    facts: FileFacts
    pasted: Repair | None = None  # the invisible spaces replaced so that the file parses (PKL010)
    project: ProjectView | None = None  # project mode: the file's view of its project's other files

    @cached_property
    def loops(self) -> LoopFacts:
        """Training-loop facts, built on first use and shared by every rule that reads them."""
        return LoopFacts(self.facts.tree, self.source, self.facts.nodes)


class Rule:
    """One rule: code, kebab-case name, documentation (the class docstring) and `check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    triggers: ClassVar[tuple[Trigger, ...]]  # text one of which a file must contain for the rule to fire
    # ... and, in project mode, the text of the rule's cross-file check (a call that moves lengths, say)
    project_triggers: ClassVar[tuple[Trigger, ...]] = ()
    # ... and a word one of which a module it imports from the project must hold (`pack_padded_sequence`)
    project_needs: ClassVar[tuple[bytes, ...]] = ()
    # ... and what that module's summary must say for the check to use it (a name in project.gate.FACTS)
    project_fact: ClassVar[str | None] = None
    default: ClassVar[bool] = True  # False: opt-in, only with --select
    fix_availability: ClassVar[str] = "none"  # "always", "sometimes" or "none"
    # Paragraphs of the "Fix safety" section that several rules share (from packlint.fixes.safety): they
    # follow what the docstring says there, so the pages keep one copy of a shared safety condition.
    fix_safety_shared: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        """A rule's admission comes from `rules.triggers.ADMISSION`, the one table the prefilter reads."""
        super().__init_subclass__(**kwargs)
        admission = ADMISSION[cls.code]  # a rule missing from the table fails on import, not silently
        cls.triggers = admission.triggers
        cls.default = admission.default
        cls.project_triggers = admission.project_triggers
        cls.project_needs = admission.project_needs
        cls.project_fact = admission.project_fact

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        """Yield the diagnostics of this rule for one file."""
        raise NotImplementedError

    def check_project(self, ctx: Context) -> Iterator[Diagnostic]:
        """Yield the diagnostics of this rule's cross-file check alone (project mode, on a file that only
        its `project_triggers` let through: `ctx.facts` then holds the tree and nothing else)."""
        return iter(())

    @classmethod
    def documentation(cls) -> str:
        """The rule's documentation in Markdown: its docstring, dedented, with its shared safety text."""
        text = inspect.cleandoc(cls.__doc__ or "")
        if not cls.fix_safety_shared:
            return text
        heading = text.index("## Fix safety")  # a rule that shares safety text has the section
        after = text.find("\n## ", heading)
        end = len(text) if after < 0 else after
        shared = "\n".join(cls.fix_safety_shared)
        return f"{text[:end].rstrip()}\n{shared}{text[end:]}"

    @classmethod
    def sections(cls) -> dict[str, str]:
        """The documentation split by `## ` headings."""
        parts = re.split(r"^## (.+)$", cls.documentation(), flags=re.M)
        return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}

    @classmethod
    def summary(cls) -> str:
        """The first sentence of "What it does", for SARIF and listings."""
        text = " ".join(cls.sections().get("What it does", "").split())
        return text.split(". ")[0].rstrip(".") + "."

    def diagnostic(self, ctx: Context, node: ast.AST, message: str, fix: Fix | None = None) -> Diagnostic:
        """A diagnostic of this rule starting at `node`."""
        src = ctx.source
        start = src.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = src.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        location = src.location(start)
        if fix is not None and any(drops_comment(src, change) for change in fix.changes):
            fix = None  # a fix keeps every comment: where it cannot, none is offered
        return Diagnostic(self.code, self.name, message, location, src.location(end), fix, location.row)

    @staticmethod
    def safe_fix(message: str, *parts: Change | Edit) -> Fix:
        """A fix that `--fix` applies."""
        return make_fix(Applicability.SAFE, message, parts)

    @staticmethod
    def unsafe_fix(message: str, *parts: Change | Edit) -> Fix:
        """A fix applied only with `--unsafe-fixes`."""
        return make_fix(Applicability.UNSAFE, message, parts)


def make_fix(applicability: Applicability, message: str, parts: tuple[Change | Edit, ...]) -> Fix:
    """A fix of changes (rewritten through libcst), or of raw text edits (where no node can say it:
    inside a string or a comment)."""
    edits = tuple(sorted((p for p in parts if isinstance(p, Edit)), key=lambda e: e.start))
    return Fix(applicability, message, edits, tuple(p for p in parts if not isinstance(p, Edit)))


def location_of(source: Source, node: ast.AST) -> Location:
    """Where `node` starts."""
    return source.location(source.offset(node.lineno, node.col_offset))  # type: ignore[attr-defined]
