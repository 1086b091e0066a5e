"""`Linear`: `nn.Linear` whose float32 CPU products run through oneDNN instead of the default BLAS.

torch 2.13's CPU `addmm` goes to MKL, and on this project's machine (AMD EPYC, 2 cores) MKL's fp32 GEMM is
slow for the shapes these models have: x (rows, 256) against a (256, 2,004) output layer runs at 104 GFLOP/s
in MKL and 189 in oneDNN, and a 320-row decoding step's products take 20-45% less time (bench/README.md,
"Where the time goes"). torch ships oneDNN's linear as `torch.ops.mkldnn._linear_pointwise`, the kernel its own
compiler emits for CPU linears; this module calls it for the forward product and for the input gradient
(g · W), where it is also faster, and keeps torch's `mm` for the weight gradient (gᵀ · x), where it is not.

Same function, same precision (fp32 throughout; results agree with `F.linear` to float rounding, tested), same
parameters and state-dict keys as `nn.Linear`, so checkpoints do not change. Anywhere else -- CUDA, autocast,
another dtype, a torch without the kernel -- it is plain `F.linear`.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _onednn(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


@functools.cache
def onednn_available() -> bool:
    """Whether this torch has oneDNN's linear kernel and it computes what `F.linear` does (checked once)."""
    if not torch.backends.mkldnn.is_available() or not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        return False
    try:
        gen = torch.Generator().manual_seed(0)
        x, w, b = torch.randn(3, 5, 8, generator=gen), torch.randn(6, 8, generator=gen), torch.randn(6, generator=gen)
        return torch.allclose(_onednn(x, w, b), F.linear(x, w, b), atol=1e-5)
    except RuntimeError:
        return False


class _OneDNNLinear(torch.autograd.Function):
    """y = x Wᵀ + b with oneDNN for the forward product and the input gradient."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _onednn(grad, weight.t(), None)  # g · W: "a linear layer with weight Wᵀ"
        flat = grad.reshape(-1, grad.size(-1))  # (N, out)
        if ctx.needs_input_grad[1]:
            grad_w = flat.t().mm(x.reshape(-1, x.size(-1)))  # (out, in)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = flat.sum(0)
        return grad_x, grad_w, grad_b


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """`F.linear`, through oneDNN where that is the same computation and faster (see the module docstring)."""
    if (x.device.type != "cpu" or x.dtype != torch.float32 or weight.dtype != torch.float32
            or torch.is_autocast_enabled("cpu") or x.numel() == 0 or not onednn_available()):
        return F.linear(x, weight, bias)
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad
                                    or (bias is not None and bias.requires_grad)):
        return _OneDNNLinear.apply(x, weight, bias)
    return _onednn(x, weight, bias)


class Linear(nn.Linear):
    """`nn.Linear` computed by `linear`: a drop-in replacement, with the same parameters and state-dict keys."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
