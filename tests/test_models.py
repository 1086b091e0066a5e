"""Invariants every architecture keeps, on tiny CPU models.

`step` reproduces `forward` (so decoding is right), a sentence's logits do not depend on its batch-mates,
`forward_mixed` with gold inputs equals `forward`, reordering commutes with stepping, attention weights are
distributions over the real source positions, and every architecture learns to reverse a short sequence.
"""

from __future__ import annotations

import time

import pytest
import torch

from s2s import BOS_ID, EOS_ID, PAD_ID
from s2s.errors import ConfigError
from s2s.models.base import Seq2Seq, build_model
from s2s.registry import ARCHITECTURES

SYMBOLS = 10  # task tokens are 4 .. 13, after the four specials
VOCAB = 4 + SYMBOLS
SRC_VOCAB, TGT_VOCAB = 17, 19  # unequal on purpose for the invariance tests: catches src/tgt mix-ups

TINY = {
    "rnn": {"embed": 16, "hidden": 32, "layers": 2, "dropout": 0.1},
    "lstm": {"embed": 16, "hidden": 32, "layers": 2, "dropout": 0.1},
    "gru": {"embed": 16, "hidden": 32, "layers": 2, "dropout": 0.1},
    "attention": {"embed": 16, "encoder_hidden": 16, "encoder_layers": 2, "hidden": 32, "decoder_layers": 2,
                  "dropout": 0.1},
    "transformer": {"d_model": 32, "heads": 4, "ffn": 64, "encoder_layers": 2, "decoder_layers": 2, "dropout": 0.1,
                    "max_positions": 64},
}

# Every option that changes the computation, each at least once.
VARIANTS = [
    ("rnn", {}),
    ("lstm", {}),
    ("gru", {}),
    ("lstm", {"bidirectional": True, "feed_context": True}),
    ("gru", {"bidirectional": True}),
    ("rnn", {"feed_context": True}),
    ("attention", {}),
    ("attention", {"cell": "gru", "attention": "dot", "bridge": "concat"}),
    ("attention", {"attention": "general", "input_feeding": False, "decoder_layers": 1}),
    ("attention", {"cell": "gru", "attention": "bahdanau", "input_feeding": False, "bidirectional": False,
                   "encoder_hidden": 32, "encoder_layers": 1}),
    ("attention", {"attention": "dot", "bridge": "concat", "encoder_layers": 1, "decoder_layers": 2}),
    ("transformer", {}),
    ("transformer", {"pre_norm": True, "tie_embeddings": False}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in over.items()) for name, over in VARIANTS]


