"""`Linear`: `nn.Linear` whose float32 CPU products at inference run through oneDNN instead of the default BLAS.

torch 2.13's CPU `addmm` goes to MKL, and on this project's machine (AMD EPYC, 2 cores) MKL's fp32 GEMM is
slow for the shapes these models have: x (rows, 256) against a (256, 2,004) output layer runs at 104 GFLOP/s
in MKL and 189 in oneDNN, and a 320-row decoding step's products take 20-45% less time (bench/README.md,
"Where the time goes"). torch ships oneDNN's linear as `torch.ops.mkldnn._linear_pointwise`, the kernel its own
compiler emits for CPU linears; this module calls it when decoding.

Training keeps `F.linear`. oneDNN builds and keeps a kernel for every new input shape (about 1 MiB each), and a
training run meets a new row count (sentences x padded length) with every batch length: over the 300 steps of
the peer benchmark's Transformer that held 250 MiB more at the peak (1,009 against 750 MiB), for steps no
faster (217 against 210 ms, in-process A/B; the attention LSTM 157 against 154). bench/README.md has the figures.

Same function, same precision (fp32 throughout; results agree with `F.linear` to float rounding, tested), same
parameters and state-dict keys as `nn.Linear`, so checkpoints do not change. Anywhere else -- CUDA, autocast,
another dtype, a torch without the kernel -- it is plain `F.linear`.
"""

from __future__ import annotations

import contextlib
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


_enabled = True


@contextlib.contextmanager
def onednn_products(enabled: bool):
    """Turn the oneDNN path on or off inside the block (it is on by default).

    The training loop turns it off for its validations: they decode the dev set in the training process, whose
    memory is what a long run is judged by, and oneDNN's kernels for the dev set's shapes stayed resident there
    (1,000 steps validated every 250: peak 943 MiB with them, 701 without; bench/README.md).
    """
    global _enabled
    before, _enabled = _enabled, enabled
    try:
        yield
    finally:
        _enabled = before


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """`F.linear`, through oneDNN when nothing needs a gradient and the kernel applies (see the module docstring)."""
    if (x.device.type != "cpu" or x.dtype != torch.float32 or weight.dtype != torch.float32
            or torch.is_autocast_enabled("cpu") or x.numel() == 0 or not _enabled or not onednn_available()
            or (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad
                                             or (bias is not None and bias.requires_grad)))):
        return F.linear(x, weight, bias)
    return _onednn(x, weight, bias)


class Linear(nn.Linear):
    """`nn.Linear` computed by `linear`: a drop-in replacement, with the same parameters and state-dict keys."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
