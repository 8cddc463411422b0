"""The facts that rules read: one analysis pass over a parsed file.

Rules import only the names listed here; the modules behind them are the analysis' own.
"""

from packlint.facts.accumulation import accumulations
from packlint.facts.analysis import analyse
from packlint.facts.evaluation import EvalLoop, attribute_lines, eval_loops
from packlint.facts.events import (
    Exit,
    PackCall,
    Reorder,
    RnnCall,
    SortSite,
    SubscriptRead,
    UnpackCall,
)
from packlint.facts.file_facts import FileFacts
from packlint.facts.loops import (
    LOOPS,
    LoopFacts,
    ResetBeforeStep,
    TrainingLoop,
    is_backward,
    is_reset,
    key_of,
    resets_before_step,
    resetting_functions,
    step_of,
    training_loops,
)
from packlint.facts.modes import TrainModeEval, train_mode_evals
from packlint.facts.nodes import Nodes
from packlint.facts.padding import Padded, Reduction, padded_reductions
from packlint.facts.perms import IDENTITY, Perm
from packlint.facts.queries import last_step, last_valid_step
from packlint.facts.scopes import Binding
from packlint.facts.syntax import argument, called_name, dotted, first_line, index_pattern, parameter_names
from packlint.facts.tensors import RnnInput, Shape, import_names, rnn_inputs
from packlint.facts.values import Device, Kind, Order, Value

__all__ = [
    "IDENTITY",
    "LOOPS",
    "Binding",
    "Device",
    "EvalLoop",
    "Exit",
    "FileFacts",
    "Kind",
    "LoopFacts",
    "Nodes",
    "Order",
    "PackCall",
    "Padded",
    "Perm",
    "Reduction",
    "Reorder",
    "ResetBeforeStep",
    "RnnCall",
    "RnnInput",
    "Shape",
    "SortSite",
    "SubscriptRead",
    "TrainModeEval",
    "TrainingLoop",
    "UnpackCall",
    "Value",
    "accumulations",
    "analyse",
    "argument",
    "attribute_lines",
    "called_name",
    "dotted",
    "eval_loops",
    "first_line",
    "import_names",
    "index_pattern",
    "is_backward",
    "is_reset",
    "key_of",
    "last_step",
    "last_valid_step",
    "padded_reductions",
    "parameter_names",
    "resets_before_step",
    "resetting_functions",
    "rnn_inputs",
    "step_of",
    "train_mode_evals",
    "training_loops",
]
