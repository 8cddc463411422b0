"""Function summaries: what a same-file helper returns, in the facts' vocabulary, applied where it is called.

`padded, lengths, perm = self._sort_batch(x, lengths)` is as known as the sort written inline: the
helper is walked once for each distinct set of argument values, silently, with its parameters bound
to what the call passes, and its returns joined. Permutations the helper makes are renamed per call
site, so two calls of one sorting helper are two different orders.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packlint.facts.perms import Perm, Step
from packlint.facts.values import UNKNOWN, Kind, Value, join

if TYPE_CHECKING:
    from packlint.facts.file_facts import FileFacts
    from packlint.facts.walker import Walker

# A helper's summary does not use other helpers' summaries: calls inside it are unknown calls.
MAX_DEPTH = 1
# Helpers longer than this many lines are not summarised (cost; such code is rarely a helper).
MAX_LINES = 40


@dataclass(frozen=True)
class Helper:
    """A function or method of this file that calls can be summarised through."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    attrs: dict[str, Value]  # its class's attributes, for a method
    is_method: bool
    env: dict[str, Value] | None  # what a nested function sees; None: the module's names


def summary_key(helper_id: int, args: list[Value], kwargs: dict[str, Value]) -> tuple[object, ...]:
    """Calls that pass equal values share one summary (names and bindings do not matter)."""
    plain = tuple(a.but(label="", binding=None) for a in args)
    return (helper_id, plain, tuple(sorted((k, v.but(label="", binding=None)) for k, v in kwargs.items())))


def summarize(caller: Walker, helper_id: int, helper: Helper, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """What a call of `helper` with these argument values returns (UNKNOWN where it cannot tell)."""
    facts = caller.facts
    node = helper.node
    if facts.summary_depth >= MAX_DEPTH or (node.end_lineno or node.lineno) - node.lineno > MAX_LINES:
        return UNKNOWN
    if all(a == UNKNOWN for a in (*args, *kwargs.values())):
        return UNKNOWN  # nothing known goes in: what comes out is rarely known either
    if not mentions_modelled(facts, node):
        return UNKNOWN
    key = summary_key(helper_id, args, kwargs)
    if key in facts.summaries:
        return facts.summaries[key]
    facts.summaries[key] = UNKNOWN  # a recursive call sees an unknown result
    env = dict(facts.module_env if helper.env is None else helper.env)
    walker = type(caller)(facts, env, helper.attrs, scope=node)
    walker.recording = False
    walker.summarizing = True
    walker.returns = []
    params = [*node.args.posonlyargs, *node.args.args]
    given = list(args)
    if helper.is_method and params:
        env[params[0].arg] = Value(Kind.SELF, params[0].arg)
        params = params[1:]
    defaults = dict(zip(reversed([p.arg for p in params]), reversed(node.args.defaults)))
    kw_defaults = {a.arg: d for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None}
    for i, param in enumerate([*params, *node.args.kwonlyargs]):
        if i < len(given) and param in params:
            value = given[i]
        elif param.arg in kwargs:
            value = kwargs[param.arg]
        elif param.arg in defaults or param.arg in kw_defaults:
            value = walker.eval(defaults.get(param.arg) or kw_defaults.get(param.arg))
        else:
            value = UNKNOWN
        env[param.arg] = value.but(binding=walker.new_binding(param.arg, node))
    for extra in (node.args.vararg, node.args.kwarg):
        if extra is not None:
            env[extra.arg] = UNKNOWN
    facts.summary_depth += 1
    try:
        leaves = walker.walk_body(node.body)
    finally:
        facts.summary_depth -= 1
    returns = walker.returns or []
    result: Value | None = None
    for value in returns if leaves else [*returns, UNKNOWN]:
        result = value if result is None else join(result, value)
    outcome = result if result is not None else UNKNOWN
    facts.summaries[key] = outcome
    return outcome


# Names whose presence lets a helper's summary say something; a helper without any returns nothing known.
_MODELLED = frozenset(
    "sort sorted argsort index_select scatter_ randperm pack_padded_sequence pack_sequence pad_sequence "
    "pad_packed_sequence PackedSequence cuda cpu to len size tolist numpy tensor as_tensor asarray from_numpy "
    "LSTM GRU RNN device".split()
)


def mentions_modelled(facts: FileFacts, node: ast.AST) -> bool:
    """Whether the helper names anything the facts model (looked at once per helper)."""
    cache = facts.helper_relevance
    if id(node) not in cache:
        cache[id(node)] = any(
            (isinstance(n, ast.Attribute) and n.attr in _MODELLED) or (isinstance(n, ast.Name) and n.id in _MODELLED)
            for n in ast.walk(node)
        )
    return cache[id(node)]


def at_call_site(value: Value, passed: list[Value], site: ast.Call) -> Value:
    """The summary's value with the permutations the helper made renamed for this call site."""
    known: set[str] = set()
    for arg in passed:
        for item in flat(arg):
            for perm in (item.perm, item.blank_of):
                if perm is not None:
                    known |= perm.tokens
    suffix = f"#{site.lineno}:{site.col_offset}"
    return rename(value, known, suffix)


def flat(value: Value) -> list[Value]:
    """A value and the items of a tuple, nested ones included."""
    found = [value]
    for item in value.items:
        found.extend(flat(item))
    return found


def rename(value: Value, known: set[str], suffix: str) -> Value:
    """`value` with every permutation token not in `known` made unique to one call site."""

    def perm(p: Perm | None) -> Perm | None:
        if p is None or all(step.token in known for step in p.steps):
            return p
        return Perm(tuple(s if s.token in known else Step(s.token + suffix, s.inverted) for s in p.steps))

    changes: dict[str, object] = {}
    if value.perm is not None:
        changes["perm"] = perm(value.perm)
    if value.blank_of is not None:
        changes["blank_of"] = perm(value.blank_of)
    if value.items:
        changes["items"] = tuple(rename(item, known, suffix) for item in value.items)
    return value.but(**changes) if changes else value
