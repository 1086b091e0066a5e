"""s2s/fast.py: the machine-specific speed work computes what the plain formulas compute."""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
