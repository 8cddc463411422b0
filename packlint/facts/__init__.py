"""The facts that rules read: one analysis pass over a parsed file."""

from packlint.facts.events import (
    Exit,
    PackCall,
    Reorder,
    RnnCall,
    SortSite,
    SubscriptRead,
    UnpackCall,
    index_pattern,
)
from packlint.facts.flow import FileFacts, analyse
from packlint.facts.tensors import RnnInput, Shape, rnn_inputs
from packlint.facts.values import IDENTITY, Device, Kind, Order, Value

__all__ = [
    "IDENTITY",
    "Device",
    "Exit",
    "FileFacts",
    "Kind",
    "Order",
    "PackCall",
    "Reorder",
    "RnnCall",
    "RnnInput",
    "Shape",
    "SortSite",
    "SubscriptRead",
    "UnpackCall",
    "Value",
    "analyse",
    "index_pattern",
    "rnn_inputs",
]
