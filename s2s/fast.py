"""Machine-specific speed work, in one place and applied explicitly: the models stay as the papers write them.

The models use `nn.Linear`, `nn.Dropout`, `nn.Tanh`, torch's `lstm_cell` and the attention formulas as printed.
`for_training(model)` and `for_decoding(model)` swap some of those modules, in place and by their exact class, for
versions that compute the same function faster on the CPU (each is tested against the module it replaces, in
tests/test_fast.py; figures in bench/README.md, "Where the time goes"). A swapped module keeps its parameters
and state-dict keys, so checkpoints do not change, and a new architecture built from these modules gets the fast
path without knowing about it. What each buys, on the x86 CPUs torch 2.13 ships MKL and oneDNN for (measured
on a 2-core AMD EPYC with AVX-512; the figures are in bench/README.md, "Where the time goes"):

- `UniformDropout` for `nn.Dropout`: the mask drawn as uniforms >= p, about twice as fast as `bernoulli_`;
  dropout masks were the largest cost after the products in a Transformer training step.
- `SigmoidTanh` for `nn.Tanh`: tanh(x) = 2·sigmoid(2x) - 1, several times faster than the CPU `tanh` kernel.
- `SigmoidAdditiveAttention` for Bahdanau's `Attention`: v·tanh(z) = 2v·sigmoid(2z) - sum(v), worked in place on
  the largest tensor a decoding step makes, so no second tensor of its size is allocated at every step.
- `FastCellStep` for `CellStep`: the LSTM step written out, so that its tanh and (when decoding) its products
  take the kernels above.
- `OneDNNLinear` for `nn.Linear`, when decoding only: oneDNN's fp32 GEMM is nearly twice MKL's on these shapes.
  Not in training: oneDNN keeps a kernel per input shape, which made a run's peak memory grow for steps no
  faster, and validation decodes in the training process, whose memory is what a long run is judged by.

`resolve_precision` turns `train.precision: auto` into bf16 where the hardware has it. `mixed_precision(device,
precision)` is the context a training step runs in. For `bf16` on the CPU it is autocast plus one exception:
scaled dot-product attention runs in float32. On AVX512-BF16 CPUs the matrix products gain severalfold in bf16,
but torch's fused CPU attention does not: its bf16 backward is slower than its float32 one, which ate most of
what the products gained. On CUDA, bf16 and fp16 attention are the fast path, so there autocast is left as it is.
`clip_gradients` is `clip_grad_norm_` without its multiply on the steps that need no clipping.
"""

from __future__ import annotations

import contextlib
import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from s2s.models.attention import Attention
from s2s.models.layers import CellStep


# ---- the module swaps ----------------------------------------------------------------------------------------

def sigmoid_tanh(x: Tensor) -> Tensor:
    """tanh(x) as 2·sigmoid(2x) - 1: the same function (to 2e-7), several times faster on the CPU."""
    return torch.sigmoid(2 * x) * 2 - 1


class SigmoidTanh(nn.Tanh):
    def forward(self, x: Tensor) -> Tensor:
        return sigmoid_tanh(x)


