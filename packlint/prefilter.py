"""The cheap text test run on a file's bytes before anything is parsed."""

from __future__ import annotations

from collections.abc import Iterable


def needles(triggers: Iterable[Iterable[str]]) -> tuple[bytes, ...]:
    """The byte strings to look for, from the selected rules' trigger words."""
    return tuple(sorted({word.encode() for words in triggers for word in words}))


def may_match(data: bytes, words: tuple[bytes, ...]) -> bool:
    """False only when no selected rule can report anything in `data`."""
    return any(word in data for word in words)
