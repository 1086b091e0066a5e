"""What training iterates over: a memory-mapped split (`ParallelData`), token-bucketed batches of example
indices (`token_batches`), and padded tensors made from them (`collate` -> `Batch`).

Batching is a pure function of (lengths, seed, epoch), so a run resumes exactly by (epoch, batch position)
without saving sampler state. The work is numpy over whole arrays (80k+ examples in milliseconds); the only
Python loop runs once per batch. Sources carry no BOS/EOS; targets are shifted here (`tgt_in` = BOS + y,
`tgt_out` = y + EOS). This module reads prepared directories; it never tokenises text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from s2s import BOS_ID, EOS_ID, PAD_ID
from s2s.data.binary import open_ids
from s2s.data.manifest import load_manifest
from s2s.errors import S2SError


@dataclass(frozen=True, eq=False)  # eq would compare arrays elementwise
class ParallelData:
    """One split of a prepared directory in one direction, memory-mapped: ids, offsets and lengths per side."""

    split: str
    src: str
    tgt: str
    src_ids: np.ndarray  # all source ids back to back (memory-mapped)
    src_offsets: np.ndarray  # (n + 1,) int64
    tgt_ids: np.ndarray
    tgt_offsets: np.ndarray
    src_lengths: np.ndarray  # (n,) int64 tokens per source sentence, without BOS/EOS
    tgt_lengths: np.ndarray  # (n,) int64

    @classmethod
    def open(cls, data_dir: Path, split: str, src: str, tgt: str) -> "ParallelData":
        """`{split}.{src}` and `{split}.{tgt}` of `data_dir`; either direction of the prepared pair."""
        data_dir = Path(data_dir)
        manifest = load_manifest(data_dir)
        src, tgt = manifest.direction(src, tgt)
        if split not in manifest.splits:
            raise S2SError(f"{data_dir}: no split {split!r} (splits: {', '.join(manifest.splits)})")
        n = manifest.splits[split]
        sides = []
        for lang in (src, tgt):
            stem = data_dir / f"{split}.{lang}"
            ids, offsets = open_ids(stem.with_name(stem.name + ".bin"), stem.with_name(stem.name + ".idx"),
                                    manifest.dtype, expect=n)
            sides += [ids, offsets, np.diff(offsets)]
        return cls(split, src, tgt, sides[0], sides[1], sides[3], sides[4], sides[2], sides[5])

    def __len__(self) -> int:
        return len(self.src_lengths)

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The source and target ids of example `i` (int64 copies: safe to keep after the file closes)."""
        s, t = self.src_offsets, self.tgt_offsets
        return (np.asarray(self.src_ids[s[i]:s[i + 1]], dtype=np.int64),
                np.asarray(self.tgt_ids[t[i]:t[i + 1]], dtype=np.int64))


@dataclass
class Batch:
    """Padded tensors for a batch of examples; batch-first."""

    src: torch.Tensor  # (B, S) int64, PAD after each sentence
    src_lengths: torch.Tensor  # (B,) int64
    tgt_in: torch.Tensor  # (B, T) int64: BOS + target, PAD after
    tgt_out: torch.Tensor  # (B, T) int64: target + EOS, PAD after
    indices: torch.Tensor  # (B,) int64: example indices in the split, to put outputs back in order
    num_tgt_tokens: int  # non-PAD entries of tgt_out (the loss normaliser)

    @property
    def size(self) -> int:
        return self.src.shape[0]

    def to(self, device: torch.device | str) -> "Batch":
        move = lambda t: t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.src), move(self.src_lengths), move(self.tgt_in), move(self.tgt_out),
                     move(self.indices), self.num_tgt_tokens)


def _gather(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int, shift: int) -> np.ndarray:
    """(B, width) int64 PAD-filled, row b holding ids[starts[b]:starts[b] + lengths[b]] from column `shift`."""
    out = np.full((len(starts), width), PAD_ID, dtype=np.int64)
    total = int(lengths.sum())
    if total:
        rows = np.repeat(np.arange(len(starts)), lengths)
        cols = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, cols + shift] = ids[np.repeat(starts, lengths) + cols]
    return out


