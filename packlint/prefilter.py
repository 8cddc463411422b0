"""The cheap text test run on a file's bytes before anything is parsed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar, Union

# Zero-width guards in front of the word (`(?<!def )`): they only ever turn a match away, and a match
# still starts where the word does.
_GUARDS = re.compile(r"(?:\(\?<[!=](?:[^()\\]|\\.)*\))*")
_HEAD = re.compile(r"\w*")

# A rule's triggers: it can fire only in a file that holds one of them; a trigger is a word or pattern
# (see `Needle.of`), or a tuple of them that must all be present (PKL301: a backward and a step).
Trigger = Union[str, tuple[str, ...]]  # a run-time alias: `|` on classes needs Python 3.10
T = TypeVar("T")
_ASCII = bytes(range(0x80))


@dataclass(frozen=True)
class Needle:
    """One word or pattern: a literal found with a fast substring search, then, if the trigger says more
    than a literal (`backward\\s*\\(`), the regular expression that confirms it."""

    literal: bytes
    pattern: re.Pattern[bytes] | None = None
    fold: bool = False  # `(?i)...`: in any case (`NOQA`), searched in the lowered bytes

    @property
    def ascii(self) -> bool:
        """Whether the literal is ASCII (one that is not cannot be in an ASCII file)."""
        return self.literal.isascii()

    @property
    def high(self) -> bool:
        """Whether this is a literal of non-ASCII bytes only (a UTF-8 encoded character such as U+00A0)."""
        return self.pattern is None and not self.fold and bool(self.literal) and min(self.literal) >= 0x80

    @classmethod
    def of(cls, trigger: str) -> Needle:
        """A trigger is a word (`pack_sequence`), a word in any case (`(?i)noqa`), or a regular expression
        that starts with one, optionally after lookbehind guards (`(?<!def )backward\\s*\\(`)."""
        if re.escape(trigger) == trigger and not trigger.isascii():
            return cls(trigger.encode())  # a literal character such as U+00A0 (PKL010), matched in UTF-8
        if trigger.startswith("(?i)"):
            # Any case: the needle is searched in the lowered bytes, its pattern matched ignoring case.
            plain = cls.of(trigger[len("(?i)") :])
            pattern = re.compile(plain.pattern.pattern, re.I) if plain.pattern is not None else None
            return cls(plain.literal.lower(), pattern, fold=True)
        guards = _GUARDS.match(trigger).group()  # type: ignore[union-attr]
        head = _HEAD.match(trigger, len(guards)).group()  # type: ignore[union-attr]
        rest = trigger[len(guards) + len(head) :]
        if not rest and not guards:
            return cls(head.encode())
        # Every match must start with `head`, or the substring search would turn matching files away.
        if not head or rest[:1] in ("?", "*", "{") or _top_level_bar(rest):
            raise ValueError(f"trigger {trigger!r} must start with a word that every match starts with")
        return cls(head.encode(), re.compile(trigger.encode()))

    def found_in(self, data: bytes) -> bool:
        """Whether `data` holds this trigger."""
        if self.fold:
            data = data.lower()
        at = data.find(self.literal)
        if at < 0 or self.pattern is None:
            return at >= 0
        # Try the pattern only where the literal is: a pattern that opens with a lookbehind guard gets no
        # literal-prefix search from `re`, which would then try every position of the file.
        while at >= 0:
            if self.pattern.match(data, at) is not None:
                return True
            at = data.find(self.literal, at + 1)
        return False


def _top_level_bar(pattern: str) -> bool:
    """Whether `pattern` has an alternative `|` outside every group (`LSTM|GRU`): then not every match
    starts with the leading word. Escapes and character classes are skipped."""
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1  # `[]...]`: a leading `]` is a member
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        i += 1
    return False


def needles(triggers: Iterable[Iterable[Trigger]]) -> tuple[tuple[Needle, ...], ...]:
    """What to look for, from the selected rules' triggers: alternatives, each a set of needles that must
    all be found. An alternative that holds another is dropped (it can only match where that one does)."""
    alternatives = {frozenset([t] if isinstance(t, str) else t) for words in triggers for t in words}
    kept = [a for a in alternatives if not any(other < a for other in alternatives)]
    made: dict[str, Needle] = {}
    return tuple(
        tuple(made.setdefault(word, Needle.of(word)) for word in sorted(alternative))
        for alternative in sorted(kept, key=lambda a: (len(a), sorted(a)))
    )


def may_match(data: bytes, alternatives: tuple[tuple[Needle, ...], ...]) -> bool:
    """False only when no selected rule can report anything in `data`."""
    return _Search(data).any_alternative(alternatives)


class _Search:
    """One file's bytes and the answer for each needle searched in them so far, so that a needle shared by
    several alternatives (or groups) is searched once."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        # Most files are ASCII, and a needle that is not (PKL010's 17 invisible spaces) cannot be in one:
        # one `isascii` instead of a search for each.
        self.ascii = data.isascii()
        self.answers: dict[Needle, bool] = {}
        self._high: bytes | None = None

    def has(self, needle: Needle) -> bool:
        found = self.answers.get(needle)
        if found is None:
            if needle.ascii:
                found = needle.found_in(self.data)
            elif self.ascii:
                found = False
            elif needle.high:
                found = needle.literal in self.high_bytes()
            else:
                found = needle.found_in(self.data)
            self.answers[needle] = found
        return found

    def high_bytes(self) -> bytes:
        """The file's non-ASCII bytes alone, in order: a much shorter text to search for a needle of such
        bytes. Nothing is lost (the needle's bytes were adjacent and stay so), and in valid UTF-8 nothing is
        gained: a match starts at a lead byte, which the bytes of its own character follow."""
        if self._high is None:
            self._high = self.data.translate(None, _ASCII)
        return self._high

    def any_alternative(self, alternatives: tuple[tuple[Needle, ...], ...]) -> bool:
        """Whether every needle of some alternative is in the bytes."""
        has = self.has
        for alternative in alternatives:
            for needle in alternative:
                if not has(needle):
                    break
            else:
                return True
        return False


def matching_groups(data: bytes, groups: Iterable[tuple[T, tuple[tuple[Needle, ...], ...]]]) -> Iterator[T]:
    """The labels of the groups (label, alternatives) that `data` may match: which rules a file that passed
    the prefilter can give anything, rule group by rule group (a needle shared by groups is searched once)."""
    search = _Search(data)
    for label, alternatives in groups:
        if search.any_alternative(alternatives):
            yield label
