"""The optimiser and its learning rate, a pure function of the step (so resume needs no scheduler object)."""

from __future__ import annotations

import math

import torch

from s2s.config import TrainConfig


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW, fused: one kernel per parameter instead of a dozen `_foreach` passes over all of them.

    A shorter Transformer step on the CPU (bench/README.md); torch supports fused updates on CPU and CUDA alike.
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

