"""Token ids on disk: `{split}.{lang}.bin` + `{split}.{lang}.idx`, written streaming, read memory-mapped.

`.bin` holds the ids of every sentence back to back, without BOS/EOS; `.idx` holds n + 1 int64 offsets (the
first 0, the last the number of ids), so sentence i is `bin[idx[i]:idx[i + 1]]`. Ids are uint16 when the
vocabulary has at most 65,535 pieces (half the disk and page cache of int32 for the usual sizes), int32 beyond.
Byte order is little-endian explicitly, so a directory copied between machines reads the same. Memory-mapping
means training touches only the pages it reads and DataLoader workers share them.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import BinaryIO, Optional

import numpy as np

from s2s.errors import S2SError
from s2s.wording import count

DTYPES = {"uint16": np.dtype("<u2"), "int32": np.dtype("<i4")}
OFFSET = np.dtype("<i8")


def dtype_for(vocab_size: int) -> str:
    return "uint16" if vocab_size <= 65535 else "int32"


class IdsWriter:
    """Appends chunks of encoded sentences to a `.bin`/`.idx` pair; use as a context manager."""

    def __init__(self, bin_path: Path, idx_path: Path, dtype: str) -> None:
        self.dtype = DTYPES[dtype]
        self.sentences = 0
        self.tokens = 0
        self._bin: BinaryIO = open(bin_path, "wb")
        self._idx: BinaryIO = open(idx_path, "wb")
        np.zeros(1, OFFSET).tofile(self._idx)

    def write(self, chunk: list[list[int]]) -> None:
        if not chunk:
            return
        lengths = np.fromiter(map(len, chunk), OFFSET, count=len(chunk))
        total = int(lengths.sum())
        np.fromiter(chain.from_iterable(chunk), self.dtype, count=total).tofile(self._bin)
        (self.tokens + np.cumsum(lengths)).astype(OFFSET).tofile(self._idx)
        self.sentences += len(chunk)
        self.tokens += total

    def close(self) -> None:
        self._bin.close()
        self._idx.close()

    def __enter__(self) -> "IdsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _map(path: Path, dtype: np.dtype) -> np.ndarray:
    try:
        size = path.stat().st_size
    except OSError:
        raise S2SError(f"{path}: missing (prepare the data directory again)") from None
    if size % dtype.itemsize:
        raise S2SError(f"{path}: {count(size, 'byte')} is not a whole number of {dtype.itemsize}-byte ids; the file is damaged")
    if size == 0:  # mmap refuses empty files
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def open_ids(bin_path: Path, idx_path: Path, dtype: str, expect: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """(ids, offsets), memory-mapped and checked against each other (and against `expect` sentences)."""
    if dtype not in DTYPES:
        raise S2SError(f"{bin_path}: unknown id type {dtype!r}; expected {' or '.join(DTYPES)}")
    ids = _map(bin_path, DTYPES[dtype])
    offsets = _map(idx_path, OFFSET)
    if len(offsets) == 0 or offsets[0] != 0 or offsets[-1] != len(ids):
        raise S2SError(f"{idx_path}: offsets don't match {bin_path.name} ({count(len(ids), 'id')}); the files are damaged")
    if expect is not None and len(offsets) - 1 != expect:
        raise S2SError(f"{idx_path}: {count(len(offsets) - 1, 'sentence')}, the manifest says {expect:,}")
    return ids, offsets
