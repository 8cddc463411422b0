"""Project mode: facts that cross files (import resolution inside the project, per-file summaries).

Only stdlib `ast` on the files' text: nothing is imported or executed, and nothing outside the project
root is read (docs/project-mode.md).
"""

from packlint.project.callers import callers_without_grad
from packlint.project.crossfile import MovedIntoPack, ResetElsewhere, moved_into_pack, reset_elsewhere
from packlint.project.feeds import PaddedFeed, forward_input, padded_feed, reads_final_state
from packlint.project.root import find_root, root_of
from packlint.project.summary import ClassSummary, FunctionSummary, ModuleSummary, summarise
from packlint.project.view import ProjectView

__all__ = [
    "ClassSummary",
    "FunctionSummary",
    "ModuleSummary",
    "MovedIntoPack",
    "PaddedFeed",
    "ProjectView",
    "ResetElsewhere",
    "callers_without_grad",
    "find_root",
    "forward_input",
    "moved_into_pack",
    "padded_feed",
    "reads_final_state",
    "reset_elsewhere",
    "root_of",
    "summarise",
]
