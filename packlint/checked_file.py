"""Files written whole and read back only when intact: a magic prefix, a checksum of the payload, then the
payload. The result cache and project mode's summary store both keep their entries this way."""

from __future__ import annotations

import hashlib
import os

CHECKSUM = 16  # bytes of the payload's SHA-256 kept after the magic


def write_checked(path: str, magic: bytes, payload: bytes) -> bool:
    """Replace `path` all at once (a concurrent reader sees the old file or the new, never a mix); False
    when it cannot be written (a read-only tree, a full disk, a file where a folder should be)."""
    blob = magic + hashlib.sha256(payload).digest()[:CHECKSUM] + payload
    temp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
        return False
    return True


def read_checked(path: str, magic: bytes) -> bytes | None:
    """The payload stored at `path`, or None when it is missing, unreadable, another format or damaged."""
    try:
        with open(path, "rb") as handle:
            blob = handle.read()
    except OSError:
        return None
    start = len(magic) + CHECKSUM
    if blob[: len(magic)] != magic or hashlib.sha256(blob[start:]).digest()[:CHECKSUM] != blob[len(magic) : start]:
        return None
    return blob[start:]
