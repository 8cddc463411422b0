"""The facts that rules read: one analysis pass over a parsed file.

Rules import only the names listed here; the modules behind them are the analysis' own.
"""

from packlint.facts.analysis import analyse
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
from packlint.facts.loops import LoopFacts, ResetBeforeStep, TrainingLoop, resets_before_step, training_loops
from packlint.facts.perms import IDENTITY, Perm
from packlint.facts.scopes import Binding
from packlint.facts.syntax import argument, dotted, index_pattern
from packlint.facts.tensors import RnnInput, Shape, rnn_inputs
from packlint.facts.values import Device, Kind, Order, Value

__all__ = [
    "IDENTITY",
    "Binding",
    "Device",
    "Exit",
    "FileFacts",
    "Kind",
    "LoopFacts",
    "Order",
    "PackCall",
    "Perm",
    "Reorder",
    "ResetBeforeStep",
    "RnnCall",
    "RnnInput",
    "Shape",
    "SortSite",
    "SubscriptRead",
    "TrainingLoop",
    "UnpackCall",
    "Value",
    "analyse",
    "argument",
    "dotted",
    "index_pattern",
    "resets_before_step",
    "rnn_inputs",
    "training_loops",
]
