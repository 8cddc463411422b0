"""Each fix's safety condition: fixtures whose fix must be unsafe, absent, or safe, per failure class."""

from __future__ import annotations

import pytest

from packlint.diagnostics import Applicability
from tests.fixture_marks import FIXTURES, check_file

# (fixture, code, applicability of its fix; None: no fix offered)
EXPECTED: list[tuple[str, str, Applicability | None]] = [
    # PKL301: step before backward gets the reset after the step (safe); an outer loop's reset makes it unsafe.
    ("PKL301/bad_step_before_backward.py", "PKL301", Applicability.SAFE),
    ("PKL301/bad_outer_loop_resets.py", "PKL301", Applicability.UNSAFE),
    ("PKL301/bad_plain_loop.py", "PKL301", Applicability.SAFE),
    # PKL302: `model.zero_grad()` before two steps cannot move behind the first.
    ("PKL302/bad_model_reset_two_steps.py", "PKL302", None),
    ("PKL302/bad_shared_line.py", "PKL302", Applicability.SAFE),
    # PKL112: a padded batch in sight proves the layout; the RNN's flag alone does not.
    ("PKL112/bad_collate_padded_batch_first.py", "PKL112", Applicability.SAFE),
    ("PKL112/bad_pack_for_batch_first_rnn.py", "PKL112", Applicability.UNSAFE),
    ("PKL112/bad_unpack_default.py", "PKL112", Applicability.UNSAFE),
    # PKL103: the flip is safe only when the batch is reordered with its lengths and nothing reads the order.
    ("PKL103/bad_torch_sort_default.py", "PKL103", Applicability.SAFE),
    ("PKL103/bad_sort_inside_pack_call.py", "PKL103", None),
    ("PKL103/bad_pack_sequence_sorted.py", "PKL103", Applicability.UNSAFE),
    ("PKL103/bad_sorted_result_returned.py", "PKL103", Applicability.UNSAFE),
    ("PKL103/bad_unsorted_after_transpose.py", "PKL103", Applicability.UNSAFE),
    # PKL104/PKL107: reading `.data`/`.batch_sizes` or rebuilding the PackedSequence makes the fix unsafe.
    ("PKL104/bad_rebuilt_packed_sequence.py", "PKL104", Applicability.UNSAFE),
    ("PKL104/bad_collate.py", "PKL104", Applicability.SAFE),
    ("PKL107/bad_packed_data_read.py", "PKL107", Applicability.UNSAFE),
    ("PKL107/bad_forward_lengths.py", "PKL107", Applicability.SAFE),
]


@pytest.mark.parametrize(("name", "code", "applicability"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_fix_applicability(name: str, code: str, applicability: Applicability | None) -> None:
    found = [d for d in check_file(FIXTURES / name).diagnostics if d.code == code]
    assert len(found) == 1
    fix = found[0].fix
    assert (fix.applicability if fix is not None else None) is applicability
