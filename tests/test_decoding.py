"""Invariants of the decoding strategies, on a hand-written toy model and on every registered architecture.

The toy model (a GRU cell with dot attention and a step counter that makes EOS likelier over time) implements
the `Seq2Seq` interface in a few lines, so these tests pin decoding down independently of `s2s/models`. The
same invariants then run on tiny random instances of each registered architecture.
"""

from __future__ import annotations

import functools
import itertools
import math

import pytest
import torch
from torch import Tensor, nn

from s2s import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from s2s.decoding import (BeamConfig, GreedyConfig, Hypothesis, SampleConfig, decode, decode_config,
                          filter_logits, max_lengths)
from s2s.errors import ConfigError
from s2s.models.base import Encoded, Seq2Seq, State, StepOutput
from s2s.registry import ARCHITECTURES, DECODERS


V = 13  # target vocabulary of the toy model: 4 specials + 9 words


class ToyModel(Seq2Seq):
    """Deterministic, source- and prefix-dependent next-token distributions; padding never leaks in."""

    def __init__(self, vocab: int = V, hidden: int = 16, seed: int = 0, eos_drift: float = 0.4):
        super().__init__()
        torch.manual_seed(seed)
        self.config = None
        self.src_embed, self.tgt_embed = nn.Embedding(vocab, hidden), nn.Embedding(vocab, hidden)
        self.cell = nn.GRUCell(hidden, hidden)
        self.out = nn.Linear(2 * hidden, vocab)
        self.bigram = nn.Embedding(vocab, vocab)  # a direct previous-token term, so outputs don't settle into loops
        self.eos_drift = eos_drift  # EOS gains this much logit per step, so hypotheses end at varied lengths

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        mask = torch.arange(src.size(1)) < src_lengths.unsqueeze(1)  # (B, S)
        memory = torch.tanh(self.src_embed(src)) * mask.unsqueeze(2)  # (B, S, H)
        h0 = memory.sum(1) / src_lengths.unsqueeze(1).float()  # (B, H)
        return Encoded(memory, mask, extras={"h0": h0})

    def init_state(self, enc: Encoded) -> State:
        return {"h": enc.extras["h0"], "t": torch.zeros(enc.batch_size)}

    def step(self, tokens: Tensor, state: State, enc: Encoded) -> StepOutput:
        h = self.cell(self.tgt_embed(tokens), state["h"])  # (B, H)
        scores = (enc.memory @ h.unsqueeze(2)).squeeze(2).masked_fill(~enc.src_mask, -math.inf)  # (B, S)
        attn = scores.softmax(-1)  # (B, S)
        context = (attn.unsqueeze(2) * enc.memory).sum(1)  # (B, H)
        logits = 3 * self.out(torch.cat([h, context], 1)) + 2 * self.bigram(tokens)  # (B, V)
        logits[:, EOS_ID] += self.eos_drift * state["t"] - 1
        logits[:, BOS_ID] = logits[:, PAD_ID] = -1e4  # never produced
        return StepOutput(logits, {"h": h, "t": state["t"] + 1}, attn)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        return self.forward_mixed(src, src_lengths, tgt_in, lambda gold, logits: gold)


def random_batch(n: int, seed: int, vocab: int = V, max_len: int = 7) -> tuple[Tensor, Tensor]:
    """`n` padded source sentences of random lengths 1..max_len (at least two distinct lengths)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (n,), generator=g)
    lengths[0], lengths[-1] = max_len, 1
    src = torch.randint(4, vocab, (n, max_len), generator=g)
    src = src.masked_fill(torch.arange(max_len) >= lengths.unsqueeze(1), PAD_ID)
    return src, lengths


def rescore(model: Seq2Seq, src: Tensor, length: int, tokens: list[int]) -> float:
    """The model's log-probability of `tokens` + EOS for one source sentence (1, S), teacher-forced."""
    with torch.no_grad():
        tgt_in = torch.tensor([[BOS_ID] + tokens])
        logp = model(src[:, :length], torch.tensor([length]), tgt_in).log_softmax(-1)[0]  # (T, V)
        return logp.gather(1, torch.tensor(tokens + [EOS_ID]).unsqueeze(1)).sum().item()


