"""Decoding strategies -- greedy, beam search, sampling -- each written once against the `Seq2Seq` interface.

Every strategy is registered in `s2s.registry.DECODERS` with the frozen dataclass that configures it, and has
one signature:

    fn(model, src (B, S), src_lengths (B,), cfg) -> list[list[Hypothesis]]  # one list per sentence, best first

A strategy drives the model only through `encode`, `init_state`, `step`, `reorder`, `expand` and `max_length`
(and `Encoded`'s own row selection), so it never asks which architecture it has. Sentences (and their beams or samples) are rows of one batch: the only
Python loop is over time steps, and the rows of a sentence leave the batch as soon as it is done.

Scores: `Hypothesis.score` is always the model's log-probability of the tokens followed by EOS -- never
tempered, truncated or length-normalised -- so it can be checked against a teacher-forced `model.forward`.
`normalized_score` is what a strategy ranks by: the GNMT length-normalised score in beam search with
`length_penalty > 0`, otherwise equal to `score`.

Lengths: a sentence of S source tokens gets at most floor(max_len_a * S + max_len_b) output tokens. At that
length EOS is forced (forcing wins over `min_len`), so every hypothesis ends in EOS and has a full score.
A model with a `max_length` caps that at max_length - 1 (its BOS takes a position), and a longer source is
cut to max_length, so no strategy asks a model for a position it has not got.
PAD and BOS are never produced.

Layout: `base.py` (the shared config, `Hypothesis`, length limits, backpointers), `beam.py`, `sampling.py`
(greedy and sampling: one loop). Importing this package registers all three strategies.
Not here: tokenising, batching raw text, detokenising -- the callers (`translate`, `evaluate`) do that.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from s2s.decoding.base import DecodeConfig, Hypothesis, max_lengths
from s2s.decoding.beam import BeamConfig, beam, length_penalty  # registers "beam"
from s2s.decoding.sampling import GreedyConfig, SampleConfig, filter_logits, greedy, sample  # "greedy", "sample"
from s2s.models.base import Seq2Seq
from s2s.registry import DECODERS


def decode(model: Seq2Seq, src: Tensor, src_lengths: Tensor, strategy: str = "beam",
           cfg: DecodeConfig | None = None) -> list[list[Hypothesis]]:
    """Decode `src` (B, S) with the registered `strategy`; `cfg` defaults to that strategy's defaults."""
    entry = DECODERS.entry(strategy)
    cfg = entry.config() if cfg is None else cfg
    if not isinstance(cfg, entry.config):
        raise TypeError(f"strategy {strategy!r} takes a {entry.config.__name__}, got {type(cfg).__name__}")
    return entry.obj(model, src, src_lengths, cfg)


def decode_config(name: str, values: dict[str, Any] | None = None, path: str = "decode") -> DecodeConfig:
    """The config of strategy `name` from a recipe section's values (without the `strategy` key)."""
    return DECODERS.build_config(name, values or {}, path)


__all__ = ["DecodeConfig", "GreedyConfig", "BeamConfig", "SampleConfig", "Hypothesis", "decode", "decode_config",
           "max_lengths", "length_penalty", "filter_logits", "beam", "greedy", "sample"]