class UniformDropout(nn.Dropout):
    """Inverted dropout as `nn.Dropout`, the mask drawn as uniforms >= p: same distribution, another random stream."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        # the mask as floats in one buffer: 0 or 1/(1-p); a bool mask cost two more passes to convert and scale
        return x * torch.empty_like(x).uniform_().ge_(self.p).mul_(1.0 / (1.0 - self.p))


class SigmoidAdditiveAttention(Attention):
    """Bahdanau's score v·tanh(z) as 2v·sigmoid(2z) - sum(v), in place on z; Luong's scores as they are."""

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        if self.energy is None:
            return super().scores(query, keys)
        z = self.additive(query, keys)  # (B, T, S, H) W_q q + W_k m
        v = self.energy.weight[0]  # (H,)
        return z.mul_(2).sigmoid_() @ (2 * v) - v.sum()  # (B, T, S)


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


def onednn_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """`F.linear`, through oneDNN where nothing needs a gradient and the inputs are CPU float32 (else `F.linear`)."""
    if (x.device.type != "cpu" or x.dtype != torch.float32 or weight.dtype != torch.float32
            or torch.is_autocast_enabled("cpu") or x.numel() == 0 or not onednn_available()
            or (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad
                                             or (bias is not None and bias.requires_grad)))):
        return F.linear(x, weight, bias)
    return _onednn(x, weight, bias)


class OneDNNLinear(nn.Linear):
    def forward(self, x: Tensor) -> Tensor:
        return onednn_linear(x, self.weight, self.bias)


class FastCellStep(CellStep):
    """An LSTM step as `torch.lstm_cell` computes it (gate order i, f, g, o), with `sigmoid_tanh` and, when
    decoding, `onednn_linear` products; a GRU step stays `torch.gru_cell`."""

    onednn = False  # set by `for_decoding`

    def forward(self, x: Tensor, h: Tensor, c: Tensor | None, weights: list[Tensor]) -> tuple[Tensor, Tensor | None]:
        if c is None:
            return super().forward(x, h, c, weights)
        w_ih, w_hh, b_ih, b_hh = weights
        product = onednn_linear if self.onednn else F.linear
        i, f, g, o = (product(x, w_ih, b_ih) + product(h, w_hh, b_hh)).chunk(4, dim=1)  # (B, H) each
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * sigmoid_tanh(g)  # (B, H)
        return torch.sigmoid(o) * sigmoid_tanh(c), c


SWAPS: dict[type[nn.Module], type[nn.Module]] = {
    nn.Dropout: UniformDropout, nn.Tanh: SigmoidTanh, Attention: SigmoidAdditiveAttention, CellStep: FastCellStep,
}


def for_training(model: nn.Module) -> nn.Module:
    """`model` with the CPU kernels above swapped in (in place), for training and the validations beside it."""
    for module in model.modules():
        fast = SWAPS.get(type(module))
        if fast is not None:
            module.__class__ = fast
    return model


def for_decoding(model: nn.Module) -> nn.Module:
    """`for_training`, and oneDNN's products for every linear layer (and LSTM step) when they apply."""
    for_training(model)
    if onednn_available():
        for module in model.modules():
            if type(module) is nn.Linear:
                module.__class__ = OneDNNLinear
            elif isinstance(module, FastCellStep):
                module.onednn = True
    return model


# ---- the training step ---------------------------------------------------------------------------------------

class Float32Attention(TorchFunctionMode):
    """Inside it, `F.scaled_dot_product_attention` computes in float32 whatever autocast would choose.

    A function mode is scoped to its `with` block (no process-wide switch) and sees the call before autocast does,
    so the attention's forward -- and hence the backward autograd records for it -- are float32; the tensor it
    returns is float32, which the next autocast product casts down again.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            q, k, v, *rest = args
            with torch.autocast(q.device.type, enabled=False):
                return func(q.float(), k.float(), v.float(), *rest, **kwargs)
        return func(*args, **kwargs)


def resolve_precision(precision: str, device: torch.device) -> str:
    """`train.precision: auto` made concrete: bf16 where the hardware computes it natively, else fp32.

    Emulated bf16 is slower than fp32, so `auto` asks: on the CPU, AVX512-BF16 or AMX (where the Transformer
    recipe trains much faster in bf16; bench/README.md); on CUDA, `is_bf16_supported`."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        native = [getattr(torch.cpu, name, lambda: False) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return "bf16" if any(check() for check in native) else "fp32"
    return "fp32"


def mixed_precision(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for `train.precision` on `device` (fp32: none), with the CPU's float32 attention."""
    if precision == "fp32":
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if device.type != "cpu":
        return torch.autocast(device.type, dtype=dtype)
    stack = contextlib.ExitStack()
    stack.enter_context(torch.autocast("cpu", dtype=dtype))
    stack.enter_context(Float32Attention())
    return stack


def clip_gradients(parameters, max_norm: float) -> None:
    """Scale the gradients down to a total L2 norm of `max_norm` when they exceed it (`clip_grad_norm_`).

    torch's version always multiplies every gradient by min(1, max_norm / norm), so as not to wait for the norm
    on a GPU; on the CPU the norm is already known, and skipping that pass over all the gradients when it is not
    needed (most steps, once training settles) saves a little of every step.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    if grads[0].device.type != "cpu":
        torch.nn.utils.clip_grads_with_norm_(grads, max_norm, torch.nn.utils.get_total_norm(grads))
        return
    total = float(torch.nn.utils.get_total_norm(grads))
    if total > max_norm:
        torch._foreach_mul_(grads, max_norm / (total + 1e-6))
