"""Permutations: when two orders give rows the same lengths (`Perm.same_lengths`)."""

from __future__ import annotations

from packlint.facts.perms import IDENTITY, Perm

DESC = "7|Perm(steps=())|descending"


def test_two_descending_sorts_of_the_same_lengths_give_the_same_lengths() -> None:
    argsort = Perm.of("np.argsort(-x)@3", DESC)
    reversed_sort = Perm.of("np.sort(x)[::-1]@3", DESC)
    assert argsort != reversed_sort  # an unsort must still use its own sort's inverse
    assert argsort.same_lengths(reversed_sort)


def test_sorts_of_other_values_or_directions_differ() -> None:
    argsort = Perm.of("np.argsort(-x)@3", DESC)
    assert not argsort.same_lengths(Perm.of("np.sort(y)[::-1]@4", "8|Perm(steps=())|descending"))
    assert not argsort.same_lengths(Perm.of("np.sort(x)@4", "7|Perm(steps=())|ascending"))
    assert not argsort.same_lengths(Perm.of("randperm(n)@5"))
    assert not Perm.of("a@1").same_lengths(Perm.of("b@1"))  # unknown what they sort


def test_the_steps_before_the_sort_must_agree() -> None:
    shuffle = Perm.of("torch.randperm(n)@2")
    after_shuffle = shuffle.then(Perm.of("np.argsort(-x)@3", DESC))
    plain = IDENTITY.then(Perm.of("np.sort(x)[::-1]@3", DESC))
    assert after_shuffle is not None and plain is not None
    assert not after_shuffle.same_lengths(plain)
    assert not plain.same_lengths(after_shuffle)


def test_an_undone_sort_is_not_a_sort() -> None:
    argsort = Perm.of("np.argsort(-x)@3", DESC)
    assert not argsort.inverse().same_lengths(Perm.of("np.sort(x)[::-1]@3", DESC).inverse())
    assert argsort.inverse().same_lengths(argsort.inverse())  # the same permutation, inverted
