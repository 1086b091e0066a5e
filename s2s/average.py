"""Checkpoint averaging: the element-wise mean of the weights a run had at its last few validations.

Averaging the last checkpoints of a run smooths out the noise of the final updates, and usually scores better
than any one of them (Vaswani et al. 2017 average the last 5 or 20; fairseq's `average_checkpoints.py`,
OpenNMT-py's `average_models.py`, Sockeye and Marian all have it). Training keeps what it needs when the recipe
asks: `train.keep_last: N` leaves `checkpoints/step-<step>.pt` (weights only) for the last N validations.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

from s2s.checkpoint import Checkpoint, load_checkpoint, save_checkpoint, step_checkpoints
from s2s.errors import S2SError


def average_checkpoints(run_dir: Path, last: int, out: Optional[Path] = None) -> tuple[Path, list[int]]:
    """Average the run's last `last` step checkpoints into `out` (default checkpoints/averaged.pt).

    Returns the file written and the steps it averages. The result is a checkpoint like any other (its recipe,
    vocabularies and info are the newest one's), without training state: it translates and evaluates, it does
    not resume.
    """
    ckpt_dir = Path(run_dir) / "checkpoints"
    if not ckpt_dir.is_dir():
        raise S2SError(f"{run_dir}: not a run directory (no checkpoints/ in it)")
    if last < 2:
        raise S2SError(f"--last: {last}: averaging needs at least 2 checkpoints")
    kept = step_checkpoints(ckpt_dir)
    if len(kept) < last:
        raise S2SError(f"{run_dir}: {len(kept)} step checkpoint{'' if len(kept) == 1 else 's'} kept, {last} asked "
                       f"for; train with `--set train.keep_last={last}` (or more) to keep them")
    steps, paths = zip(*kept[-last:])
    newest = load_checkpoint(paths[-1])
    total = {name: t.double() if t.is_floating_point() else t for name, t in newest.model_state.items()}
    for path in paths[:-1]:
        ckpt = load_checkpoint(path)
        if ckpt.vocab_fingerprint != newest.vocab_fingerprint or ckpt.model_state.keys() != total.keys():
            raise S2SError(f"{path}: not the same model as {paths[-1]} (other vocabularies or layers)")
        for name, tensor in ckpt.model_state.items():
            if tensor.is_floating_point():
                total[name] += tensor.double()
    state = {name: (t / last).to(newest.model_state[name].dtype) if t.is_floating_point() else t
             for name, t in total.items()}
    out = Path(out) if out is not None else ckpt_dir / "averaged.pt"
    info = replace(newest.info, averaged_steps=list(steps))
    averaged: Checkpoint = replace(newest, model_state=state, training=None, info=info, source="")
    save_checkpoint(averaged, out)
    return out, list(steps)

