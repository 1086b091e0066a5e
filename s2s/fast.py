"""Machine-specific speed work, in one place and applied explicitly: the models stay as the papers write them.

`resolve_precision` turns `train.precision: auto` into bf16 where the hardware has it. `mixed_precision(device,
precision)` is the context a training step runs in. For `bf16` on the CPU it is
autocast plus one exception: scaled dot-product attention runs in float32. On AVX512-BF16 CPUs the matrix products
gain about 3x in bf16, but torch's fused CPU attention does not: its backward took 3.5x longer in bf16 than in
float32 (bench/README.md, "bf16 on the CPU"), which ate most of what the products gained. On CUDA, bf16 and fp16
attention are the fast path, so there autocast is left as it is.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode


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

    Emulated bf16 is slower than fp32, so `auto` asks: on the CPU, AVX512-BF16 or AMX (the Transformer recipe
    trained 1.68x faster in bf16 than in fp32 on AVX512-BF16; bench/README.md); on CUDA, `is_bf16_supported`."""
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
