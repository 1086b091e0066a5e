"""What an update minimises -- the summed cross-entropy of a batch's target tokens (`batch_loss`) -- and its
gradients over the update's batches (`BatchGradients`).

Teacher forcing feeds the gold previous token at every position; a ratio below 1 is scheduled sampling, where
`s2s.teacher_forcing.make_mixer` replaces some gold inputs by the model's own predictions.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from s2s import PAD_ID
from s2s.data.dataset import Batch, collate
from s2s.data.stream import BatchStream
from s2s.distributed import World
from s2s.fast import mixed_precision
from s2s.models.base import Seq2Seq
from s2s.teacher_forcing import TeacherForcingConfig, make_mixer
from s2s.trainstate import TrainState


def batch_loss(model: Seq2Seq, batch: Batch, ratio: float, mixer_rng: torch.Generator,
               teacher_forcing: TeacherForcingConfig, label_smoothing: float = 0.0) -> torch.Tensor:
    """Summed cross-entropy over real target tokens (padding ignored), with optional label smoothing."""
    if ratio >= 1.0:
        logits = model(batch.src, batch.src_lengths, batch.tgt_in)  # (B, T, V)
    else:
        mix = make_mixer(teacher_forcing, ratio, batch.size, mixer_rng)
        logits = model.forward_mixed(batch.src, batch.src_lengths, batch.tgt_in, mix)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), batch.tgt_out.reshape(-1),
                           ignore_index=PAD_ID, reduction="sum", label_smoothing=label_smoothing)


class Objective(torch.nn.Module):
    """The model and its loss as one module, so DistributedDataParallel can wrap the whole forward pass."""

    def __init__(self, model: Seq2Seq, teacher_forcing: TeacherForcingConfig, label_smoothing: float):
        super().__init__()
        self.model, self.teacher_forcing, self.label_smoothing = model, teacher_forcing, label_smoothing

    def forward(self, batch: Batch, ratio: float, mixer_rng: torch.Generator) -> torch.Tensor:
        return batch_loss(self.model, batch, ratio, mixer_rng, self.teacher_forcing, self.label_smoothing)


class BatchGradients:
    """The forward and backward passes of one update: its global batches (accumulated), each rank its share."""

    def __init__(self, objective: torch.nn.Module, stream: BatchStream, world: World, precision: str,
                 accumulate: int):
        self.objective, self.stream, self.world, self.precision, self.accumulate = \
            objective, stream, world, precision, accumulate
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def compute(self, state: TrainState, comp: float, ratio: float, mixer_rng: torch.Generator) -> tuple[float, int]:
        """Gradients of the update's summed loss per target token; its loss sum and its tokens, over all ranks."""
        world, stream = self.world, self.stream
        stream.new_step()
        global_batches = [stream.next(state, comp) for _ in range(self.accumulate)]
        total_tokens = sum(int(stream.data.tgt_lengths[ix].sum()) + len(ix) for ix in global_batches)
        loss_sum, step_tokens = 0.0, 0
        for i, indices in enumerate(global_batches):
            mine, real = world.share(indices)
            batch = collate(stream.data, mine).to(world.device)
            sync = _no_sync(self.objective) if i + 1 < len(global_batches) else contextlib.nullcontext
            with sync(), mixed_precision(world.device, self.precision):
                # DDP averages gradients over ranks; scaling by the world size makes that the global sum.
                loss = self.objective(batch, ratio, mixer_rng) * (world.size / total_tokens if real else 0.0)
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            if real:
                loss_sum += loss.item() / world.size
                step_tokens += int(batch.src_lengths.sum()) + batch.num_tgt_tokens
        loss_sum, step_tokens = world.sum([loss_sum, float(step_tokens)])
        return loss_sum, int(step_tokens)


def _no_sync(module: torch.nn.Module):
    """Skip DDP's gradient all-reduce on the first micro-batches of an accumulated update."""
    return getattr(module, "no_sync", contextlib.nullcontext)
