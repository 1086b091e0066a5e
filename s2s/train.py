"""`train(recipe, data_dir, run_dir)`: the training loop, readable top to bottom.

The loop owns everything the model must not know: the optimiser and learning rate, the device and precision,
teacher-forcing ratios and the curriculum, validation, checkpoints and early stopping. Its position is kept in
`TrainState` (update step, epoch, batch within the epoch, RNG states), which the `last` checkpoint stores, so
`--resume` continues exactly where it stopped: the same batches, dropout masks and schedule values follow.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from s2s import PAD_ID
from s2s.checkpoint import Checkpoint, load_checkpoint, save_checkpoint, vocab_fingerprint
from s2s.config import Recipe, recipe_to_dict, recipe_to_yaml
from s2s.data.dataset import Batch, ParallelData, collate, token_batches
from s2s.data.manifest import load_manifest
from s2s.data.subwords import Vocab
from s2s.errors import S2SError
from s2s.models.base import Seq2Seq, build_model
from s2s.optim import learning_rate, make_optimizer, set_learning_rate
from s2s.runlog import RunLog, point_latest
from s2s.teacher_forcing import (competence, curriculum_batch, difficulty_order, make_mixer,
                                 teacher_forcing_ratio)
from s2s.validation import Validator

# Recipe keys that may change between a run and its resumption: they do not change the training trajectory.
RESUMABLE_CHANGES = {"max_steps", "max_epochs", "patience", "log_every", "valid_every", "valid_bleu",
                     "valid_max_sentences", "device", "threads"}
MAX_NONFINITE_IN_A_ROW = 5


@dataclass
class TrainState:
    """Where training stands; with the model and optimiser it is everything `--resume` needs."""

    step: int = 0  # optimiser updates done
    epoch: int = 0
    batch_in_epoch: int = 0  # the next batch of the epoch's deterministic order
    best: Optional[float] = None  # best validation metric so far (higher is better; loss is negated)
    validations_since_best: int = 0
    plateau_scale: float = 1.0
    tokens_seen: int = 0
    train_seconds: float = 0.0
    last_good_checkpoint: str = ""
    rng: dict = field(default_factory=dict)


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    best: Optional[float]
    stopped_early: bool


def train(recipe: Recipe, data_dir: Path, run_dir: Path, resume: bool = False, quiet: bool = False) -> TrainResult:
    cfg = recipe.train
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise S2SError("train.device: cuda was asked for but no CUDA device is available")

    manifest = load_manifest(data_dir)
    src_lang, tgt_lang = recipe.data.src or manifest.src, recipe.data.tgt or manifest.tgt
    for key, lang in (("data.src", src_lang), ("data.tgt", tgt_lang)):
        if lang not in manifest.languages:
            raise S2SError(f"{key}: {lang!r} is not in {data_dir} (languages: {', '.join(manifest.languages)})")
    src_vocab, tgt_vocab = Vocab.load(manifest.vocab_path(src_lang)), Vocab.load(manifest.vocab_path(tgt_lang))
    fingerprint = vocab_fingerprint(src_vocab.to_bytes(), tgt_vocab.to_bytes())
    train_data = ParallelData.open(data_dir, "train", src_lang, tgt_lang)
    if len(train_data) == 0:
        raise S2SError(f"{data_dir}: the train split is empty")
    validator = Validator.for_split(data_dir, "dev", src_lang, tgt_lang, src_vocab, tgt_vocab, recipe)

    torch.manual_seed(cfg.seed)
    model = build_model(recipe.model.name, recipe.model.config, src_vocab.size, tgt_vocab.size).to(device)
    optimizer = make_optimizer(model, cfg)
    state = TrainState()
    mixer_rng = torch.Generator().manual_seed(cfg.seed + 1)
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    if resume:
        ckpt = _load_for_resume(ckpt_dir / "last.pt", recipe, fingerprint)
        model.load_state_dict(ckpt.model_state)
        optimizer.load_state_dict(ckpt.training["optimizer"])
        state = TrainState(**{k: v for k, v in ckpt.training["state"].items()})
        torch.set_rng_state(state.rng["torch"])
        mixer_rng.set_state(state.rng["mixer"])
    else:
        if ckpt_dir.is_dir() and any(ckpt_dir.iterdir()):
            raise S2SError(f"{run_dir}: already holds checkpoints; use --resume to continue it or another --out")
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        from s2s.atomic import atomic_write_bytes

        atomic_write_bytes(run_dir / "recipe.yaml", recipe_to_yaml(recipe).encode())
    point_latest(run_dir)

    saved_step = state.step

    def checkpoint(name: str) -> Path:
        nonlocal saved_step
        saved_step = state.step
        state.rng = {"torch": torch.get_rng_state(), "mixer": mixer_rng.get_state()}
        path = ckpt_dir / f"{name}.pt"
        save_checkpoint(Checkpoint(
            recipe=recipe_to_dict(recipe), model_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
            src_lang=src_lang, tgt_lang=tgt_lang, src_vocab=src_vocab.to_bytes(), tgt_vocab=tgt_vocab.to_bytes(),
            data_dir=str(Path(data_dir).resolve()), vocab_fingerprint=fingerprint,
            training={"optimizer": optimizer.state_dict(), "state": asdict(state)},
            info={"parameters": model.num_parameters(), "train_seconds": state.train_seconds,
                  "tokens_seen": state.tokens_seen, "step": state.step},
        ), path)
        return path

    batches = BatchSource(train_data, recipe, device)
    log = RunLog(run_dir, cfg.max_steps, state.step, quiet)
    log.message(f"{recipe.model.name}: {model.num_parameters():,} parameters, {len(train_data):,} training pairs "
                f"({src_lang}->{tgt_lang}), run {run_dir}")
    stopped_early, nonfinite_in_a_row = False, 0
    window_tokens, window_loss, window_start = 0, 0.0, time.perf_counter()
    position: Optional[tuple[int, int]] = None
    try:
        while state.step < cfg.max_steps:
            if cfg.max_epochs is not None and state.epoch >= cfg.max_epochs:
                break
            started = time.perf_counter()
            position = (state.epoch, state.batch_in_epoch)
            model.train()
            lr = learning_rate(cfg, state.step + 1, state.plateau_scale)
            set_learning_rate(optimizer, lr)
            ratio = teacher_forcing_ratio(recipe.teacher_forcing, state.step, state.epoch)
            comp = _competence(recipe, state.step)
            micro = [batches.next(state, comp) for _ in range(cfg.accumulate)]
            total_tokens = sum(b.num_tgt_tokens for b in micro)
            loss_sum, finite = 0.0, True
            for batch in micro:
                with _autocast(device, cfg.precision):
                    loss = batch_loss(model, batch, recipe, ratio, mixer_rng) / total_tokens
                if not torch.isfinite(loss):
                    finite = False
                    break
                loss.backward()
                loss_sum += loss.item()
            if not finite:
                optimizer.zero_grad(set_to_none=True)
                nonfinite_in_a_row += 1
                log.message(f"warning: non-finite loss at step {state.step + 1}; update skipped", always=True)
                if nonfinite_in_a_row >= MAX_NONFINITE_IN_A_ROW:
                    raise S2SError(f"training stopped: {nonfinite_in_a_row} non-finite losses in a row (last at step "
                                   f"{state.step + 1}); last good checkpoint: {state.last_good_checkpoint or 'none'}")
                state.step += 1
                continue
            nonfinite_in_a_row = 0
            if cfg.clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            position = None
            step_tokens = sum(int(b.src_lengths.sum()) + b.num_tgt_tokens for b in micro)
            state.tokens_seen += step_tokens
            state.train_seconds += time.perf_counter() - started
            window_tokens += step_tokens
            window_loss += loss_sum

            if state.step % cfg.log_every == 0 or state.step == cfg.max_steps:
                n = cfg.log_every if state.step % cfg.log_every == 0 else state.step % cfg.log_every
                mean_loss = window_loss / n
                rate = window_tokens / max(time.perf_counter() - window_start, 1e-9)
                record = {"kind": "train", "step": state.step, "epoch": state.epoch, "loss": mean_loss,
                          "ppl": math.exp(min(mean_loss, 50)), "lr": lr, "tokens_per_s": rate,
                          "tf_ratio": ratio, "competence": comp, "train_seconds": state.train_seconds}
                log.log(record)
                log.show(state.step, f"loss {mean_loss:.3f}  ppl {record['ppl']:.1f}  {rate:,.0f} tok/s  "
                                     f"lr {lr:.2e}  tf {ratio:.2f}" + (f"  comp {comp:.2f}" if comp < 1 else ""))
                window_tokens, window_loss, window_start = 0, 0.0, time.perf_counter()
            else:
                log.show(state.step, "")

            if state.step % cfg.valid_every == 0 or state.step == cfg.max_steps:
                result = validator.run(model)
                metric = result.get("dev_bleu", -result["dev_loss"]) if cfg.metric == "bleu" else -result["dev_loss"]
                improved = state.best is None or metric > state.best
                if improved:
                    state.best, state.validations_since_best = metric, 0
                else:
                    state.validations_since_best += 1
                    if cfg.lr_schedule == "plateau" and state.validations_since_best % cfg.plateau_patience == 0:
                        state.plateau_scale *= cfg.plateau_factor
                log.log({"kind": "valid", "step": state.step, **result})
                log.message(f"step {state.step}: " + "  ".join(f"{k} {v:.3f}" for k, v in result.items())
                            + ("  (best)" if improved else ""))
                state.last_good_checkpoint = str(ckpt_dir / "last.pt")
                if improved:
                    checkpoint("best")
                checkpoint("last")
                if cfg.patience is not None and state.validations_since_best >= cfg.patience:
                    log.message(f"early stop: no improvement in {cfg.patience} validations")
                    stopped_early = True
                    break
        if saved_step != state.step:  # stopped by max_epochs between validations
            checkpoint("last")
    except KeyboardInterrupt:
        if position is not None:  # the interrupted update had not been applied: redo it on resume
            state.epoch, state.batch_in_epoch = position
        checkpoint("last")
        log.message(f"interrupted at step {state.step}; saved {ckpt_dir / 'last.pt'}; continue with --resume", always=True)
        raise
    finally:
        log.close()
    return TrainResult(run_dir, state.step, state.best, stopped_early)


def batch_loss(model: Seq2Seq, batch: Batch, recipe: Recipe, ratio: float, mixer_rng: torch.Generator) -> torch.Tensor:
    """Summed cross-entropy over real target tokens (padding ignored), with optional label smoothing."""
    if ratio >= 1.0:
        logits = model(batch.src, batch.src_lengths, batch.tgt_in)  # (B, T, V)
    else:
        mix = make_mixer(recipe.teacher_forcing, ratio, batch.size, mixer_rng)
        logits = model.forward_mixed(batch.src, batch.src_lengths, batch.tgt_in, mix)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), batch.tgt_out.reshape(-1),
                           ignore_index=PAD_ID, reduction="sum", label_smoothing=recipe.train.label_smoothing)


class BatchSource:
    """Training batches in a deterministic order: per epoch from `token_batches`, or from the curriculum."""

    def __init__(self, data: ParallelData, recipe: Recipe, device: torch.device):
        self.data, self.recipe, self.device = data, recipe, device
        self._epoch, self._order = -1, []
        self._curriculum_order = None
        cur = recipe.teacher_forcing.curriculum
        if cur is not None:
            tokens, offsets = (data.src_ids, data.src_offsets) if cur.difficulty == "rarity" else (None, None)
            self._curriculum_order = difficulty_order(cur, data.src_lengths, tokens, offsets)
        self._micro = 0

    def next(self, state: TrainState, comp: float) -> Batch:
        d = self.recipe.data
        if comp < 1.0:
            self._micro += 1
            rng = np.random.default_rng([self.recipe.train.seed, state.step, self._micro])
            pool = int(math.ceil(comp * len(self.data)))
            keep = (self.data.src_lengths <= d.max_len) & (self.data.tgt_lengths <= d.max_len)
            order = self._curriculum_order[keep[self._curriculum_order]]
            indices = curriculum_batch(order, pool, self.data.src_lengths, self.data.tgt_lengths,
                                       d.max_tokens, d.batch_size, rng)
            return collate(self.data, indices).to(self.device)
        self._micro = 0
        while True:
            if self._epoch != state.epoch:
                self._order = token_batches(self.data.src_lengths, self.data.tgt_lengths, d.max_tokens, d.batch_size,
                                            seed=self.recipe.train.seed, epoch=state.epoch, max_len=d.max_len)
                self._epoch = state.epoch
                if not self._order:
                    raise S2SError(f"data.max_len: no training pair is at most {d.max_len} subwords long")
            if state.batch_in_epoch < len(self._order):
                indices = self._order[state.batch_in_epoch]
                state.batch_in_epoch += 1
                return collate(self.data, indices).to(self.device)
            state.epoch += 1
            state.batch_in_epoch = 0


def _competence(recipe: Recipe, step: int) -> float:
    cur = recipe.teacher_forcing.curriculum
    return 1.0 if cur is None else competence(cur, step)


def _autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def _load_for_resume(path: Path, recipe: Recipe, fingerprint: str) -> Checkpoint:
    if not path.is_file():
        raise S2SError(f"{path}: nothing to resume (no last checkpoint in this run directory)")
    ckpt = load_checkpoint(path)
    if ckpt.training is None:
        raise S2SError(f"{path}: not a resumable checkpoint (it holds no training state)")
    if ckpt.vocab_fingerprint != fingerprint:
        raise S2SError(f"{path}: the data directory's vocabularies differ from the ones this run was trained with")
    stored, current = ckpt.recipe, recipe_to_dict(recipe)
    for section in current:
        for key, value in current[section].items():
            if section == "train" and key in RESUMABLE_CHANGES:
                continue
            if stored.get(section, {}).get(key) != value:
                raise S2SError(f"{section}.{key}: is {value!r} but the run being resumed used "
                               f"{stored.get(section, {}).get(key)!r}")
    return ckpt
