"""Beam search, batched over sentences and beams: one topk per step, hypotheses that end independently.

The search keeps no per-hypothesis Python objects while it runs: live beams are tensor rows, ended hypotheses
are (step, row) pointers into the `Trace`, read back once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from s2s import BOS_ID, EOS_ID
from s2s.decoding.base import (NEG_INF, DecodeConfig, Hypothesis, Trace, hypothesis, inference, max_lengths,
                               restrict)
from s2s.models.base import Seq2Seq
from s2s.registry import DECODERS
from s2s.typed import require


@dataclass(frozen=True)
class BeamConfig(DecodeConfig):
    """Configures `beam`; the defaults are the usual NMT ones, with no length penalty."""

    beam_size: int = 5  # live hypotheses kept per sentence
    length_penalty: float = 0.0  # GNMT alpha: rank by score / ((5 + |Y|) / 6) ** alpha; 0 ranks by score
    nbest: int = 1  # hypotheses returned per sentence

    def check(self) -> None:
        super().check()
        require(self.beam_size >= 1, "beam_size: must be >= 1")
        require(self.length_penalty >= 0, "length_penalty: must be >= 0")
        require(1 <= self.nbest <= self.beam_size, f"nbest: must be between 1 and beam_size ({self.beam_size})")


def length_penalty(length: Any, alpha: float) -> Any:
    """GNMT's lp = ((5 + |Y|) / 6) ** alpha, where |Y| counts EOS (one per scored prediction)."""
    return ((5 + length) / 6) ** alpha


@dataclass(frozen=True)
class _Ended:
    """The n best ended hypotheses of each sentence, best first; a score of -inf marks an empty slot."""

    norm: Tensor  # (b, n) the ranking key
    score: Tensor  # (b, n)
    where: Tensor  # (b, n, 2) long: (step t, row of R_t), for `Trace.paths`

    @staticmethod
    def empty(b: int, n: int, device: torch.device) -> "_Ended":
        return _Ended(torch.full((b, n), NEG_INF, device=device), torch.full((b, n), NEG_INF, device=device),
                      torch.zeros(b, n, 2, dtype=torch.long, device=device))

    def merge(self, norm: Tensor, score: Tensor, where: Tensor) -> "_Ended":
        """Keep the n best of these and the new (b, k) ones."""
        norm = torch.cat([self.norm, norm], 1)  # (b, n + k)
        pick = norm.topk(self.norm.size(1), dim=1).indices  # (b, n)
        where = torch.cat([self.where, where], 1).gather(1, pick.unsqueeze(2).expand(-1, -1, 2))  # (b, n, 2)
        return _Ended(norm.gather(1, pick), torch.cat([self.score, score], 1).gather(1, pick), where)

    def select(self, index: Tensor) -> "_Ended":
        return _Ended(self.norm[index], self.score[index], self.where[index])

    def put(self, index: Tensor, other: "_Ended") -> None:
        """Rows `index` of self become the rows of `other`, in place."""
        for mine, theirs in ((self.norm, other.norm), (self.score, other.score), (self.where, other.where)):
            mine.index_copy_(0, index, theirs)