def one_by_one(model: Seq2Seq, src: Tensor, lengths: Tensor, strategy: str, cfg) -> list[list[Hypothesis]]:
    return [decode(model, src[i : i + 1, : lengths[i]], lengths[i : i + 1], strategy, cfg)[0]
            for i in range(src.size(0))]


def same(a: list[list[Hypothesis]], b: list[list[Hypothesis]], tol: float = 1e-5) -> None:
    assert [[h.tokens for h in s] for s in a] == [[h.tokens for h in s] for s in b]
    for x, y in zip(sum(a, []), sum(b, [])):
        assert x.score == pytest.approx(y.score, abs=tol)
        assert x.normalized_score == pytest.approx(y.normalized_score, abs=tol)


# ---- the invariants, shared by the toy model and the registered architectures -----------------------------------

def check_beam1_is_greedy(model, src, lengths):
    cfg = dict(max_len_a=1.0, max_len_b=4)
    g = decode(model, src, lengths, "greedy", GreedyConfig(**cfg))
    b = decode(model, src, lengths, "beam", BeamConfig(beam_size=1, **cfg))
    same(g, b, tol=1e-6)


def check_batch_equals_one_by_one(model, src, lengths):
    for strategy, cfg in [("greedy", GreedyConfig(max_len_b=5)),
                          ("beam", BeamConfig(beam_size=3, nbest=2, max_len_b=5)),
                          ("beam", BeamConfig(beam_size=4, length_penalty=1.0, max_len_b=5))]:
        same(decode(model, src, lengths, strategy, cfg), one_by_one(model, src, lengths, strategy, cfg))


def check_scores_are_model_scores(model, src, lengths):
    for cfg in [BeamConfig(beam_size=4, nbest=3, max_len_b=5), BeamConfig(length_penalty=0.8, max_len_b=5)]:
        for i, hyps in enumerate(decode(model, src, lengths, "beam", cfg)):
            for h in hyps:
                assert h.score == pytest.approx(rescore(model, src[i : i + 1], int(lengths[i]), h.tokens), abs=1e-4)
                lp = ((5 + len(h.tokens) + 1) / 6) ** cfg.length_penalty
                assert h.normalized_score == pytest.approx(h.score / lp, abs=1e-5)
    for i, [h] in enumerate(decode(model, src, lengths, "greedy", GreedyConfig(max_len_b=5))):
        assert h.score == pytest.approx(rescore(model, src[i : i + 1], int(lengths[i]), h.tokens), abs=1e-4)


def check_wider_beam_never_worse(model, src, lengths):
    """Per sentence. Not a theorem -- a beam can lose the greedy path to K better prefixes that then end worse
    (a search error) -- so this runs on the fixed toy model, where it holds on every sentence tried."""
    cfg = dict(max_len_a=1.0, max_len_b=5)
    g = decode(model, src, lengths, "greedy", GreedyConfig(**cfg))
    for k in (2, 5):
        for hg, hb in zip(g, decode(model, src, lengths, "beam", BeamConfig(beam_size=k, **cfg))):
            assert hb[0].score >= hg[0].score - 1e-5


def check_wider_beam_better_overall(model, src, lengths):
    """The robust form for models this file does not own: beam 5 wins in total, and loses on few sentences."""
    cfg = dict(max_len_a=1.0, max_len_b=5)
    g = [h[0].score for h in decode(model, src, lengths, "greedy", GreedyConfig(**cfg))]
    b = [h[0].score for h in decode(model, src, lengths, "beam", BeamConfig(beam_size=5, **cfg))]
    assert sum(b) >= sum(g) - 1e-4
    assert sum(x < y - 1e-5 for x, y in zip(b, g)) <= len(g) // 5


