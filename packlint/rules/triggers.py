"""The text that a file must contain for a family of rules to have anything to say.

A rule's `triggers` are alternatives: a word, a pattern that starts with one (`packlint.prefilter.Needle`),
or a tuple of them that must all be present. Each one is what the rule's check needs at the least, read
off the facts it uses; `tests/test_prefilter.py` runs every fixture and torch's sources with the prefilter
on and off and requires identical results.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from packlint.invisible import INVISIBLE
from packlint.prefilter import Trigger

# Every packing rule needs a `torch.nn.utils.rnn` function that the analysis resolved by name, so
# that name is in the text (aliases such as `R.pack_padded_sequence` keep it).
PACKING = ("pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence")
# RNN-output rules need an `nn.LSTM`/`nn.GRU`/`nn.RNN` built in the file.
RECURRENT = ("LSTM", "GRU", "RNN")
# Between a called name and its `(`: spaces, newlines, line continuations, comments, and the `)` of
# `(loss.backward)()`. Generous on purpose: the analysis decides, the prefilter only turns away.
_CALLED = r"(?:\s|\\|#[^\r\n]*(?=[\r\n]|\Z)|\))*\("
# A backward pass as `facts.loops.is_backward` sees one: a call of an attribute named `backward`
# (`loss.backward()`, `accelerator.backward(loss)`, `torch.autograd.backward(t)`) or `manual_backward`.
# `def backward(ctx, grad)` (an autograd.Function's formula; `(?<!def )`) and `_backward(`/`is_backward(`
# (another name; `(?<!\w)`) are not; a space or newline before the word is let through, since
# `loss .backward()` and `loss.\` + newline + `backward()` are attributes too.
BACKWARD_CALL = rf"(?<!\w)(?<!def )(?<!def\t)backward{_CALLED}"
MANUAL_BACKWARD_CALL = rf"manual_backward{_CALLED}"
# An optimizer step as `facts.loops.step_of` sees one: a call of an attribute named `step` or
# `optimizer_step` (the word `step` before a call covers both, and more).
STEP_CALL = rf"step{_CALLED}"
# PKL302 moves a statement `<x>.zero_grad()`: the attribute name is in the text.
ZERO_GRAD = "zero_grad"


def all_of(*groups: tuple[str, ...]) -> tuple[Trigger, ...]:
    """Alternatives that need one trigger from each group: `all_of((a, b), (c,))` is a-and-c or b-and-c."""
    return tuple(tuple(choice) for choice in product(*groups))


# PKL301: a loop around a backward pass and an optimizer step.
BACKWARD_AND_STEP = all_of((BACKWARD_CALL, MANUAL_BACKWARD_CALL), (STEP_CALL,))
# PKL302: a backward pass, then `<x>.zero_grad()`, then a step.
BACKWARD_RESET_STEP = all_of((BACKWARD_CALL, MANUAL_BACKWARD_CALL), (STEP_CALL,), (ZERO_GRAD,))


# ----------------------------------------------------------------- facts gating
# Which functions' statement-order facts (pack calls, RNN calls, subscripts, bindings: `FileFacts`) a rule
# reads, as words: the analysis walks a function (or class) only when its text holds one of the words
# of a rule whose triggers the file holds, or the name of a module-level binding or same-file function
# that does (packlint.facts.gating). A rule missing from `FLOW` gets EVERY_FUNCTION: the whole file is
# walked, as without gating, which is always right; a rule that declares less must be sure of it
# (`tests/test_gating.py` runs every fixture and real files with and without gating).
EVERY_FUNCTION: tuple[str, ...] = ("",)  # the empty word is in every text
# Rules that read only the syntax tree and the source (loops, eval calls, noqa comments), never FileFacts' events.
NO_FLOW: tuple[str, ...] = ()
# Values an RNN-output rule reads (an RNN module, its output and h_n, a padded or packed batch) are made
# only by a call whose text names an RNN class or an rnn-utils function, or by a name or function that
# is bound to one in this file (the closure in facts.gating): a function with neither cannot give one.
RECURRENT_FLOW: tuple[str, ...] = (*PACKING, *RECURRENT)

FLOW: dict[str, tuple[str, ...]] = {
    # The packing rules (PKL101-PKL112) are not listed: PKL101 reads a lengths list indexed by a
    # permutation in any function of a file that packs, and a lengths value can come from a parameter's
    # name (`seq_lens`), so their files are walked whole.
    "PKL113": RECURRENT_FLOW,
    "PKL114": RECURRENT_FLOW,
    "PKL201": RECURRENT_FLOW,
    "PKL202": RECURRENT_FLOW,
    "PKL203": RECURRENT_FLOW,
    "PKL206": RECURRENT_FLOW,  # subscripts of an RNN's h_n, as PKL202
    # Their seeds are the RNN calls and pad_packed_sequence calls the walk records (`facts.padding._seeds`:
    # `rnn_calls`, `unpack_calls`, as PKL201 and PKL203 read); from there they walk the tree themselves.
    "PKL204": RECURRENT_FLOW,
    "PKL205": RECURRENT_FLOW,
    # Training and evaluation loops are read off the tree (facts.loops, facts.evaluation).
    "PKL301": NO_FLOW,
    "PKL302": NO_FLOW,
    "PKL303": NO_FLOW,
    "PKL304": NO_FLOW,
    "PKL305": NO_FLOW,  # facts.modes reads the tree: models, training loops, evaluations, eval() calls
    "PKL010": NO_FLOW,  # the source's characters
    "PKL900": NO_FLOW,  # the other rules' diagnostics and the noqa comments
}


# ----------------------------------------------------------------- admission
@dataclass(frozen=True)
class Admission:
    """What lets a rule run on a file: its triggers, whether it is on by default, and its cross-file
    check's triggers and needs (project mode). Read before anything is parsed, so that choosing the rules
    and testing the files' bytes import neither the rules nor the analysis: a run whose files are all
    turned away (a pre-commit hook on files that pack nothing) never loads them."""

    triggers: tuple[Trigger, ...]
    default: bool = True
    project_triggers: tuple[Trigger, ...] = ()
    project_needs: tuple[bytes, ...] = ()
    project_fact: str | None = None  # what the needed module's summary must say (project.gate.FACTS)


# The only copy of each rule's admission: `Rule.__init_subclass__` gives each rule class its `triggers`,
# `default`, `project_triggers`, `project_needs` and `project_fact` from here (tests/test_prefilter.py holds
# the table's codes equal to the registry's).
ADMISSION: dict[str, Admission] = {
    "PKL010": Admission(tuple(INVISIBLE)),
    "PKL101": Admission(PACKING),
    "PKL102": Admission(PACKING),
    "PKL103": Admission(PACKING),
    "PKL104": Admission(PACKING),
    "PKL105": Admission(PACKING),
    "PKL106": Admission(PACKING, default=False),
    "PKL107": Admission(PACKING, default=False),
    "PKL108": Admission(("pack_padded_sequence", "pack_sequence")),
    "PKL111": Admission(
        PACKING,
        # The cross-file check needs a move here (crossfile.is_move): `x.cuda()`, `x.to("cuda...")`, or
        # `x.to(<name ending in device, any case>)`. A comment between `cuda` or `to` and its `(` is not seen.
        project_triggers=(r"cuda\s*\(", r"(?<=[\"'])cuda", (r"(?i)device", r"to\s*\(")),
        project_needs=(b"pack_padded_sequence",),
        project_fact="packs_a_parameter",  # a function there passes one of its parameters to the pack call
    ),
    "PKL112": Admission(PACKING),
    "PKL113": Admission(RECURRENT),
    "PKL114": Admission(RECURRENT),
    "PKL201": Admission((*PACKING, *RECURRENT)),
    "PKL202": Admission(RECURRENT),
    "PKL203": Admission(RECURRENT),
    "PKL204": Admission(all_of(("pad_packed_sequence", *RECURRENT), ("softmax",)), default=False),
    "PKL205": Admission(all_of(("pad_packed_sequence", *RECURRENT), ("mean", "max")), default=False),
    "PKL206": Admission(RECURRENT),
    "PKL301": Admission(BACKWARD_AND_STEP),
    "PKL302": Admission(BACKWARD_RESET_STEP),
    "PKL303": Admission(BACKWARD_AND_STEP),  # its loops are training loops: a backward call and a step
    # `model.eval()` takes no argument (the builtin `eval(text)` does): what `is_eval_call` asks for.
    "PKL304": Admission((r"eval\s*\((?:\s|\\|#[^\r\n]*)*\)",)),
    "PKL305": Admission(BACKWARD_AND_STEP),  # a training loop (or function) before the evaluation
    # A noqa comment (in any case, as `noqa.directives` reads it) that names a code starting with PKL.
    # (`noqa.directives`: codes after `noqa:`, separated by commas or spaces; `.pkl` file names do not count.)
    # Opt-in, as ruff's RUF100.
    "PKL900": Admission((r"(?i)noqa:\s*(?:[a-z]+[0-9]+[,\s]+)*pkl",), default=False),
}
