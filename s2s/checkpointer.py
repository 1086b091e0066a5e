"""`Checkpointer`: writes a training run's checkpoints and knows when the next `last` is due; `load_for_resume`
reads `last` back, refused when the data or a recipe key that shapes the trajectory has changed.

A run keeps `last.pt` (resumable: weights, optimiser and `TrainState`), `best.pt` (the best validation so far)
and, with `train.keep_last: N`, the weights of the last N validations as `step-<N>.pt` for `s2s average`.
Every checkpoint also carries what `translate` needs: the resolved recipe and both vocabularies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from s2s.checkpoint import (Checkpoint, CheckpointInfo, TrainingRecord, load_checkpoint, prune_step_checkpoints,
                            save_checkpoint)
from s2s.config import Recipe, TrainConfig, recipe_to_dict
from s2s.distributed import World
from s2s.errors import S2SError
from s2s.models.base import Seq2Seq
from s2s.trainstate import TrainState

# Recipe keys that may change between a run and its resumption: they do not change the training trajectory.
RESUMABLE_CHANGES = {"max_steps", "max_epochs", "patience", "log_every", "valid_every", "valid_bleu",
                     "valid_max_sentences", "device", "threads", "save_every", "save_every_minutes", "max_time",
                     "keep_last"}


@dataclass(frozen=True)
class RunIdentity:
    """What every checkpoint of a run carries besides its weights: the recipe, the data and its vocabularies."""

    recipe: Recipe  # resolved: with the data directory and direction the run really uses
    src_lang: str
    tgt_lang: str
    src_vocab: bytes
    tgt_vocab: bytes
    data_dir: str
    vocab_fingerprint: str


class Checkpointer:
    """Saves `model`, `optimizer` and the RNG states with a `TrainState` into `ckpt_dir` (on the main rank only)."""

    def __init__(self, ckpt_dir: Path, run: RunIdentity, model: Seq2Seq, optimizer: torch.optim.Optimizer,
                 mixer_rng: torch.Generator, world: World, cfg: TrainConfig, start_step: int):
        self.ckpt_dir, self.run, self.model, self.optimizer = ckpt_dir, run, model, optimizer
        self.mixer_rng, self.world, self.cfg = mixer_rng, world, cfg
        self.saved_step = start_step  # the last step a resumable checkpoint holds
        self.saved_at = time.monotonic()  # when `last` was last written

    def save(self, name: str, state: TrainState, resumable: bool = True) -> None:
        """Write checkpoints/NAME.pt; `resumable=False` leaves out the optimiser and state (weights to average)."""
        if resumable:
            self.saved_step = state.step
        if name == "last":
            self.saved_at = time.monotonic()
        if not self.world.is_main:
            return
        state.rng = {"torch": torch.get_rng_state(), "mixer": self.mixer_rng.get_state()}
        run = {f.name: getattr(self.run, f.name) for f in fields(self.run)}
        save_checkpoint(Checkpoint(
            **run, model_state={k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            training=TrainingRecord(self.optimizer.state_dict(), state, self.world.size) if resumable else None,
            info=CheckpointInfo(self.model.num_parameters(), state.train_seconds, state.tokens_seen, state.step),
        ), self.ckpt_dir / f"{name}.pt")

    def due(self, state: TrainState) -> bool:
        """Whether `save_every` steps or `save_every_minutes` have passed since `last` was written."""
        cfg = self.cfg
        return bool(cfg.save_every and state.step % cfg.save_every == 0
                    or cfg.save_every_minutes and time.monotonic() - self.saved_at >= 60 * cfg.save_every_minutes)

    def save_validated(self, state: TrainState) -> None:
        """After a validation: `last`, and the step's weights when the recipe keeps the last N for averaging."""
        self.save("last", state)
        if self.cfg.keep_last:
            self.save(f"step-{state.step}", state, resumable=False)
            if self.world.is_main:
                prune_step_checkpoints(self.ckpt_dir, self.cfg.keep_last)


def load_resumable(run_dir: Path) -> Checkpoint:
    """The `last` checkpoint of `run_dir`, which must hold the training state to go on from."""
    path = Path(run_dir) / "checkpoints" / "last.pt"
    if not path.is_file():
        raise S2SError(f"{path}: nothing to resume (no last checkpoint in this run directory)")
    ckpt = load_checkpoint(path)
    if ckpt.training is None:
        raise S2SError(f"{path}: not a resumable checkpoint (it holds no training state)")
    return ckpt


def load_for_resume(run_dir: Path, recipe: Recipe, fingerprint: str) -> Checkpoint:
    """`load_resumable`, refused when the data or a recipe key that shapes the trajectory has changed."""
    ckpt = load_resumable(run_dir)
    if ckpt.vocab_fingerprint != fingerprint:
        raise S2SError(f"{ckpt.source}: the data directory's vocabularies differ from the ones this run was trained "
                       f"with ({ckpt.src_lang}->{ckpt.tgt_lang} on {ckpt.data_dir}); resume it on that data")
    stored, current = recipe_to_dict(ckpt.recipe), recipe_to_dict(recipe)
    for section in current:
        for key, value in current[section].items():
            if section == "train" and key in RESUMABLE_CHANGES or (section, key) == ("data", "dir"):
                continue  # (data.dir may move: the vocabulary fingerprint above checks it is the same data)
            used = stored.get(section, {}).get(key)
            if section == "data" and key in ("src", "tgt") and used is None:  # runs that did not record it
                used = ckpt.src_lang if key == "src" else ckpt.tgt_lang
            if used != value:
                raise S2SError(f"{section}.{key}: is {value!r} but the run being resumed used {used!r}")
    return ckpt