def check_max_length(model, src, lengths):
    cfg_len = dict(max_len_a=0.5, max_len_b=1)
    limit = max_lengths(GreedyConfig(**cfg_len), lengths).tolist()
    for strategy, cfg in [("greedy", GreedyConfig(min_len=50, **cfg_len)),
                          ("beam", BeamConfig(beam_size=3, nbest=3, min_len=50, **cfg_len)),
                          ("sample", SampleConfig(nbest=3, seed=1, min_len=50, **cfg_len))]:
        for n, hyps in zip(limit, decode(model, src, lengths, strategy, cfg)):
            assert hyps and all(len(h.tokens) == n for h in hyps)  # min_len beyond the limit: the limit wins
    for strategy, cfg in [("beam", BeamConfig(beam_size=3, nbest=3, **cfg_len)), ("greedy", GreedyConfig(**cfg_len))]:
        for n, hyps in zip(limit, decode(model, src, lengths, strategy, cfg)):
            assert all(len(h.tokens) <= n for h in hyps)


INVARIANTS = [check_beam1_is_greedy, check_batch_equals_one_by_one, check_scores_are_model_scores, check_max_length]


@pytest.mark.parametrize("check", INVARIANTS + [check_wider_beam_never_worse], ids=lambda f: f.__name__[6:])
def test_toy_model(check):
    model = ToyModel().eval()
    src, lengths = random_batch(6, seed=1)
    check(model, src, lengths)


# ---- the toy model: strategy-specific behaviour -----------------------------------------------------------------

def test_toy_model_ends_at_varied_lengths():
    """Guards the other toy tests: they mean little if every hypothesis runs to the length limit."""
    src, lengths = random_batch(12, seed=2)
    out = decode(ToyModel().eval(), src, lengths, "greedy", GreedyConfig(max_len_b=20))
    assert len({len(h[0].tokens) for h in out}) >= 3
    assert all(len(h[0].tokens) < 20 for h in out)


def test_wider_beam_never_worse_many_sentences():
    model = ToyModel(seed=3).eval()
    src, lengths = random_batch(40, seed=3)
    check_wider_beam_never_worse(model, src, lengths)


def test_nbest_distinct_and_sorted():
    model = ToyModel().eval()
    src, lengths = random_batch(5, seed=4)
    for cfg in [BeamConfig(beam_size=5, nbest=5, max_len_b=6), BeamConfig(beam_size=6, nbest=4, length_penalty=1.0)]:
        for hyps in decode(model, src, lengths, "beam", cfg):
            assert len(hyps) == cfg.nbest
            assert len({tuple(h.tokens) for h in hyps}) == cfg.nbest
            ranks = [h.normalized_score for h in hyps]
            assert ranks == sorted(ranks, reverse=True)


def test_length_penalty_prefers_longer():
    model = ToyModel().eval()
    src, lengths = random_batch(12, seed=5)
    plain = decode(model, src, lengths, "beam", BeamConfig(beam_size=5))
    long = decode(model, src, lengths, "beam", BeamConfig(beam_size=5, length_penalty=2.0))
    assert sum(len(h[0].tokens) for h in long) >= sum(len(h[0].tokens) for h in plain)
    assert all(p[0].score >= q[0].score - 1e-5 for p, q in zip(plain, long))  # alpha=0 ranks by score


@pytest.mark.parametrize("alpha", [0.0, 2.0])
@pytest.mark.parametrize("seed", range(4))
def test_beam_is_exact_when_it_holds_every_prefix(alpha, seed):
    """A beam wider than all candidate extensions keeps every prefix: it must find the best sequence there is.

    With alpha > 0 this also checks the stopping bound: a sentence stopped too early misses longer winners.
    """
    model = ToyModel(vocab=5, seed=seed, eos_drift=1.0).eval()  # words 1 and 4 (BOS and PAD never come out)
    src, lengths = random_batch(4, seed=seed, vocab=5, max_len=2)
    cfg = BeamConfig(beam_size=24, length_penalty=alpha, max_len_a=0.0, max_len_b=4)  # <= 2^3 prefixes x 3
    every = [list(s) for n in range(5) for s in itertools.product([UNK_ID, 4], repeat=n)]
    for i, hyps in enumerate(decode(model, src, lengths, "beam", cfg)):
        best = max(rescore(model, src[i : i + 1], int(lengths[i]), s) / ((5 + len(s) + 1) / 6) ** alpha
                   for s in every)
        assert hyps[0].normalized_score == pytest.approx(best, abs=1e-5)


