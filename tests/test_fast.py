"""s2s/fast.py: the machine-specific speed work computes what the plain formulas compute."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from s2s import fast
from s2s.fast import Float32Attention, mixed_precision


def test_cpu_bf16_keeps_attention_in_float32_and_its_gradient_flows():
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 7, 16, generator=gen, requires_grad=True) for _ in range(3))
    reference = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    with mixed_precision(torch.device("cpu"), "bf16"):
        projected = torch.nn.functional.linear(q, torch.eye(16))  # an autocast product: bf16 out
        assert projected.dtype == torch.bfloat16
        y = F.scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), is_causal=True)
    assert y.dtype == torch.float32  # computed in float32 from the bf16 inputs
    expected = F.scaled_dot_product_attention(q.bfloat16().float(), k.bfloat16().float(), v.bfloat16().float(),
                                              is_causal=True)
    assert torch.equal(y, expected)
    assert torch.allclose(y, reference, atol=0.05)
    y.sum().backward()
    assert q.grad is not None and q.grad.dtype == torch.float32 and torch.isfinite(q.grad).all()


def test_plain_autocast_outside_the_mode_and_fp32_untouched():
    q = torch.randn(1, 2, 3, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert F.scaled_dot_product_attention(q.bfloat16(), q.bfloat16(), q.bfloat16()).dtype == torch.bfloat16
    with mixed_precision(torch.device("cpu"), "fp32"):
        assert torch.nn.functional.linear(q, torch.eye(8)).dtype == torch.float32
    with Float32Attention():
        assert torch.equal(F.scaled_dot_product_attention(q, q, q), F.scaled_dot_product_attention(q, q, q))


def test_auto_precision_is_bf16_only_where_the_cpu_has_it(monkeypatch):
    from s2s.fast import resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert resolve_precision("auto", cpu) == "fp32"  # emulated bf16 would be slower than fp32
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert resolve_precision("auto", cpu) == "bf16"


@pytest.mark.parametrize("scale", [0.1, 10.0])  # under the limit: untouched; over it: scaled to the limit
def test_clip_gradients_equals_clip_grad_norm(scale):
    from s2s.fast import clip_gradients

    gen = torch.Generator().manual_seed(3)
    ours = [torch.nn.Parameter(torch.randn(7, 5, generator=gen)) for _ in range(3)]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    for a, b in zip(ours, theirs):
        a.grad = torch.randn(a.shape, generator=gen) * scale
        b.grad = a.grad.clone()
    clip_gradients(ours, 5.0)
    torch.nn.utils.clip_grad_norm_(theirs, 5.0)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad)
    assert (torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours])) <= 5.0 + 1e-4).item()


# ---- each module swap computes what the plain module it replaces computes ---------------------------------------

def test_sigmoid_tanh_equals_torch_tanh():
    x = torch.cat([torch.linspace(-60, 60, 20001), torch.randn(1000) * 1e-4])  # saturated ends and near 0
    torch.testing.assert_close(fast.sigmoid_tanh(x), torch.tanh(x), atol=3e-7, rtol=0)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(fast.sigmoid_tanh(x).sum(), x)
    torch.testing.assert_close(grad, 1 - torch.tanh(x.detach()) ** 2, atol=1e-6, rtol=0)


@pytest.mark.parametrize("score", ["bahdanau", "general", "dot"])
def test_fast_attention_equals_the_papers_formula(score):
    from s2s.models.attention import Attention

    torch.manual_seed(0)
    plain = Attention(score, 12, 12)
    swapped = fast.for_training(nn.ModuleList([Attention(score, 12, 12)]))[0]
    swapped.load_state_dict(plain.state_dict())
    assert type(swapped) is fast.SigmoidAdditiveAttention
    query, memory = torch.randn(3, 2, 12), torch.randn(3, 5, 12)  # (B, T, H), (B, S, De)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] * 1 + [False] * 4])
    keys = plain.keys(memory) if score != "dot" else memory  # "dot" scores against the memory itself
    context, weights = swapped(query, keys, memory, mask)
    want_context, want_weights = plain(query, keys, memory, mask)
    torch.testing.assert_close(weights, want_weights, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(context, want_context, atol=1e-6, rtol=1e-5)
    assert (weights[1, :, 3:] == 0).all()  # padding gets exactly 0


def test_uniform_dropout_drops_p_and_rescales_the_rest():
    dropout, x = fast.for_training(nn.Sequential(nn.Dropout(0.1)))[0], torch.full((200, 500), 3.0)
    assert type(dropout) is fast.UniformDropout
    torch.manual_seed(5)
    y = dropout(x)
    assert abs((y == 0).float().mean().item() - 0.1) < 0.005  # 100,000 draws: 0.005 is 5 standard deviations
    torch.testing.assert_close(y[y != 0], torch.full_like(y[y != 0], 3.0 / 0.9))
    torch.manual_seed(5)
    assert torch.equal(dropout(x), y)  # the seed fixes the mask
    assert dropout.eval()(x) is x


@pytest.mark.parametrize("onednn", [False, True])
def test_fast_lstm_step_equals_torch_lstm_cell(onednn):
    from s2s.models.layers import CellStep

    step = fast.FastCellStep()
    step.onednn = onednn
    torch.manual_seed(0)
    x, h, c = torch.randn(5, 12, requires_grad=True), torch.randn(5, 8), torch.randn(5, 8)
    weights = [torch.randn(32, 12), torch.randn(32, 8), torch.randn(32), torch.randn(32)]
    weights = [w.requires_grad_(True) for w in weights]
    ours, theirs = step(x, h, c, weights), CellStep()(x, h, c, weights)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    inputs = [x, *weights]
    ours_grad = torch.autograd.grad(ours[0].sum() + 2 * ours[1].sum(), inputs)
    for a, b in zip(ours_grad, torch.autograd.grad(theirs[0].sum() + 2 * theirs[1].sum(), inputs)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    gru = [torch.randn(24, 12), torch.randn(24, 8), torch.randn(24), torch.randn(24)]  # a GRU step is torch's
    assert torch.equal(step(x, h, None, gru)[0], torch.gru_cell(x, h, *gru))


def test_onednn_linear_at_inference_f_linear_where_a_gradient_is_needed(monkeypatch):
    torch.manual_seed(0)
    layer = fast.for_decoding(nn.Sequential(nn.Linear(24, 40)))[0]
    plain = nn.Linear(24, 40)
    plain.load_state_dict(layer.state_dict())
    assert type(layer) is (fast.OneDNNLinear if fast.onednn_available() else nn.Linear)
    assert list(layer.state_dict()) == ["weight", "bias"]  # checkpoints do not change
    x = torch.randn(3, 7, 24, requires_grad=True)  # (B, T, in)
    torch.testing.assert_close(layer(x), plain(x), atol=1e-5, rtol=1e-5)
    upstream = torch.randn(3, 7, 40)
    for got, want in zip(torch.autograd.grad(layer(x), [x, layer.weight], upstream),
                         torch.autograd.grad(plain(x), [x, plain.weight], upstream)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # the inference path, on a non-contiguous input
        rows = x.detach()[:, ::2]
        torch.testing.assert_close(layer(rows), plain(rows), atol=1e-5, rtol=1e-5)
    used = []
    monkeypatch.setattr(fast, "_onednn", lambda *args: used.append(1) or F.linear(*args))
    with torch.no_grad():
        layer(rows)
    layer(x).sum().backward()  # a gradient is needed: F.linear
    assert len(used) == (1 if fast.onednn_available() else 0)
    assert x.grad is not None and torch.isfinite(x.grad).all()
    with torch.no_grad():
        wide = fast.for_decoding(nn.Sequential(nn.Linear(24, 40).double()))[0]  # another dtype: F.linear
        torch.testing.assert_close(wide(rows.double()), F.linear(rows.double(), wide.weight, wide.bias))
    assert len(used) == (1 if fast.onednn_available() else 0)


@pytest.mark.parametrize("arch,values", [
    ("lstm", {"embed": 16, "hidden": 24, "layers": 2, "bidirectional": True}),
    ("attention", {"cell": "lstm", "embed": 16, "encoder_hidden": 12, "hidden": 24, "encoder_layers": 1,
                   "decoder_layers": 2}),
    ("attention", {"cell": "gru", "attention": "general", "embed": 16, "encoder_hidden": 12, "hidden": 24}),
    ("transformer", {"d_model": 32, "heads": 4, "ffn": 64, "encoder_layers": 2, "decoder_layers": 2}),
])
def test_a_model_prepared_for_decoding_computes_what_the_plain_model_does(arch, values):
    """Every architecture gets the fast path by its modules alone: the same logits, the same state dict."""
    from s2s.models.base import build_model
    from s2s.registry import ARCHITECTURES

    config = ARCHITECTURES.build_config(arch, {"dropout": 0.0, **values}, "model")
    torch.manual_seed(0)
    plain = build_model(arch, config, 50, 50).eval()
    swapped = build_model(arch, config, 50, 50)
    swapped.load_state_dict(plain.state_dict())
    fast.for_decoding(swapped.eval())
    assert list(swapped.state_dict()) == list(plain.state_dict())
    assert any(type(m).__module__ == "s2s.fast" for m in swapped.modules())
    src = torch.randint(4, 50, (3, 7))
    lengths = torch.tensor([7, 5, 2])
    tgt_in = torch.randint(4, 50, (3, 6))
    with torch.no_grad():
        torch.testing.assert_close(swapped(src, lengths, tgt_in), plain(src, lengths, tgt_in), atol=2e-5, rtol=1e-4)
