"""`train(recipe, data_dir, run_dir)`: the training loop, readable top to bottom.

The loop owns everything the model must not know: the optimiser and learning rate, the device, precision and
processes, teacher-forcing ratios and the curriculum, validation, checkpoints and early stopping. Each update
reads: batches -> forward and backward (`BatchGradients`) -> optimiser step -> log -> validate -> checkpoint.
Its pieces live beside it: what is minimised in `objective.py`, where the run stands and what `--resume` may
change in `trainstate.py`, the checkpoints in `checkpointer.py`. Ctrl-C and SIGTERM save a resumable `last`
(`Interrupts`); so do `save_every`, `save_every_minutes` and the `max_time` budget.

Under torchrun each rank takes its share of every global batch; the loss is normalised by the global number of
target tokens, so N ranks with 1/N of the batch each make the same update as one process with all of it.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple, Optional

import torch

from s2s import fast
from s2s.atomic import atomic_write_bytes
from s2s.checkpoint import load_weights, vocab_fingerprint
from s2s.checkpointer import Checkpointer, RunIdentity, load_for_resume
from s2s.config import Recipe, TrainConfig, recipe_to_yaml
from s2s.data.dataset import ParallelData
from s2s.data.manifest import load_manifest
from s2s.data.sampling import sampled_split
from s2s.data.stream import BatchStream
from s2s.data.subwords import Vocab
from s2s.distributed import World, wrap
from s2s.errors import S2SError
from s2s.fast import clip_gradients, resolve_precision
from s2s.models.base import Seq2Seq, build_model
from s2s.objective import BatchGradients, Objective
from s2s.optim import learning_rate, make_optimizer, set_learning_rate
from s2s.runlog import RunLog, point_latest
from s2s.teacher_forcing import teacher_forcing_ratio
from s2s.trainstate import Interrupts, TrainState, UpdateStart
from s2s.validation import Validator
from s2s.wording import count

MAX_NONFINITE_IN_A_ROW = 5


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    best: Optional[float]
    stopped_early: bool
    model: Seq2Seq  # the model as training left it (the `last` checkpoint's weights)


def train(recipe: Recipe, data_dir: Path, run_dir: Path, resume: bool = False, quiet: bool = False,
          world: Optional[World] = None) -> TrainResult:
    cfg = recipe.train
    world = world or World.setup(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    precision = resolve_precision(cfg.precision, world.device)
    if precision == "fp16" and world.device.type != "cuda":
        raise S2SError("train.precision: fp16 needs a CUDA device; use bf16 on the CPU")
    data = open_training_data(recipe, Path(data_dir))
    recipe, run_dir = data.recipe, Path(run_dir)

    torch.manual_seed(cfg.seed)
    model = build_model(recipe.model.name, recipe.model.config, data.src_vocab.size, data.tgt_vocab.size)
    model = fast.for_training(model.to(world.device))  # the CPU kernels of s2s/fast.py, the validations included
    optimizer = make_optimizer(model, cfg)
    mixer_rng = torch.Generator().manual_seed(cfg.seed + 1 + world.rank)
    state = _resume(run_dir, recipe, data.run, model, optimizer, mixer_rng, world) if resume \
        else _start(run_dir, recipe, world)
    if world.is_main and run_dir.parent.name == "runs":  # `latest` lives in a runs/ folder, not beside any --out
        point_latest(run_dir)
    checkpointer = Checkpointer(run_dir / "checkpoints", data.run, model, optimizer, mixer_rng, world, cfg, state.step)
    gradients = BatchGradients(wrap(Objective(model, recipe.teacher_forcing, cfg.label_smoothing), world),
                               BatchStream(data.train, recipe, data.resample), world, precision, cfg.accumulate)
    log = RunLog(run_dir if world.is_main else None, cfg.max_steps, state.step, quiet or not world.is_main,
                 budget=cfg.max_time_seconds, start_seconds=state.train_seconds)
    validate = Validation(data.validator, checkpointer, log, world, cfg)
    if resume and world.is_main:  # once the run, its recipe and its data have been checked: which run, which data
        log.message(f"resuming {run_dir} from step {state.step} (data {data_dir})")
    log.message(f"{recipe.model.name}: {count(model.num_parameters(), 'parameter')}; "
                f"{count(len(data.train), 'training pair')} ({data.run.src_lang}->{data.run.tgt_lang}) from "
                f"{data.run.data_dir}; {count(world.size, 'process')} on {world.device} ({precision}); run {run_dir}")

    interrupts, start = Interrupts(), None  # start: where the update in progress began, None once applied
    stopped_early, nonfinite_in_a_row = False, 0
    try:
        with interrupts:
            while True:
                if state.valid_pending:  # due at this step, or cut short by an interrupt before the resume
                    stopped_early = validate(model, state, interrupts)
                    if stopped_early:
                        break
                if cfg.max_time_seconds is not None and state.train_seconds >= cfg.max_time_seconds:
                    log.message(f"time budget reached: {state.train_seconds:.0f} s of training (train.max_time "
                                f"{cfg.max_time_seconds:.0f} s) at step {state.step}", always=True)
                    if state.last_valid_step != state.step and state.step > 0:
                        validate(model, state, interrupts)
                    break
                if state.step >= cfg.max_steps or (cfg.max_epochs is not None and state.epoch >= cfg.max_epochs):
                    break
                started, start = time.perf_counter(), UpdateStart.mark(state, mixer_rng)
                model.train()
                lr = learning_rate(cfg, state.step + 1, state.plateau_scale)
                set_learning_rate(optimizer, lr)
                ratio = teacher_forcing_ratio(recipe.teacher_forcing, state.step, state.epoch)
                comp = gradients.stream.competence(state.step)
                loss_sum, tokens = gradients.compute(state, comp, ratio, mixer_rng)
                with interrupts.held():
                    start = None
                    state.step += 1
                    if not math.isfinite(loss_sum):
                        optimizer.zero_grad(set_to_none=True)
                        nonfinite_in_a_row += 1
                        log.message(f"warning: non-finite loss at step {state.step}; update skipped", always=True)
                        if nonfinite_in_a_row >= MAX_NONFINITE_IN_A_ROW:
                            raise S2SError(f"training stopped: {nonfinite_in_a_row} non-finite losses in a row (last "
                                           f"at step {state.step}); last good checkpoint: "
                                           f"{state.last_good_checkpoint or 'none'}")
                        continue
                    nonfinite_in_a_row = 0
                    _optimizer_step(model, optimizer, gradients.scaler, cfg.clip_norm)
                    state.count_update(loss_sum, tokens, time.perf_counter() - started)
                    if state.step % cfg.log_every == 0 or state.step == cfg.max_steps:
                        _log_window(state, log, lr, ratio, comp)
                    else:
                        log.show(state.step, "", state.train_seconds)
                    state.valid_pending = state.step % cfg.valid_every == 0 or state.step == cfg.max_steps
                    if not state.valid_pending and checkpointer.due(state):
                        checkpointer.save("last", state)
            with interrupts.held():
                if checkpointer.saved_step != state.step:  # stopped by max_epochs or the budget between validations
                    checkpointer.save("last", state)
    except KeyboardInterrupt:
        if start is not None:  # the interrupted update had not been applied: redo it on resume, as it was
            start.restore(state, mixer_rng)
        checkpointer.save("last", state)
        log.message(f"interrupted at step {state.step}; saved {checkpointer.ckpt_dir / 'last.pt'}; continue with "
                    "--resume", always=True)
        raise
    finally:
        log.close()
    return TrainResult(run_dir, state.step, state.best, stopped_early, model)


class TrainingData(NamedTuple):
    recipe: Recipe  # with the data it really uses: its directory and direction
    run: RunIdentity
    src_vocab: Vocab
    tgt_vocab: Vocab
    train: ParallelData
    resample: object  # epoch -> ParallelData: a new subword sampling per epoch (`data.subword_alpha`), or None
    validator: Validator


def open_training_data(recipe: Recipe, data_dir: Path) -> TrainingData:
    """The prepared data a recipe trains on, its vocabularies and its dev split, checked before anything runs."""
    manifest = load_manifest(data_dir)
    src_lang, tgt_lang = manifest.direction(recipe.data.src, recipe.data.tgt)
    # The run's recipe.yaml and checkpoints record the data this run really used, not `dir: null` under --data.
    recipe = replace(recipe, data=replace(recipe.data, dir=str(data_dir.resolve()), src=src_lang, tgt=tgt_lang))
    src_vocab, tgt_vocab = Vocab.load(manifest.vocab_path(src_lang)), Vocab.load(manifest.vocab_path(tgt_lang))
    train_data = ParallelData.open(data_dir, "train", src_lang, tgt_lang)
    if len(train_data) == 0:
        raise S2SError(f"{data_dir}: the train split is empty")
    validator = Validator.for_split(data_dir, "dev", src_lang, tgt_lang, src_vocab, tgt_vocab, recipe)
    resample = None
    if recipe.data.subword_alpha:
        resample = functools.partial(sampled_split, data_dir, train_data, src_vocab, tgt_vocab,
                                     recipe.data.subword_alpha, recipe.train.seed)
    src_bytes, tgt_bytes = src_vocab.to_bytes(), tgt_vocab.to_bytes()
    run = RunIdentity(recipe, src_lang, tgt_lang, src_bytes, tgt_bytes, str(data_dir.resolve()),
                      vocab_fingerprint(src_bytes, tgt_bytes))
    return TrainingData(recipe, run, src_vocab, tgt_vocab, train_data, resample, validator)


def _start(run_dir: Path, recipe: Recipe, world: World) -> TrainState:
    """A new run: its directory, refused if it already holds checkpoints, and its recipe.yaml."""
    ckpt_dir = run_dir / "checkpoints"
    if world.is_main:
        if ckpt_dir.is_dir() and any(ckpt_dir.iterdir()):
            raise S2SError(f"{run_dir}: already holds checkpoints; use --resume to continue it or another --out")
        try:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise S2SError(f"{run_dir}: cannot create the run directory: {err.strerror or err}") from None
        atomic_write_bytes(run_dir / "recipe.yaml", recipe_to_yaml(recipe).encode())
    return TrainState()


def _resume(run_dir: Path, recipe: Recipe, run: RunIdentity, model: Seq2Seq, optimizer: torch.optim.Optimizer,
            mixer_rng: torch.Generator, world: World) -> TrainState:
    """The run's `last` state, weights, optimiser and RNGs, once its data and recipe are checked against it."""
    ckpt = load_for_resume(run_dir, recipe, run.vocab_fingerprint)
    load_weights(model, ckpt)
    optimizer.load_state_dict(ckpt.training.optimizer)
    state = ckpt.training.state
    if world.size == ckpt.training.world_size:  # other process counts draw other dropout masks
        torch.set_rng_state(state.rng["torch"])
        mixer_rng.set_state(state.rng["mixer"])
    return state


