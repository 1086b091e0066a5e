"""s2s/atomic.py: a write that fails leaves the previous file as it was and nothing beside it."""

from __future__ import annotations

import errno

import pytest

from s2s.atomic import atomic_write_bytes
from s2s.errors import S2SError

from reliability import disk_full, leftovers


# ---- failing writes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "No space left on device"), (errno.EIO, "Input/output error")])
def test_a_failed_write_keeps_the_previous_file_and_leaves_nothing(monkeypatch, tmp_path, code, words):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old contents")
    disk_full(monkeypatch, after_bytes=5, code=code)
    with pytest.raises(S2SError) as err:
        atomic_write_bytes(target, b"new contents that will not fit")
    assert str(err.value) == f"{target}: cannot write: {words} (the previous version is unchanged)"
    assert target.read_bytes() == b"old contents"
    assert leftovers(tmp_path) == []