class CountingModel(ToyModel):
    """The toy model, logging how many rows each step computes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: list[int] = []

    def step(self, tokens: Tensor, state: State, enc: Encoded) -> StepOutput:
        assert enc.batch_size == tokens.size(0) == state["h"].size(0)
        self.rows.append(tokens.size(0))
        return super().step(tokens, state, enc)


def test_finished_sentences_cost_nothing():
    src, lengths = random_batch(12, seed=12)
    model = CountingModel().eval()
    out = decode(model, src, lengths, "greedy", GreedyConfig(max_len_b=20))
    assert sum(model.rows) == sum(len(h[0].tokens) + 1 for h in out)  # one row-step per token and per EOS
    model.rows.clear()
    cfg = BeamConfig(beam_size=4, max_len_b=20)
    decode(model, src, lengths, "beam", cfg)
    assert all(n % 4 == 0 for n in model.rows) and model.rows == sorted(model.rows, reverse=True)
    assert sum(model.rows) < 0.5 * 4 * sum(max_lengths(cfg, lengths) + 1)  # sentences stop well before the limit


def test_attention_shape():
    model = ToyModel().eval()
    src, lengths = random_batch(4, seed=6)
    for strategy in ("greedy", "beam", "sample"):
        for i, hyps in enumerate(decode(model, src, lengths, strategy)):
            for h in hyps:
                assert h.attention is not None
                assert h.attention.shape == (len(h.tokens) + 1, int(lengths[i]))
                assert torch.allclose(h.attention.sum(1), torch.ones(len(h.tokens) + 1))


def test_sampling_seeded_and_scored():
    model = ToyModel().eval()
    src, lengths = random_batch(5, seed=8)
    cfg = SampleConfig(seed=3, nbest=4, max_len_b=6)
    a, b = decode(model, src, lengths, "sample", cfg), decode(model, src, lengths, "sample", cfg)
    same(a, b, tol=0)
    other = decode(model, src, lengths, "sample", SampleConfig(seed=4, nbest=4, max_len_b=6))
    assert [[h.tokens for h in s] for s in a] != [[h.tokens for h in s] for s in other]
    for i, hyps in enumerate(a):
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        for h in hyps:
            assert h.score == pytest.approx(rescore(model, src[i : i + 1], int(lengths[i]), h.tokens), abs=1e-4)


def test_sampling_degenerates_to_greedy():
    model = ToyModel().eval()
    src, lengths = random_batch(6, seed=9)
    greedy = decode(model, src, lengths, "greedy", GreedyConfig())
    for cfg in [SampleConfig(top_k=1, seed=0), SampleConfig(temperature=1e-4, seed=0), SampleConfig(top_p=1e-6)]:
        same(greedy, decode(model, src, lengths, "sample", cfg))


def test_top_p_keeps_the_nucleus():
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    logits = probs.log()
    kept = lambda p: set(torch.isfinite(filter_logits(logits, top_p=p))[0].nonzero().flatten().tolist())
    assert kept(0.4) == {1}
    assert kept(0.7) == {1, 3}
    assert kept(0.9) == {1, 3, 2}
    assert kept(1.0) == {0, 1, 2, 3}
    assert set(torch.isfinite(filter_logits(logits, top_k=2))[0].nonzero().flatten().tolist()) == {1, 3}


def test_sampled_tokens_stay_in_the_nucleus():
    model = ToyModel().eval()
    src, lengths = random_batch(4, seed=10)
    top_p = 0.6
    for i, hyps in enumerate(decode(model, src, lengths, "sample", SampleConfig(top_p=top_p, seed=5, nbest=8))):
        for h in hyps:
            with torch.no_grad():
                tgt_in = torch.tensor([[BOS_ID] + h.tokens])
                probs = model(src[i : i + 1, : lengths[i]], lengths[i : i + 1], tgt_in).softmax(-1)[0]  # (T, V)
            for t, tok in enumerate(h.tokens + [EOS_ID]):
                above = probs[t][probs[t] > probs[t, tok]].sum().item()  # mass ranked above the chosen token
                assert above < top_p + 1e-6


# ---- configs and registry ---------------------------------------------------------------------------------------

def test_registry_and_configs():
    assert {"greedy", "beam", "sample"} <= set(DECODERS.names())
    assert decode_config("beam", {"beam_size": 3, "length_penalty": 1}) == BeamConfig(beam_size=3, length_penalty=1.0)
    assert decode_config("sample", {"seed": None}).seed is None
    with pytest.raises(ConfigError, match="decode.beam_sise.*valid keys"):
        decode_config("beam", {"beam_sise": 3})
    with pytest.raises(ConfigError, match="decode.nbest"):
        decode_config("beam", {"beam_size": 2, "nbest": 3})
    with pytest.raises(ConfigError, match="decode.top_p"):
        decode_config("sample", {"top_p": 0})
    with pytest.raises(ConfigError, match="choose one of: beam, greedy, sample"):
        decode_config("beem", {})
    with pytest.raises(TypeError, match="BeamConfig"):
        decode(ToyModel(), *random_batch(1, 0), "beam", GreedyConfig())


def test_model_mode_restored():
    model = ToyModel().train()
    decode(model, *random_batch(2, 0), "greedy")
    assert model.training


# ---- every registered architecture ------------------------------------------------------------------------------

ARCH_VOCAB = 24
TINY = {  # the smallest config of each architecture family that still exercises its code paths
    "rnn": dict(embed=16, hidden=32, layers=2, dropout=0.0),
    "attention": dict(embed=16, encoder_hidden=16, hidden=32, encoder_layers=1, decoder_layers=2, dropout=0.0),
    "transformer": dict(d_model=32, heads=4, ffn=64, encoder_layers=2, decoder_layers=2, dropout=0.0),
}


@functools.cache
def tiny_model(arch: str) -> Seq2Seq:
    """A tiny `arch` given 60 Adam steps on reversing random sentences (about a second).

    At random initialisation every distribution is near-uniform and no hypothesis ends before its limit; a
    little training gives peaked distributions and a learnt EOS, as decoding meets them in use.
    """
    import s2s.models  # noqa: F401  (fills the registry)
    from s2s.models.base import build_model

    config = ARCHITECTURES.build_config(arch, TINY.get(arch, TINY["rnn"]), "model")
    torch.manual_seed(0)
    model = build_model(arch, config, ARCH_VOCAB, ARCH_VOCAB)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(60):
        src, lengths = random_batch(32, seed=100 + step, vocab=ARCH_VOCAB)
        tgt = torch.full((32, src.size(1) + 1), PAD_ID)  # (B, T): the reversed source, then EOS
        for i, n in enumerate(lengths.tolist()):
            tgt[i, :n], tgt[i, n] = src[i, :n].flip(0), EOS_ID
        tgt_in = torch.cat([torch.full((32, 1), BOS_ID), tgt[:, :-1]], 1).masked_fill(tgt == PAD_ID, PAD_ID)
        logits = model(src, lengths, tgt_in)  # (B, T, V)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD_ID)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.parametrize("check", INVARIANTS + [check_wider_beam_better_overall], ids=lambda f: f.__name__[6:])
@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru", "attention", "transformer"])
def test_architecture(arch, check):
    try:
        model = tiny_model(arch)
    except ImportError as err:  # only while the architectures are still being written
        pytest.skip(f"architecture {arch!r} not importable yet: {err}")
    src, lengths = random_batch(10, seed=11, vocab=ARCH_VOCAB)
    check(model, src, lengths)


@pytest.mark.parametrize("arch", ["attention", "transformer"])
def test_beams_reading_one_encoding_equal_beams_reading_copies(arch):
    """`expand`: a sentence's beams attending together to its one encoding find what K copies find."""
    model = tiny_model(arch)
    src, lengths = random_batch(10, seed=12, vocab=ARCH_VOCAB)
    enc = model.encode(src, lengths)
    assert model.expand(enc, 4).batch_size == 10 and model.expand(enc, 4).rows_per_sentence == 4  # in place
    cfg = BeamConfig(beam_size=4, nbest=2, max_len_a=1.0, max_len_b=3)
    shared = decode(model, src, lengths, "beam", cfg)
    model.expand = lambda enc, k: enc.repeat(k)  # an instance attribute: Seq2Seq's default, K copies
    try:
        copied = decode(model, src, lengths, "beam", cfg)
    finally:
        del model.expand
    assert [[h.tokens for h in hyps] for hyps in shared] == [[h.tokens for h in hyps] for hyps in copied]
    for hyps_a, hyps_b in zip(shared, copied):
        for a, b in zip(hyps_a, hyps_b):
            assert a.score == pytest.approx(b.score, abs=1e-4)
            torch.testing.assert_close(a.attention, b.attention, atol=1e-5, rtol=1e-4)
    assert len({len(h.tokens) for hyps in shared for h in hyps}) > 1  # sentences ended at different steps


