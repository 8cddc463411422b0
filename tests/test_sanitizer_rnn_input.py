"""The sanitizer's RNN checks: integer input (PKL113) and packed 1-D data (PKL114), reported before torch fails."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence  # noqa: E402

from packlint.runtime.sanitizer import PackingViolation, Sanitizer  # noqa: E402


def _batch(dtype: object) -> tuple[object, list[int]]:
    seqs = [torch.tensor([1, 2, 3], dtype=dtype), torch.tensor([4, 5], dtype=dtype)]  # type: ignore[arg-type]
    return pad_sequence(seqs, batch_first=True), [3, 2]


def test_integer_packed_input_is_pkl113() -> None:
    padded, lengths = _batch(torch.long)
    lstm = torch.nn.LSTM(1, 4, batch_first=True)
    with Sanitizer() as sanitizer, pytest.raises(PackingViolation, match="PKL113"):
        lstm(pack_padded_sequence(padded.unsqueeze(-1), lengths, batch_first=True))
    assert [v.code for v in sanitizer.violations] == ["PKL113"]
    assert sanitizer.violations[0].filename == __file__


def test_packed_batch_without_features_is_pkl114() -> None:
    padded, lengths = _batch(torch.float32)
    gru = torch.nn.GRU(1, 4, batch_first=True)
    with Sanitizer() as sanitizer, pytest.raises(PackingViolation, match="PKL114"):
        gru(pack_padded_sequence(padded, lengths, batch_first=True))
    assert [v.code for v in sanitizer.violations] == ["PKL114"]


def test_correct_input_passes_and_the_hook_is_removed_afterwards() -> None:
    padded, lengths = _batch(torch.float32)
    lstm = torch.nn.LSTM(1, 4, batch_first=True)
    with Sanitizer() as sanitizer:
        lstm(pack_padded_sequence(padded.unsqueeze(-1), lengths, batch_first=True))
        lstm(torch.randn(7, 1))  # an unbatched 2-D sequence is a legal input
    assert sanitizer.violations == [] and not sanitizer.installed
    with pytest.raises(RuntimeError) as raised:  # uninstalled: torch's own error, not a violation
        lstm(pack_padded_sequence(padded.long().unsqueeze(-1), lengths, batch_first=True))
    assert not isinstance(raised.value, PackingViolation)