def _log_window(state: TrainState, log: RunLog, lr: float, ratio: float, comp: float) -> None:
    """Log the mean loss of the updates since the last record, and start a new window."""
    mean_loss, rate = state.close_window()
    record = {"kind": "train", "step": state.step, "epoch": state.epoch, "loss": mean_loss,
              "ppl": math.exp(min(mean_loss, 50)), "lr": lr, "tokens_per_s": rate,
              "tf_ratio": ratio, "competence": comp, "train_seconds": state.train_seconds}
    log.log(record)
    log.show(state.step, f"loss {mean_loss:.3f}  ppl {record['ppl']:.1f}  {rate:,.0f} tok/s  "
                         f"lr {lr:.2e}  tf {ratio:.2f}" + (f"  comp {comp:.2f}" if comp < 1 else ""),
             state.train_seconds)


@dataclass
class Validation:
    """Validate on rank 0, keep `best`/`last` (and the step's weights), and agree on every rank whether to stop.

    Decoding the dev set may be interrupted (the state is untouched, `valid_pending` stays set and the resumed
    run validates first); what follows it is held, so the state, the log and the checkpoints agree."""

    validator: Validator
    checkpointer: Checkpointer
    log: RunLog
    world: World
    cfg: TrainConfig

    def __call__(self, model: Seq2Seq, state: TrainState, interrupts: Interrupts) -> bool:
        cfg, world, stop = self.cfg, self.world, False
        result = self.validator.run(model) if world.is_main else None
        with interrupts.held():
            if world.is_main:
                metric = result.get("dev_bleu", -result["dev_loss"]) if cfg.metric == "bleu" else -result["dev_loss"]
                improved = state.count_validation(metric, cfg)
                self.log.log({"kind": "valid", "step": state.step, **result})
                self.log.message(f"step {state.step}: " + "  ".join(f"{k} {v:.3f}" for k, v in result.items())
                                 + ("  (best)" if improved else ""))
                state.last_good_checkpoint = str(self.checkpointer.ckpt_dir / "last.pt")
                if improved:
                    self.checkpointer.save("best", state)
                stop = cfg.patience is not None and state.validations_since_best >= cfg.patience
                if stop:
                    self.log.message(f"early stop: no improvement in {count(cfg.patience, 'validation')}")
            state.valid_pending, state.last_valid_step = False, state.step
            self.checkpointer.save_validated(state)
        stop, state.plateau_scale = world.broadcast((stop, state.plateau_scale))
        world.barrier()
        return stop


def _optimizer_step(model: Seq2Seq, optimizer: torch.optim.Optimizer, scaler, clip_norm: Optional[float]) -> None:
    if scaler is not None:
        scaler.unscale_(optimizer)
    if clip_norm:
        clip_gradients(model.parameters(), clip_norm)
    if scaler is not None:
        scaler.step(optimizer)  # skips the update when fp16 gradients overflowed, and lowers the scale
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
