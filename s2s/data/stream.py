"""The stream of global training batches, in a deterministic order that `--resume` can re-enter.

Outside a curriculum, an epoch's batches come from `token_batches` (a function of seed and epoch) and the
position is (epoch, batch within the epoch). Inside a curriculum, each step's batches are drawn from the easiest
`competence(step)` share of the corpus with a generator seeded by (seed, step, micro-batch). Either way the
batches are *global*: under several processes each rank takes its share (`s2s.distributed.World.share`).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Protocol

import numpy as np

from s2s.config import Recipe
from s2s.data.dataset import ParallelData, token_batches
from s2s.errors import S2SError
from s2s.teacher_forcing import competence, curriculum_batch, difficulty_order


class Position(Protocol):
    step: int
    epoch: int
    batch_in_epoch: int


class BatchStream:
    """`next` gives the indices of each global batch into `data`, which `resample` (subword regularisation:
    `s2s.data.sampling`) replaces with a new segmentation of the same sentences at each epoch's start."""

    def __init__(self, data: ParallelData, recipe: Recipe,
                 resample: Optional[Callable[[int], ParallelData]] = None):
        self.data, self.recipe, self.resample = data, recipe, resample
        self._epoch: Optional[int] = None
        self._batches: list[np.ndarray] = []
        self._micro = 0
        self._easiest_first = None
        cur = recipe.teacher_forcing.curriculum
        if cur is not None:
            d = recipe.data
            tokens, offsets = (data.src_ids, data.src_offsets) if cur.difficulty == "rarity" else (None, None)
            order = difficulty_order(cur, data.src_lengths, tokens, offsets)
            fits = (data.src_lengths <= d.max_len) & (data.tgt_lengths <= d.max_len)
            self._easiest_first = order[fits[order]]

    def competence(self, step: int) -> float:
        cur = self.recipe.teacher_forcing.curriculum
        return 1.0 if cur is None else competence(cur, step)

    def next(self, position: Position, comp: float) -> np.ndarray:
        """Indices of the next global batch; advances `position` (epoch, batch_in_epoch) outside a curriculum."""
        d, seed = self.recipe.data, self.recipe.train.seed
        if comp < 1.0:
            self._micro += 1
            rng = np.random.default_rng([seed, position.step, self._micro])
            pool = int(math.ceil(comp * len(self._easiest_first)))
            return curriculum_batch(self._easiest_first, pool, self.data.src_lengths, self.data.tgt_lengths,
                                    d.max_tokens, d.batch_size, rng)
        self._micro = 0
        while True:
            if self._epoch != position.epoch:
                if self.resample is not None:
                    self.data = self.resample(position.epoch)
                self._batches = token_batches(self.data.src_lengths, self.data.tgt_lengths, d.max_tokens,
                                              d.batch_size, seed=seed, epoch=position.epoch, max_len=d.max_len)
                self._epoch = position.epoch
                if not self._batches:
                    raise S2SError(f"data.max_len: no training pair is at most {d.max_len} subwords long")
            if position.batch_in_epoch < len(self._batches):
                indices = self._batches[position.batch_in_epoch]
                position.batch_in_epoch += 1
                return indices
            position.epoch += 1
            position.batch_in_epoch = 0

    def new_step(self) -> None:
        """Curriculum draws are numbered within a step, so each step starts counting again."""
        self._micro = 0
