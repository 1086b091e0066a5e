"""Subword regularisation (Kudo 2018): each epoch sees the training text cut into subwords anew.

A unigram SentencePiece model knows many segmentations of a sentence and their probabilities. Training on one
fixed segmentation (what `prepare` wrote) teaches the model that segmentation only; sampling a segmentation each
epoch (`data.subword_alpha`, the smoothing: 0 samples uniformly over the lattice, larger values stay nearer the
best segmentation) is a data augmentation OpenNMT-py and Marian offer for small corpora. Validation, evaluation
and translation keep the best segmentation.

The sample is a pure function of (seed, epoch): SentencePiece's generator is seeded before each epoch and
encodes on one thread, so `--resume` re-enters an epoch with the same subwords. It costs one encoding of the
training text per epoch (tens of seconds for 78k pairs on one core), counted as training time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sentencepiece as spm

from s2s.data.dataset import ParallelData
from s2s.data.subwords import Vocab


def sampled_split(data_dir: Path, base: ParallelData, src_vocab: Vocab, tgt_vocab: Vocab, alpha: float, seed: int,
                  epoch: int) -> ParallelData:
    """`base` (a prepared split) with every sentence segmented again by sampling, in memory."""
    data_dir = Path(data_dir)
    sides = []
    for i, (lang, vocab) in enumerate(((base.src, src_vocab), (base.tgt, tgt_vocab))):
        lines = (data_dir / f"{base.split}.{lang}").read_text(encoding="utf-8").split("\n")[:len(base)]
        spm.set_random_generator_seed(_seed(seed, epoch, i))
        pieces = vocab.sample_batch(lines, alpha)
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = np.fromiter((t for p in pieces for t in p), dtype=np.int32, count=int(offsets[-1]))
        sides.append((ids, offsets, lengths))
    (src_ids, src_offsets, src_lengths), (tgt_ids, tgt_offsets, tgt_lengths) = sides
    return ParallelData(base.split, base.src, base.tgt, src_ids, src_offsets, tgt_ids, tgt_offsets, src_lengths,
                        tgt_lengths)


def _seed(seed: int, epoch: int, side: int) -> int:
    """SentencePiece's seed for one side of one epoch (a 32-bit value, distinct per side and epoch)."""
    return int(np.random.default_rng([seed, epoch, side]).integers(1, 2**31 - 1))
