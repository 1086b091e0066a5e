"""Left-to-right decoding that extends each row by one chosen token: greedy (the argmax) and sampling.

Both are one loop, `left_to_right`, with a different `choose`; `sample` decodes `nbest` rows per sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from s2s import BOS_ID, EOS_ID
from s2s.decoding.base import (NEG_INF, DecodeConfig, Hypothesis, Trace, hypothesis, inference, max_lengths,
                               restrict)
from s2s.models.base import Seq2Seq
from s2s.registry import DECODERS
from s2s.typed import require


@dataclass(frozen=True)
class GreedyConfig(DecodeConfig):
    """Greedy decoding needs nothing beyond the length limits."""


@dataclass(frozen=True)
class SampleConfig(DecodeConfig):
    """Configures `sample`: temperature, then top-k, then top-p, as Hugging Face applies them."""

    temperature: float = 1.0  # below 1 sharpens the distribution sampled from, above 1 flattens it
    top_k: int = 0  # sample among the k likeliest tokens only; 0 keeps them all
    top_p: float = 1.0  # nucleus: the fewest likeliest tokens whose probability reaches p; 1 keeps them all
    seed: int | None = None  # None draws from torch's global generator
    nbest: int = 1  # samples drawn per sentence, returned best first (they may repeat)

    def check(self) -> None:
        super().check()
        require(self.temperature > 0, "temperature: must be > 0 (use greedy for argmax decoding)")
        require(self.top_k >= 0, "top_k: must be >= 0 (0 keeps every token)")
        require(0 < self.top_p <= 1, "top_p: must be in (0, 1]")
        require(self.nbest >= 1, "nbest: must be >= 1")


def filter_logits(logits: Tensor, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """`logits` (N, V) with -inf outside the `top_k` likeliest tokens and outside the nucleus of mass `top_p`."""
    if 0 < top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (N, 1)
        logits = logits.masked_fill(logits < kth, NEG_INF)
    if top_p < 1:
        ranked, order = logits.sort(dim=-1, descending=True)  # (N, V)
        probs = ranked.softmax(-1)
        # A token stays while the tokens ranked above it hold less than top_p: the likeliest always stays.
        drop_ranked = probs.cumsum(-1) - probs >= top_p  # (N, V)
        drop = torch.zeros_like(drop_ranked).scatter_(-1, order, drop_ranked)
        logits = logits.masked_fill(drop, NEG_INF)
    return logits


def left_to_right(model: Seq2Seq, src: Tensor, src_lengths: Tensor, cfg: DecodeConfig, copies: int,
                  choose: Callable[[Tensor], Tensor]) -> list[list[Hypothesis]]:
    """`copies` independent rows per sentence, each extended by `choose(logp (N, V)) -> (N,)` until EOS."""
    device, B = src.device, src.size(0)
    row_sent = torch.arange(B, device=device).repeat_interleave(copies)  # (N,) sentence of each row
    enc = model.encode(src, src_lengths)
    # Each row is its own draw and leaves the batch when it ends, alone: it gets its own copy of the encoding.
    enc = enc.repeat(copies) if copies > 1 else enc
    state = model.init_state(enc)
    N = B * copies
    tokens = torch.full((N,), BOS_ID, dtype=torch.long, device=device)  # (N,)
    scores = torch.zeros(N, device=device)  # (N,)
    limit = max_lengths(cfg, src_lengths, model.max_length).to(device)[row_sent]  # (N,)
    shortest, longest = int(limit.min()), int(limit.max())
    row_id = torch.arange(N, device=device)  # (n,) original row of each row still decoding
    result_score = torch.zeros(N, device=device)  # (N,)
    result_where = torch.zeros(N, 2, dtype=torch.long, device=device)  # (N, 2): (step t, row of R_t)
    trace = Trace()
    for t in range(longest + 1):
        out = model.step(tokens, state, enc)
        trace.attention.append(out.attention)
        logp = out.logits.float().log_softmax(-1)  # (n, V)
        restrict(logp.unsqueeze(1), t, cfg.min_len, limit, shortest)
        tokens = choose(logp)  # (n,)
        scores = scores + logp.gather(1, tokens.unsqueeze(1)).squeeze(1)  # (n,)
        done = tokens == EOS_ID  # (n,)
        if bool(done.any()):
            gone, keep = done.nonzero().squeeze(1), (~done).nonzero().squeeze(1)
            result_score.index_copy_(0, row_id[gone], scores[gone])
            result_where.index_copy_(0, row_id[gone], torch.stack([torch.full_like(gone, t), gone], 1))
            if keep.numel() == 0:
                break
            tokens, scores, limit, row_id = tokens[keep], scores[keep], limit[keep], row_id[keep]
            enc, state = enc.select(keep), model.reorder(out.state, keep)
            shortest = int(limit.min())
            trace.parents.append(keep)
        else:
            state = out.state
            trace.parents.append(None)
        trace.tokens.append(tokens)
    scores_, src_lens = result_score.tolist(), src_lengths.tolist()
    paths = trace.paths([tuple(w) for w in result_where.tolist()])
    hyps = [hypothesis(path, att, src_lens[i // copies], scores_[i], scores_[i])
            for i, (path, att) in enumerate(paths)]
    return [sorted(hyps[i * copies : (i + 1) * copies], key=lambda h: -h.score) for i in range(B)]


@DECODERS.register("greedy", config=GreedyConfig)
@inference
def greedy(model: Seq2Seq, src: Tensor, src_lengths: Tensor, cfg: GreedyConfig) -> list[list[Hypothesis]]:
    """Greedy decoding: the likeliest next token at every step (one hypothesis per sentence)."""
    return left_to_right(model, src, src_lengths, cfg, 1, lambda logp: logp.argmax(-1))


@DECODERS.register("sample", config=SampleConfig)
@inference
def sample(model: Seq2Seq, src: Tensor, src_lengths: Tensor, cfg: SampleConfig) -> list[list[Hypothesis]]:
    """Ancestral sampling with temperature, top-k and nucleus (top-p) truncation; `nbest` samples a sentence.

    Truncation and temperature shape only what is drawn: the scores stay the model's own log-probabilities.
    """
    generator = None
    if cfg.seed is not None:
        generator = torch.Generator(device=src.device).manual_seed(cfg.seed)

    def choose(logp: Tensor) -> Tensor:  # logp (n, V) -> (n,)
        logits = filter_logits(logp / cfg.temperature, cfg.top_k, cfg.top_p)
        return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)

    return left_to_right(model, src, src_lengths, cfg, cfg.nbest, choose)