@DECODERS.register("beam", config=BeamConfig)
@inference
def beam(model: Seq2Seq, src: Tensor, src_lengths: Tensor, cfg: BeamConfig) -> list[list[Hypothesis]]:
    """Beam search over sentences and beams together; hypotheses end independently.

    Each step ranks the K * V extensions of a sentence's K live hypotheses (one topk over (B, K * V)). An EOS
    among the K best ends a hypothesis; the K best non-EOS extensions live on. A sentence is done when no live
    hypothesis can still beat its `nbest`-th ended one, or at its length limit. Log-probabilities are <= 0, so
    with alpha = 0 a live score can only fall: the bound is the best live score. With alpha > 0 a longer
    hypothesis divides by a larger lp, so the bound is the best live score / lp(limit + 1) -- exact, since no
    hypothesis outgrows the limit (tensor2tensor's bound). Ended hypotheses are ranked by `normalized_score`;
    a sentence gets fewer than `nbest` only when fewer sequences fit under its limit.
    """
    K, alpha = cfg.beam_size, cfg.length_penalty
    device, B = src.device, src.size(0)
    # The beams of a sentence share its encoder output: it is never reordered, and the model says how K rows read
    # it (`expand`: in place, or K copies).
    enc = model.encode(src, src_lengths)
    rows = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,) the sentence of each row
    state = model.reorder(model.init_state(enc), rows)
    enc = model.expand(enc, K)
    tokens = torch.full((B * K,), BOS_ID, dtype=torch.long, device=device)  # (B*K,)
    # Only beam 0 is live at first: K identical beams would fill the beam with copies of one hypothesis.
    scores = torch.full((B, K), NEG_INF, device=device)  # (B, K)
    scores[:, 0] = 0
    limit = max_lengths(cfg, src_lengths, model.max_length).to(device)  # (B,)
    shortest, longest = int(limit.min()), int(limit.max())
    lp_limit = length_penalty(limit.float() + 1, alpha)  # (B,)
    sent = torch.arange(B, device=device)  # (b,) original index of each sentence still searched
    ended, result = _Ended.empty(B, cfg.nbest, device), _Ended.empty(B, cfg.nbest, device)
    trace = Trace()
    for t in range(longest + 1):
        out = model.step(tokens, state, enc)
        trace.attention.append(out.attention)
        b = scores.size(0)
        logp = out.logits.float().log_softmax(-1).view(b, K, -1)  # (b, K, V)
        V = logp.size(-1)
        restrict(logp, t, cfg.min_len, limit, shortest)
        top, idx = (scores.unsqueeze(2) + logp).view(b, K * V).topk(2 * K, dim=1)  # (b, 2K) best first
        origin = idx // V + (torch.arange(b, device=device) * K).unsqueeze(1)  # (b, 2K) row in R_t
        token = idx % V  # (b, 2K)
        is_eos = token == EOS_ID  # (b, 2K)
        # Only an EOS among the K best ends a hypothesis: one ranked lower was not in the beam.
        end = top[:, :K].masked_fill(~is_eos[:, :K], NEG_INF)  # (b, K)
        where = torch.stack([torch.full_like(origin[:, :K], t), origin[:, :K]], 2)  # (b, K, 2)
        ended = ended.merge(end / length_penalty(t + 1, alpha), end, where)
        # Each beam has one EOS, so at least K of the 2K are not EOS: the first K of those live on, in order.
        live = (is_eos.long() * (2 * K) + torch.arange(2 * K, device=device)).topk(K, largest=False).indices
        scores, parent, tokens = top.gather(1, live), origin.gather(1, live), token.gather(1, live)  # (b, K)
        bound = scores[:, 0] if alpha == 0 else scores[:, 0] / lp_limit  # (b,)
        done = (bound <= ended.norm[:, -1]) | (limit <= t)  # (b,)
        if bool(done.any()):
            gone, keep = done.nonzero().squeeze(1), (~done).nonzero().squeeze(1)
            result.put(sent[gone], ended.select(gone))
            if keep.numel() == 0:
                break
            scores, parent, tokens, ended = scores[keep], parent[keep], tokens[keep], ended.select(keep)
            limit, lp_limit, sent = limit[keep], lp_limit[keep], sent[keep]
            enc = enc.keep(keep, K)
            shortest = int(limit.min())
        parent, tokens = parent.view(-1), tokens.view(-1)  # (b*K,)
        state = model.reorder(out.state, parent)
        trace.parents.append(parent)
        trace.tokens.append(tokens)
    norms, raw, where = result.norm.tolist(), result.score.tolist(), result.where.tolist()
    src_lens = src_lengths.tolist()
    ends = [(i, j) for i in range(B) for j in range(cfg.nbest) if norms[i][j] > NEG_INF]
    hyps: list[list[Hypothesis]] = [[] for _ in range(B)]
    for (i, j), (path, att) in zip(ends, trace.paths([tuple(where[i][j]) for i, j in ends])):
        hyps[i].append(hypothesis(path, att, src_lens[i], raw[i][j], norms[i][j]))
    return hyps
