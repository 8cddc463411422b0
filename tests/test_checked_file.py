"""`checked_file`: what the result cache and the summary store read back is what they wrote, or nothing."""

from __future__ import annotations

import marshal
from pathlib import Path

from packlint.checked_file import read_checked, write_checked


def test_what_is_written_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "entry"
    payload = marshal.dumps(("header", {"a.py": 1}))
    assert write_checked(str(path), b"MAGIC001", payload)
    assert read_checked(str(path), b"MAGIC001") == payload
    assert read_checked(str(path), b"MAGIC002") is None  # another format
    assert read_checked(str(tmp_path / "absent"), b"MAGIC001") is None


def test_a_flipped_byte_that_still_unmarshals_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "entry"
    assert write_checked(str(path), b"MAGIC001", marshal.dumps("abcdef"))
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1  # "abcdeg": still a valid marshal string, so only the checksum can tell
    path.write_bytes(bytes(blob))
    assert marshal.loads(bytes(blob[len(b"MAGIC001") + 16 :])) == "abcdeg"
    assert read_checked(str(path), b"MAGIC001") is None


def test_an_unwritable_place_is_false_and_leaves_no_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert not write_checked(str(blocker / "entry"), b"MAGIC001", b"x")  # a file where a folder should be
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