def collate(data: ParallelData, indices: Sequence[int] | np.ndarray, max_len: Optional[int] = None) -> Batch:
    """A `Batch` of the examples `indices`; sources and targets longer than `max_len` are cut to it."""
    idx = np.asarray(indices, dtype=np.int64)
    src_len = data.src_lengths[idx]
    tgt_len = data.tgt_lengths[idx]
    if max_len is not None:
        src_len = np.minimum(src_len, max_len)
        tgt_len = np.minimum(tgt_len, max_len)
    b = len(idx)
    src = _gather(data.src_ids, data.src_offsets[idx], src_len, max(int(src_len.max(initial=0)), 1), 0)
    width = int(tgt_len.max(initial=0)) + 1
    tgt_in = _gather(data.tgt_ids, data.tgt_offsets[idx], tgt_len, width, 1)  # (B, T)
    tgt_in[:, 0] = BOS_ID
    tgt_out = _gather(data.tgt_ids, data.tgt_offsets[idx], tgt_len, width, 0)  # (B, T)
    tgt_out[np.arange(b), tgt_len] = EOS_ID
    return Batch(
        src=torch.from_numpy(src),
        src_lengths=torch.from_numpy(src_len.astype(np.int64)),
        tgt_in=torch.from_numpy(tgt_in),
        tgt_out=torch.from_numpy(tgt_out),
        indices=torch.from_numpy(idx.copy()),
        num_tgt_tokens=int(tgt_len.sum()) + b,
    )


class BatchPlan(list):
    """The list of index arrays `token_batches` returns, plus `dropped`: examples over `max_len`."""

    dropped: int = 0


def padded_width(src_lengths: np.ndarray, tgt_lengths: np.ndarray) -> np.ndarray:
    """The columns an example takes in a batch: its longer side, the target counted with BOS (or EOS)."""
    return np.maximum(src_lengths, tgt_lengths + 1)


def examples_that_fit(widths: np.ndarray, max_tokens: int) -> int:
    """How many examples, taken in order, fill a batch within `max_tokens` padded tokens (at least one).

    `widths` must not decrease: a batch is as wide as its widest example, so k examples cost k * widths[k - 1]."""
    fits = np.arange(1, len(widths) + 1) * widths <= max_tokens
    return max(1, int(np.argmin(fits)) if not fits.all() else len(widths))


def token_batches(
    lengths_src: np.ndarray,
    lengths_tgt: np.ndarray,
    max_tokens: int,
    batch_size: Optional[int],
    seed: int,
    epoch: int,
    shuffle: bool = True,
    max_len: Optional[int] = None,
) -> list[np.ndarray]:
    """Example indices grouped into batches of similar length; a deterministic function of (seed, epoch).

    Examples are sorted by padded size, max(source, target + 1) for BOS/EOS, with a random tie-break when
    `shuffle` (index order otherwise), then cut into batches whose padded size, that times the number of
    examples, stays within `max_tokens` for source and target alike; or into exactly `batch_size` examples
    when it is given (then `max_tokens` is not used). An example over `max_tokens` on its own gets a batch of
    its own. With `shuffle` the order of the batches is shuffled. Pairs with a side over `max_len` are left
    out; the returned list's `.dropped` counts them. Indices are sorted inside each batch.
    """
    src = np.asarray(lengths_src, dtype=np.int64)
    tgt = np.asarray(lengths_tgt, dtype=np.int64)
    if src.shape != tgt.shape:
        raise ValueError(f"source and target lengths differ in shape: {src.shape} vs {tgt.shape}")
    if batch_size is None and max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    rng = np.random.default_rng([seed, epoch])
    keep = np.arange(len(src))
    if max_len is not None:
        keep = keep[(src <= max_len) & (tgt <= max_len)]
    size = padded_width(src[keep], tgt[keep])
    tiebreak = rng.random(len(keep)) if shuffle else np.arange(len(keep))
    order = keep[np.lexsort((tiebreak, size))]
    size = padded_width(src[order], tgt[order])  # non-decreasing
    plan = BatchPlan()
    plan.dropped = len(src) - len(keep)
    start = 0
    while start < len(order):
        if batch_size is not None:
            count = batch_size
        else:
            # Sizes only grow, so at most max_tokens // size[start] examples fit; the first that doesn't ends it.
            count = examples_that_fit(size[start:start + max(1, max_tokens // int(size[start]))], max_tokens)
        plan.append(np.sort(order[start:start + count]))
        start += count
    if shuffle:
        permutation = rng.permutation(len(plan))
        plan[:] = [plan[i] for i in permutation]
    return plan