def make(name: str, overrides: dict | None = None, src_vocab: int = SRC_VOCAB, tgt_vocab: int = TGT_VOCAB,
         seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    config = ARCHITECTURES.build_config(name, {**TINY[name], **(overrides or {})}, "model")
    return build_model(name, config, src_vocab, tgt_vocab).eval()


def pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded (B, T) ids and their lengths (B,)."""
    lengths = torch.tensor([len(r) for r in rows])
    out = torch.full((len(rows), int(lengths.max())), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r)
    return out, lengths


def random_batch(batch: int, vocab: int, lengths: list[int], gen: torch.Generator) -> list[list[int]]:
    return [torch.randint(4, vocab, (n,), generator=gen).tolist() for n in lengths[:batch]]


def sample_pair(seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    src, src_len = pad(random_batch(4, SRC_VOCAB, [5, 2, 7, 3], gen))
    tgt_in, _ = pad([[BOS_ID] + r for r in random_batch(4, TGT_VOCAB, [6, 4, 3, 2], gen)])
    return src, src_len, tgt_in


def run_steps(model: Seq2Seq, src, src_len, tgt_in):
    """Logits (B, T, V) and attentions from feeding `tgt_in` one token at a time through `step`."""
    enc = model.encode(src, src_len)
    state = model.init_state(enc)
    logits, attention = [], []
    for t in range(tgt_in.size(1)):
        out = model.step(tgt_in[:, t], state, enc)
        state = out.state
        logits.append(out.logits)
        attention.append(out.attention)
    return torch.stack(logits, 1), attention


# --- registry -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_unknown_key_names_the_key(name):
    with pytest.raises(ConfigError) as err:
        ARCHITECTURES.build_config(name, {"hiddden": 3}, "model")
    assert err.value.key == "model.hiddden"


@pytest.mark.parametrize("name,values,key", [
    ("lstm", {"dropout": 1.5}, "model.dropout"),
    ("attention", {"attention": "dot", "encoder_hidden": 8, "hidden": 32}, "model.attention"),
    ("attention", {"bridge": "concat", "encoder_hidden": 8, "hidden": 32}, "model.bridge"),
    ("attention", {"cell": "rnn"}, "model.cell"),
    ("transformer", {"d_model": 30, "heads": 4}, "model.heads"),
])
def test_bad_value_names_the_key(name, values, key):
    with pytest.raises(ConfigError) as err:
        ARCHITECTURES.build_config(name, values, "model")
    assert err.value.key == key


def test_share_embeddings_needs_one_vocabulary():
    with pytest.raises(ConfigError, match="share_embeddings"):
        make("transformer", {"share_embeddings": True}, src_vocab=10, tgt_vocab=12)
    model = make("transformer", {"share_embeddings": True, "tie_embeddings": True}, src_vocab=12, tgt_vocab=12)
    assert model.src_embedding.weight is model.tgt_embedding.weight is model.output.weight


# --- the decoding invariants ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,over", VARIANTS, ids=IDS)
def test_step_reproduces_forward(name, over):
    model = make(name, over)
    src, src_len, tgt_in = sample_pair()
    with torch.no_grad():
        full = model(src, src_len, tgt_in)  # (B, T, V)
        stepped, _ = run_steps(model, src, src_len, tgt_in)
    assert full.shape == (4, tgt_in.size(1), TGT_VOCAB)
    torch.testing.assert_close(stepped, full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,over", VARIANTS, ids=IDS)
def test_logits_do_not_depend_on_batch_mates(name, over):
    model = make(name, over)
    gen = torch.Generator().manual_seed(2)
    short_src, short_tgt = random_batch(1, SRC_VOCAB, [3], gen)[0], [BOS_ID] + random_batch(1, TGT_VOCAB, [3], gen)[0]
    long_src, long_tgt = random_batch(1, SRC_VOCAB, [15], gen)[0], [BOS_ID] + random_batch(1, TGT_VOCAB, [12], gen)[0]
    with torch.no_grad():
        alone = model(*pad([short_src]), pad([short_tgt])[0])  # (1, 4, V)
        src, src_len = pad([long_src, short_src])
        batched = model(src, src_len, pad([long_tgt, short_tgt])[0])  # (2, 13, V)
    torch.testing.assert_close(batched[1, : len(short_tgt)], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,over", VARIANTS, ids=IDS)
def test_forward_mixed_with_gold_equals_forward(name, over):
    model = make(name, over)
    src, src_len, tgt_in = sample_pair()
    with torch.no_grad():
        mixed = model.forward_mixed(src, src_len, tgt_in, lambda gold, logits: gold)  # (B, T, V)
        torch.testing.assert_close(mixed, model(src, src_len, tgt_in), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_forward_mixed_feeds_the_mixers_choice(name):
    """With an argmax mixer, each input after BOS is the model's own prediction."""
    model = make(name)
    src, src_len, tgt_in = sample_pair()

    def argmax(gold, logits):
        return logits.argmax(-1)

    with torch.no_grad():
        mixed = model.forward_mixed(src, src_len, tgt_in, argmax)  # (B, T, V)
        if name == "transformer":  # two passes: the second reads the first's predictions of the gold prefix
            first = model(src, src_len, tgt_in)  # (B, T, V)
            inputs = torch.cat([tgt_in[:, :1], first[:, :-1].argmax(-1)], dim=1)  # (B, T)
            expected = model(src, src_len, inputs)
        else:  # greedy decoding: each step reads the previous step's argmax
            enc = model.encode(src, src_len)
            state, tokens, steps = model.init_state(enc), tgt_in[:, 0], []
            for _ in range(tgt_in.size(1)):
                out = model.step(tokens, state, enc)
                state, tokens = out.state, out.logits.argmax(-1)
                steps.append(out.logits)
            expected = torch.stack(steps, 1)
        gold = model(src, src_len, tgt_in)  # (B, T, V)
    torch.testing.assert_close(mixed, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(mixed, gold, atol=1e-3)  # the predictions differed from the gold somewhere


@pytest.mark.parametrize("name,over", VARIANTS, ids=IDS)
def test_reorder_commutes_with_step(name, over):
    model = make(name, over)
    src, src_len, tgt_in = sample_pair()
    index = torch.tensor([2, 0, 0, 3, 1])  # a permutation with a duplicate, as beam search makes
    with torch.no_grad():
        enc = model.encode(src, src_len)
        state = model.init_state(enc)
        for t in range(2):
            state = model.step(tgt_in[:, t], state, enc).state
        after = model.step(tgt_in[:, 2], state, enc)
        moved = model.step(tgt_in[index, 2], model.reorder(state, index), enc.select(index))
    torch.testing.assert_close(moved.logits, after.logits[index], atol=1e-5, rtol=1e-5)
    for key in after.state:
        torch.testing.assert_close(moved.state[key], after.state[key][index], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,over", [v for v in VARIANTS if v[0] in ("attention", "transformer")],
                         ids=[i for i, v in zip(IDS, VARIANTS) if v[0] in ("attention", "transformer")])
def test_attention_weights_are_distributions_over_real_positions(name, over):
    model = make(name, over)
    src, src_len, tgt_in = sample_pair()
    with torch.no_grad():
        _, attention = run_steps(model, src, src_len, tgt_in)
    real = torch.arange(src.size(1)) < src_len.unsqueeze(1)  # (B, S)
    for weights in attention:
        assert weights.shape == src.shape
        torch.testing.assert_close(weights.sum(-1), torch.ones(src.size(0)))
        assert (weights[~real] == 0).all()


@pytest.mark.parametrize("pre_norm", [False, True])
def test_transformer_cached_decoding_equals_recomputing(pre_norm):
    model = make("transformer", {"pre_norm": pre_norm})
    src, src_len, tgt_in = sample_pair()
    with torch.no_grad():
        stepped, _ = run_steps(model, src, src_len, tgt_in)
        enc = model.encode(src, src_len)
        for t in range(1, tgt_in.size(1) + 1):
            recomputed = model.decode(tgt_in[:, :t], enc)[:, -1]  # (B, V) the whole prefix, no cache
            torch.testing.assert_close(stepped[:, t - 1], recomputed, atol=1e-5, rtol=1e-5)


def test_transformer_cache_is_batch_first():
    model = make("transformer")
    src, src_len, tgt_in = sample_pair()
    with torch.no_grad():
        enc = model.encode(src, src_len)
        state = model.step(tgt_in[:, 0], model.init_state(enc), enc).state
        state = model.step(tgt_in[:, 1], state, enc).state
    assert state["k0"].shape == (4, 4, 2, 8)  # (B, heads, t, d_head)
    assert enc.extras["ck1"].shape == (4, 4, src.size(1), 8)


# The peer benchmark's models (../shared/peers/README.md), for comparing parameter counts and speed.
PEER_LSTM = {"cell": "lstm", "attention": "bahdanau", "embed": 256, "encoder_hidden": 128, "encoder_layers": 1,
             "bidirectional": True, "hidden": 256, "decoder_layers": 1, "input_feeding": True, "bridge": "concat",
             "dropout": 0.1}
PEER_TRANSFORMER = {"d_model": 256, "heads": 4, "ffn": 1024, "encoder_layers": 2, "decoder_layers": 2,
                    "dropout": 0.1, "pre_norm": True, "tie_embeddings": False}


def test_peer_configs_match_the_peers_parameter_counts():
    """Same shapes as Joey NMT (2,004 words a side) and OpenNMT-py (2,008); we add an output bias, Joey does not."""
    counts = {}
    for vocab in (2004, 2008):
        for name, values in (("attention", PEER_LSTM), ("transformer", PEER_TRANSFORMER)):
            config = ARCHITECTURES.build_config(name, values, "model")
            counts[name, vocab] = build_model(name, config, vocab, vocab).num_parameters()
    assert counts["attention", 2004] == 2_985_472 + 2004  # Joey NMT
    assert counts["transformer", 2004] == 5_226_496 + 2004  # Joey NMT
    assert counts["attention", 2008] == 2_990_808 - 256  # OpenNMT-py, whose MLP attention has a query bias


# --- learning -------------------------------------------------------------------------------------------------

def reverse_batch(batch: int, gen: torch.Generator):
    """Random sequences of 3-8 symbols and their reversal: src (B, S), tgt_in (BOS ...), tgt_out (... EOS)."""
    lengths = torch.randint(3, 9, (batch,), generator=gen).tolist()
    rows = random_batch(batch, VOCAB, lengths, gen)
    src, src_len = pad(rows)
    tgt_in, _ = pad([[BOS_ID] + r[::-1] for r in rows])
    tgt_out, _ = pad([r[::-1] + [EOS_ID] for r in rows])
    return src, src_len, tgt_in, tgt_out


# (config, Adam learning rate, steps of 128 sentences): each reaches >= 0.95 with a margin, in seconds on 2 cores.
LEARN = {
    "rnn": ({"embed": 32, "hidden": 128, "layers": 1, "dropout": 0.0}, 5e-3, 300),
    "lstm": ({"embed": 32, "hidden": 128, "layers": 1, "dropout": 0.0}, 1e-2, 125),
    "gru": ({"embed": 32, "hidden": 128, "layers": 1, "dropout": 0.0}, 5e-3, 300),
    "attention": ({"embed": 32, "encoder_hidden": 32, "encoder_layers": 1, "hidden": 64, "decoder_layers": 1,
                   "dropout": 0.0}, 1e-2, 100),
    "transformer": ({"d_model": 64, "heads": 4, "ffn": 128, "encoder_layers": 1, "decoder_layers": 1,
                     "dropout": 0.0}, 5e-3, 200),
}


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_learns_to_reverse(name):
    values, lr, steps = LEARN[name]
    torch.manual_seed(0)
    model = build_model(name, ARCHITECTURES.build_config(name, values, "model"), VOCAB, VOCAB)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        src, src_len, tgt_in, tgt_out = reverse_batch(128, gen)
        logits = model(src, src_len, tgt_in)  # (B, T, V)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt_out, ignore_index=PAD_ID)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    model.eval()
    src, src_len, tgt_in, tgt_out = reverse_batch(256, torch.Generator().manual_seed(5))  # unseen sentences
    with torch.no_grad():
        predicted = model(src, src_len, tgt_in).argmax(-1)  # (B, T)
    real = tgt_out != PAD_ID
    accuracy = (predicted[real] == tgt_out[real]).float().mean().item()
    assert accuracy >= 0.95, f"{name}: accuracy {accuracy:.3f} after {steps} steps ({time.perf_counter() - start:.1f}s)"


def test_one_query_attention_equals_the_fused_kernel():
    import torch.nn.functional as F

    from s2s.models.transformer import one_query_attention

    torch.manual_seed(0)
    q, k, v = torch.randn(3, 4, 1, 8), torch.randn(3, 4, 6, 8), torch.randn(3, 4, 6, 8)  # (B, h, 1|t, dh)
    mask = (torch.arange(6) < torch.tensor([6, 4, 1]).unsqueeze(1))[:, None, None, :]  # (B, 1, 1, t)
    y, weights = one_query_attention(q, k, v, mask)
    torch.testing.assert_close(y, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6, rtol=1e-5)
    assert (weights.masked_select(~mask.expand_as(weights)) == 0).all()  # padding gets exactly 0
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, 1))
