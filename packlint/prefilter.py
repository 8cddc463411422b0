"""The cheap text test run on a file's bytes before anything is parsed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_HEAD = re.compile(r"\w*")


@dataclass(frozen=True)
class Needle:
    """One trigger: a literal found with a fast substring search, then, if the trigger says more than a
    literal (`backward\\s*\\(`), the regular expression that confirms it."""

    literal: bytes
    pattern: re.Pattern[bytes] | None = None

    @classmethod
    def of(cls, trigger: str) -> Needle:
        """A trigger is a word (`pack_sequence`) or a regular expression that starts with one."""
        if re.escape(trigger) == trigger and not trigger.isascii():
            return cls(trigger.encode())  # a literal character such as U+00A0 (PKL001), matched in UTF-8
        head = _HEAD.match(trigger).group()  # type: ignore[union-attr]
        rest = trigger[len(head) :]
        if not rest:
            return cls(head.encode())
        # Every match must start with `head`, or the substring search would turn matching files away.
        if not head or rest[0] in "?*{" or "|" in trigger:
            raise ValueError(f"trigger {trigger!r} must start with a word that every match starts with")
        return cls(head.encode(), re.compile(trigger.encode()))

    def found_in(self, data: bytes) -> bool:
        """Whether `data` holds this trigger."""
        return self.literal in data and (self.pattern is None or self.pattern.search(data) is not None)


def needles(triggers: Iterable[Iterable[str]]) -> tuple[Needle, ...]:
    """What to look for, from the selected rules' triggers."""
    return tuple(Needle.of(word) for word in sorted({word for words in triggers for word in words}))


def may_match(data: bytes, words: tuple[Needle, ...]) -> bool:
    """False only when no selected rule can report anything in `data`."""
    return any(needle.found_in(data) for needle in words)
