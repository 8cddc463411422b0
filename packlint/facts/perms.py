"""Permutations as values: which reorderings a batch has been through since the function began."""

from __future__ import annotations

from dataclasses import dataclass, field

# A word longer than this is treated as unknown: real code applies a sort and its inverse, rarely more.
_MAX_STEPS = 4


@dataclass(frozen=True)
class Step:
    """One permutation applied by indexing: `x[perm]` (or, inverted, `x[perm.argsort()]`)."""

    token: str  # the sort or randperm call that made it: `lengths.sort(descending=True)@12`
    inverted: bool = False
    # For a sort of lengths: which values it sorts, from which order, which way. Two sorts with the
    # same `sorts` may order tied rows differently, so they are different steps (an unsort must use
    # its own sort's inverse), but rows put in either order have the same lengths.
    sorts: str | None = field(default=None, compare=False)

    def inverse(self) -> Step:
        """The step that undoes this one."""
        return Step(self.token, not self.inverted, self.sorts)


@dataclass(frozen=True)
class Perm:
    """A batch order as the word of permutations applied to the function's original order.

    `Perm()` is the original order; `x[p][q]` is `Perm((p, q))`; a step next to its inverse cancels.
    """

    steps: tuple[Step, ...] = ()

    @staticmethod
    def of(token: str, sorts: str | None = None) -> Perm:
        """The permutation made by one sort or `randperm` call."""
        return Perm((Step(token, sorts=sorts),))

    @property
    def last_sort(self) -> str | None:
        """What the last step sorts (`Step.sorts`), when it is a sort of lengths and not inverted."""
        if self.steps and not self.steps[-1].inverted:
            return self.steps[-1].sorts
        return None

    def same_lengths(self, other: Perm) -> bool:
        """Whether rows in this order have the lengths of rows in `other`'s: the same permutation,
        or the same but for a last step that in both sorts the same lengths the same way (ties aside,
        both give the one sorted sequence: `np.argsort(-x)` and `np.sort(x)[::-1]`)."""
        if self == other:
            return True
        sorts = self.last_sort
        return sorts is not None and sorts == other.last_sort and self.steps[:-1] == other.steps[:-1]

    @property
    def is_identity(self) -> bool:
        """Whether this is the original order."""
        return not self.steps

    @property
    def token(self) -> str | None:
        """The token of a single, not inverted permutation (`perm` itself), else None."""
        if len(self.steps) == 1 and not self.steps[0].inverted:
            return self.steps[0].token
        return None

    @property
    def tokens(self) -> frozenset[str]:
        """Every permutation this word mentions, inverted or not."""
        return frozenset(step.token for step in self.steps)

    def inverse(self) -> Perm:
        """The permutation that undoes this one."""
        return Perm(tuple(step.inverse() for step in reversed(self.steps)))

    def then(self, applied: Perm) -> Perm | None:
        """The order of a value in this order after indexing it with `applied`; None past the limit."""
        steps = list(self.steps)
        for step in applied.steps:
            if steps and steps[-1] == step.inverse():
                steps.pop()
            else:
                steps.append(step)
        return Perm(tuple(steps)) if len(steps) <= _MAX_STEPS else None


IDENTITY = Perm()


def compose(current: Perm | None, applied: Perm | None) -> Perm | None:
    """`x[applied]` for `x` in order `current`; unknown when either is."""
    if current is None or applied is None:
        return None
    return current.then(applied)
