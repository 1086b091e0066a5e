"""The optimiser and its learning rate, a pure function of the step (so resume needs no scheduler object)."""

from __future__ import annotations

import math

import torch

from s2s.config import TrainConfig


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW, fused: one kernel per parameter instead of a dozen `_foreach` passes over all of them.

    On 2 CPU cores the peer benchmark's Transformer step took 229 -> 210 ms (median of 3 alternating runs), though
    a whole 300-step run did not show it above the machine's noise (bench/README.md); torch supports fused
    updates on CPU and CUDA alike.
    """
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=True)


def learning_rate(cfg: TrainConfig, step: int, plateau_scale: float = 1.0) -> float:
    """The learning rate for update number `step` (1-based).

    noam ("Attention Is All You Need", eq. 3) is scaled so that it peaks at `lr` after `warmup_steps`:
    lr * min(step / warmup, sqrt(warmup / step)). plateau multiplies `lr` by `plateau_scale`, which the loop
    lowers when validation stops improving.
    """
    if cfg.lr_schedule == "noam":
        step = max(step, 1)
        return cfg.lr * min(step / cfg.warmup_steps, math.sqrt(cfg.warmup_steps / step))
    if cfg.lr_schedule == "plateau":
        return cfg.lr * plateau_scale
    return cfg.lr


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def clip_gradients(parameters, max_norm: float) -> None:
    """Scale the gradients down to a total L2 norm of `max_norm` when they exceed it (`clip_grad_norm_`).

    torch's version always multiplies every gradient by min(1, max_norm / norm), so as not to wait for the norm
    on a GPU; on the CPU the norm is already known, and skipping that pass over all 5M gradients when it is not
    needed (most steps, once training settles) saves ~2% of a Transformer step (bench/README.md).
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