# ---- the model's length limit -----------------------------------------------------------------------------------

def test_models_state_their_length_limit():
    """`max_length` is how decoders learn a model's limit: the Transformer's positions, none for recurrent ones."""
    import s2s.models  # noqa: F401  (fills the registry)
    from s2s.models.base import build_model

    config = ARCHITECTURES.build_config("transformer", {**TINY["transformer"], "max_positions": 16}, "model")
    assert build_model("transformer", config, ARCH_VOCAB, ARCH_VOCAB).max_length == 16
    for arch in ("rnn", "attention"):
        config = ARCHITECTURES.build_config(arch, TINY[arch], "model")
        assert build_model(arch, config, ARCH_VOCAB, ARCH_VOCAB).max_length is None


@pytest.mark.parametrize("strategy,cfg", [("greedy", GreedyConfig(max_len_b=100)),
                                          ("beam", BeamConfig(beam_size=3, max_len_b=100, nbest=2)),
                                          ("sample", SampleConfig(max_len_b=100, seed=0, nbest=2))])
def test_a_source_and_output_longer_than_the_transformer_fit_its_positions(strategy, cfg):
    """A 30-token source and a limit of 145 outputs, for a Transformer of 16 positions: the source is read as far
    as the model can (16 tokens), and every output stops at 15 tokens so that BOS + tokens fit; none raises."""
    import s2s.models  # noqa: F401
    from s2s.models.base import build_model

    config = ARCHITECTURES.build_config("transformer", {**TINY["transformer"], "max_positions": 16}, "model")
    torch.manual_seed(0)
    model = build_model("transformer", config, ARCH_VOCAB, ARCH_VOCAB)
    src, lengths = random_batch(3, seed=7, vocab=ARCH_VOCAB, max_len=30)
    results = decode(model, src, lengths, strategy, cfg)
    assert len(results) == 3
    for nbest, n in zip(results, lengths.tolist()):
        assert nbest and all(len(h.tokens) <= 15 for h in nbest)
        assert all(h.attention is None or h.attention.size(1) == min(n, 16) for h in nbest)
    # untrained, some sentence runs to the cap: the cap is what stopped it, not an error
    assert any(len(h.tokens) == 15 for nbest in results for h in nbest)
    # within the limit nothing changes: the first 16 tokens decode as the cut source does
    short = decode(model, src[:, :16], lengths.clamp(max=16), strategy, cfg)
    assert [[h.tokens for h in nb] for nb in short] == [[h.tokens for h in nb] for nb in results]
