"""Where a training run stands (`TrainState`) and how it is interrupted safely.

`TrainState` holds the update step, the data position, RNG states, the logging window and early-stopping
figures; the `last` checkpoint stores it beside the model and optimiser, so `--resume` continues exactly where a
run stopped: the same batches, dropout masks, schedule values and logged losses.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass, field
from typing import Optional

import torch

from s2s.config import TrainConfig


@dataclass
class TrainState:
    """Where training stands; with the model and optimiser it is everything `--resume` needs."""

    step: int = 0  # optimiser updates done
    epoch: int = 0
    batch_in_epoch: int = 0  # the next global batch of the epoch's deterministic order
    best: Optional[float] = None  # best validation metric so far (higher is better; loss is negated)
    validations_since_best: int = 0
    plateau_scale: float = 1.0
    tokens_seen: int = 0
    train_seconds: float = 0.0
    last_good_checkpoint: str = ""
    rng: dict = field(default_factory=dict)
    # The logged loss is a mean over `log_every` updates: a window cut by an interruption continues on resume.
    window_loss: float = 0.0
    window_steps: int = 0
    window_tokens: int = 0
    window_seconds: float = 0.0  # training time of the window's updates: its tokens/s, across a resume too
    valid_pending: bool = False  # the validation due at `step` has not finished (an interrupt cut it)
    last_valid_step: int = -1

    def count_update(self, loss_sum: float, tokens: int, seconds: float) -> None:
        """An applied update: its summed loss, its source and target tokens, its training time."""
        self.tokens_seen += tokens
        self.train_seconds += seconds
        self.window_tokens += tokens
        self.window_loss += loss_sum
        self.window_steps += 1
        self.window_seconds += seconds

    def close_window(self) -> tuple[float, float]:
        """The window's mean loss per update and tokens per second; the next window starts empty."""
        mean_loss = self.window_loss / max(self.window_steps, 1)
        rate = self.window_tokens / max(self.window_seconds, 1e-9)
        self.window_loss, self.window_steps, self.window_tokens, self.window_seconds = 0.0, 0, 0, 0.0
        return mean_loss, rate

    def count_validation(self, metric: float, cfg: TrainConfig) -> bool:
        """Whether `metric` (higher is better) is the best yet; otherwise the plateau schedule may lower the rate."""
        improved = self.best is None or metric > self.best
        if improved:
            self.best, self.validations_since_best = metric, 0
        else:
            self.validations_since_best += 1
            if cfg.lr_schedule == "plateau" and self.validations_since_best % cfg.plateau_patience == 0:
                self.plateau_scale *= cfg.plateau_factor
        return improved


class Interrupts:
    """SIGINT and SIGTERM as KeyboardInterrupt, held back while an update is applied, logged and saved.

    An interrupt during the forward and backward passes rewinds to the update's start (nothing of it was
    applied); one while the update is being applied would leave the weights, the state and the log disagreeing,
    so it waits until that short section ends. A killed job (SIGTERM from a scheduler) then saves a resumable
    checkpoint exactly as Ctrl-C does.
    """

    def __init__(self):
        self._holding, self._pending, self._old = False, False, {}

    def __enter__(self) -> "Interrupts":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum, frame) -> None:
        if self._holding:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self):
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            if self._pending:
                self._pending = False
                raise KeyboardInterrupt


@dataclass(frozen=True)
class UpdateStart:
    """Where an update began: restored when an interrupt cuts it, so the resumed run redoes it as it was."""

    epoch: int
    batch_in_epoch: int
    torch_rng: torch.Tensor
    mixer_rng: torch.Tensor

    @classmethod
    def mark(cls, state: TrainState, mixer_rng: torch.Generator) -> "UpdateStart":
        return cls(state.epoch, state.batch_in_epoch, torch.get_rng_state(), mixer_rng.get_state())

    def restore(self, state: TrainState, mixer_rng: torch.Generator) -> None:
        state.epoch, state.batch_in_epoch = self.epoch, self.batch_in_epoch
        torch.set_rng_state(self.torch_rng)
        mixer_rng.set_state(self.mixer_rng)
