"""What every decoding strategy shares: the length limits, the result type and the search bookkeeping.

`DecodeConfig` is the base of every strategy's config; `restrict` applies its limits to a step's
log-probabilities; `Trace` records backpointers so that a batched search can read its hypotheses back at the
end; `inference` runs a strategy without autograd and in eval mode, on a source cut to the model's
`max_length`. No strategy lives here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from s2s import BOS_ID, EOS_ID, PAD_ID
from s2s.models.base import Seq2Seq
from s2s.typed import require

NEG_INF = -math.inf


@dataclass(frozen=True)
class DecodeConfig:
    """The length limits every strategy shares."""

    max_len_a: float = 1.5  # output tokens allowed per source token: translations may run longer than sources
    max_len_b: int = 10  # plus this many, so that very short sources still have room
    min_len: int = 0  # EOS is forbidden before this many tokens (the length limit still wins)

    def check(self) -> None:
        require(self.max_len_a >= 0, "max_len_a: must be >= 0")
        require(self.max_len_b >= 0, "max_len_b: must be >= 0")
        require(self.min_len >= 0, "min_len: must be >= 0")


@dataclass(frozen=True)
class Hypothesis:
    tokens: list[int]  # output ids, without BOS and EOS
    score: float  # model log-probability of tokens + EOS: no temperature, truncation or length penalty
    normalized_score: float  # the ranking key: score / ((5 + len(tokens) + 1) / 6) ** alpha in beam search
    attention: Optional[Tensor] = None  # (len(tokens) + 1, S_true): one row per prediction, if the model has them


Decoder = Callable[[Seq2Seq, Tensor, Tensor, Any], "list[list[Hypothesis]]"]


def max_lengths(cfg: DecodeConfig, src_lengths: Tensor, model_limit: Optional[int] = None) -> Tensor:
    """Each sentence's output limit floor(a * S + b), (B,) long, within the model's `max_length`.

    The decoder reads BOS and then every output token but the final EOS, so a model of `model_limit` positions
    can produce at most `model_limit - 1` tokens before the forced EOS.
    """
    limit = (src_lengths.double() * cfg.max_len_a + cfg.max_len_b).floor().long()
    return limit if model_limit is None else limit.clamp(max=max(model_limit - 1, 0))


def within_model(model: Seq2Seq, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor]:
    """`src` (B, S) cut to the model's `max_length` (the translator cuts first; this keeps a direct call from
    raising), so a source the model cannot encode is read as far as it can be rather than refused."""
    limit = model.max_length
    if limit is None or src.size(1) <= limit:
        return src, src_lengths
    return src[:, :limit], src_lengths.clamp(max=limit)


def inference(fn: Decoder) -> Decoder:
    """Run a strategy without autograd and in eval mode (the model's mode is restored after)."""

    @functools.wraps(fn)
    def run(model: Seq2Seq, src: Tensor, src_lengths: Tensor, cfg: Any) -> list[list[Hypothesis]]:
        if src.size(0) == 0:
            return []
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                return fn(model, *within_model(model, src, src_lengths), cfg)
        finally:
            model.train(was_training)

    return run


def restrict(logp: Tensor, t: int, min_len: int, limit: Tensor, shortest: int) -> None:
    """In place on `logp` (B, R, V) at step t: PAD and BOS never, EOS not before `min_len`, EOS at `limit` (B,).

    Masking follows log_softmax, so the tokens left allowed keep their model log-probabilities.
    `shortest` (= min of `limit`, kept as a Python int) skips the limit mask until some limit is reached.
    """
    logp[..., PAD_ID] = NEG_INF  # neither is ever a training target, but an untrained model may still pick one
    logp[..., BOS_ID] = NEG_INF
    if t >= shortest:
        at_max = (limit <= t).view(-1, 1, 1)  # (B, 1, 1)
        not_eos = torch.arange(logp.size(-1), device=logp.device) != EOS_ID  # (V,)
        logp.masked_fill_(at_max & not_eos, NEG_INF)
        if t < min_len:
            logp[..., EOS_ID].masked_fill_(~at_max.squeeze(2), NEG_INF)
    elif t < min_len:
        logp[..., EOS_ID] = NEG_INF


class Trace:
    """Backpointers of a batched search: a list append per step, and each path read back once at the end.

    Step t runs on rows R_t. `parents[t]` maps each row of R_{t+1} to its row in R_t (None: the same row),
    `tokens[t]` holds the token each row of R_{t+1} appended, `attention[t]` the (|R_t|, S) weights of step t.
    """

    def __init__(self) -> None:
        self.parents: list[Optional[Tensor]] = []
        self.tokens: list[Tensor] = []
        self.attention: list[Optional[Tensor]] = []

    def paths(self, ends: list[tuple[int, int]]) -> list[tuple[list[int], Optional[Tensor]]]:
        """Tokens and attention (t + 1, S) of each hypothesis that ended with EOS at (step t, row r of R_t)."""
        tokens = [x.tolist() for x in self.tokens]
        parents = [None if p is None else p.tolist() for p in self.parents]
        offsets = [0]
        for att in self.attention:
            offsets.append(offsets[-1] + (att.size(0) if att is not None else 0))
        found, index = [], []
        for t, r in ends:
            path, rows = [], [r]  # rows[k]: the path's row in R_{t-k}
            for s in range(t, 0, -1):
                path.append(tokens[s - 1][r])
                r = r if parents[s - 1] is None else parents[s - 1][r]
                rows.append(r)
            index.extend(offsets[s] + rows[t - s] for s in range(t + 1))
            found.append(path[::-1])
        if not ends or any(att is None for att in self.attention):
            return [(path, None) for path in found]
        rows = torch.cat(self.attention).index_select(0, torch.tensor(index, device=self.attention[0].device))
        return list(zip(found, rows.split([t + 1 for t, _ in ends])))


def hypothesis(path: list[int], att: Optional[Tensor], src_len: int, score: float, norm: float) -> Hypothesis:
    return Hypothesis(path, score, norm, None if att is None else att[:, :src_len].float())
