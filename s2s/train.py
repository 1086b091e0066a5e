"""`train(recipe, data_dir, run_dir)`: the training loop, readable top to bottom.

The loop owns everything the model must not know: the optimiser and learning rate, the device, precision and
processes, teacher-forcing ratios and the curriculum, validation, checkpoints and early stopping. Its position is
kept in `TrainState` (update step, epoch, batch within the epoch, RNG states, the logging window), which the
`last` checkpoint stores, so `--resume` continues exactly where it stopped: the same batches, dropout masks,
schedule values and logged losses. Ctrl-C and SIGTERM save it (`_Signals`); so do `save_every`,
`save_every_minutes` and the `max_time` budget.

Under torchrun each rank takes its share of every global batch; the loss is normalised by the global number of
target tokens, so N ranks with 1/N of the batch each make the same update as one process with all of it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from s2s import PAD_ID
from s2s.atomic import atomic_write_bytes
from s2s.checkpoint import (Checkpoint, load_checkpoint, load_weights, prune_step_checkpoints, save_checkpoint,
                            vocab_fingerprint)
from s2s.config import Recipe, recipe_to_dict, recipe_to_yaml
from s2s.data.dataset import Batch, ParallelData, collate
from s2s.data.manifest import load_manifest
from s2s.data.sampling import sampled_split
from s2s.data.stream import BatchStream
from s2s.data.subwords import Vocab
from s2s.distributed import World, wrap
from s2s.errors import S2SError
from s2s.fast import mixed_precision, resolve_precision
from s2s.models.base import Seq2Seq, build_model
from s2s.models.linear import onednn_products
from s2s.optim import clip_gradients, learning_rate, make_optimizer, set_learning_rate
from s2s.runlog import RunLog, point_latest
from s2s.teacher_forcing import make_mixer, teacher_forcing_ratio
from s2s.validation import Validator
from s2s.wording import count

# Recipe keys that may change between a run and its resumption: they do not change the training trajectory.
RESUMABLE_CHANGES = {"max_steps", "max_epochs", "patience", "log_every", "valid_every", "valid_bleu",
                     "valid_max_sentences", "device", "threads", "save_every", "save_every_minutes", "max_time", "keep_last"}
MAX_NONFINITE_IN_A_ROW = 5


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
    valid_pending: bool = False  # the validation due at `step` has not finished (an interrupt cut it)
    last_valid_step: int = -1


class _Signals:
    """SIGINT and SIGTERM as KeyboardInterrupt, held back while an update is applied, logged and saved.

    An interrupt during the forward and backward passes rewinds to the update's start (nothing of it was
    applied); one while the update is being applied would leave the weights, the state and the log disagreeing,
    so it waits until that short section ends. A killed job (SIGTERM from a scheduler) then saves a resumable
    checkpoint exactly as Ctrl-C does.
    """

    def __init__(self):
        self._holding, self._pending, self._old = False, False, {}

    def __enter__(self) -> "_Signals":
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


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    best: Optional[float]
    stopped_early: bool
    model: Seq2Seq  # the model as training left it (the `last` checkpoint's weights)


class Objective(torch.nn.Module):
    """The model and its loss as one module, so DistributedDataParallel can wrap the whole forward pass."""

    def __init__(self, model: Seq2Seq, recipe: Recipe):
        super().__init__()
        self.model, self.recipe = model, recipe

    def forward(self, batch: Batch, ratio: float, mixer_rng: torch.Generator) -> torch.Tensor:
        return batch_loss(self.model, batch, self.recipe, ratio, mixer_rng)


def batch_loss(model: Seq2Seq, batch: Batch, recipe: Recipe, ratio: float, mixer_rng: torch.Generator) -> torch.Tensor:
    """Summed cross-entropy over real target tokens (padding ignored), with optional label smoothing."""
    if ratio >= 1.0:
        logits = model(batch.src, batch.src_lengths, batch.tgt_in)  # (B, T, V)
    else:
        mix = make_mixer(recipe.teacher_forcing, ratio, batch.size, mixer_rng)
        logits = model.forward_mixed(batch.src, batch.src_lengths, batch.tgt_in, mix)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), batch.tgt_out.reshape(-1),
                           ignore_index=PAD_ID, reduction="sum", label_smoothing=recipe.train.label_smoothing)


def train(recipe: Recipe, data_dir: Path, run_dir: Path, resume: bool = False, quiet: bool = False,
          world: Optional[World] = None) -> TrainResult:
    cfg = recipe.train
    world = world or World.setup(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    precision = resolve_precision(cfg.precision, world.device)
    if precision == "fp16" and world.device.type != "cuda":
        raise S2SError("train.precision: fp16 needs a CUDA device; use bf16 on the CPU")

    manifest = load_manifest(data_dir)
    src_lang, tgt_lang = manifest.direction(recipe.data.src, recipe.data.tgt)
    # The run's recipe.yaml and checkpoints record the data this run really used, not `dir: null` under --data.
    recipe = replace(recipe, data=replace(recipe.data, dir=str(Path(data_dir).resolve()), src=src_lang, tgt=tgt_lang))
    src_vocab, tgt_vocab = Vocab.load(manifest.vocab_path(src_lang)), Vocab.load(manifest.vocab_path(tgt_lang))
    fingerprint = vocab_fingerprint(src_vocab.to_bytes(), tgt_vocab.to_bytes())
    train_data = ParallelData.open(data_dir, "train", src_lang, tgt_lang)
    if len(train_data) == 0:
        raise S2SError(f"{data_dir}: the train split is empty")
    validator = Validator.for_split(data_dir, "dev", src_lang, tgt_lang, src_vocab, tgt_vocab, recipe)

    torch.manual_seed(cfg.seed)
    model = build_model(recipe.model.name, recipe.model.config, src_vocab.size, tgt_vocab.size).to(world.device)
    optimizer = make_optimizer(model, cfg)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    state = TrainState()
    mixer_rng = torch.Generator().manual_seed(cfg.seed + 1 + world.rank)
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    if resume:
        ckpt = _load_for_resume(run_dir, recipe, fingerprint)
        load_weights(model, ckpt)
        optimizer.load_state_dict(ckpt.training["optimizer"])
        state = TrainState(**ckpt.training["state"])
        if world.size == ckpt.training.get("world_size", 1):  # other process counts draw other dropout masks
            torch.set_rng_state(state.rng["torch"])
            mixer_rng.set_state(state.rng["mixer"])
    elif world.is_main:
        if ckpt_dir.is_dir() and any(ckpt_dir.iterdir()):
            raise S2SError(f"{run_dir}: already holds checkpoints; use --resume to continue it or another --out")
        try:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise S2SError(f"{run_dir}: cannot create the run directory: {err.strerror or err}") from None
        atomic_write_bytes(run_dir / "recipe.yaml", recipe_to_yaml(recipe).encode())
    if world.is_main and run_dir.parent.name == "runs":  # `latest` lives in a runs/ folder, not beside any --out
        point_latest(run_dir)

    def checkpoint(name: str, resumable: bool = True) -> None:
        """Write checkpoints/NAME.pt; `resumable=False` leaves out the optimiser and state (weights to average)."""
        nonlocal saved_step, saved_at
        if resumable:
            saved_step = state.step
        if name == "last":
            saved_at = time.monotonic()
        if not world.is_main:
            return
        state.rng = {"torch": torch.get_rng_state(), "mixer": mixer_rng.get_state()}
        save_checkpoint(Checkpoint(
            recipe=recipe_to_dict(recipe), model_state={k: v.detach().cpu() for k, v in model.state_dict().items()},
            src_lang=src_lang, tgt_lang=tgt_lang, src_vocab=src_vocab.to_bytes(), tgt_vocab=tgt_vocab.to_bytes(),
            data_dir=str(Path(data_dir).resolve()), vocab_fingerprint=fingerprint,
            training={"optimizer": optimizer.state_dict(), "state": asdict(state), "world_size": world.size}
            if resumable else None,
            info={"parameters": model.num_parameters(), "train_seconds": state.train_seconds,
                  "tokens_seen": state.tokens_seen, "step": state.step},
        ), ckpt_dir / f"{name}.pt")

    resample = None
    if recipe.data.subword_alpha:
        resample = functools.partial(sampled_split, data_dir, train_data, src_vocab, tgt_vocab,
                                     recipe.data.subword_alpha, cfg.seed)
    stream = BatchStream(train_data, recipe, resample)
    objective = wrap(Objective(model, recipe), world)
    log = RunLog(run_dir if world.is_main else None, cfg.max_steps, state.step, quiet or not world.is_main,
                 budget=cfg.max_time_seconds, start_seconds=state.train_seconds)
    if resume and world.is_main:  # once the run, its recipe and its data have been checked: which run, which data
        log.message(f"resuming {run_dir} from step {state.step} (data {data_dir})")
    log.message(f"{recipe.model.name}: {count(model.num_parameters(), 'parameter')}; {count(len(train_data), 'training pair')} "
                f"({src_lang}->{tgt_lang}) from {Path(data_dir).resolve()}; {count(world.size, 'process')} on "
                f"{world.device} ({precision}); run {run_dir}")
    saved_step, saved_at, stopped_early, nonfinite_in_a_row = state.step, time.monotonic(), False, 0
    budget = cfg.max_time_seconds
    window_start = time.perf_counter()
    signals = _Signals()
    # Where the update in progress started: (epoch, batch in epoch, torch RNG, mixer RNG), None once applied.
    position: Optional[tuple] = None

    def validate() -> bool:
        return _validate(state, validator, model, world, log, checkpoint, cfg, ckpt_dir, signals)

    try:
        with signals:
            while True:
                if state.valid_pending:  # due at this step, or cut short by an interrupt before the resume
                    stopped_early = validate()
                    if stopped_early:
                        break
                if budget is not None and state.train_seconds >= budget:
                    log.message(f"time budget reached: {state.train_seconds:.0f} s of training (train.max_time "
                                f"{budget:.0f} s) at step {state.step}", always=True)
                    if state.last_valid_step != state.step and state.step > 0:
                        validate()
                    break
                if not (state.step < cfg.max_steps and (cfg.max_epochs is None or state.epoch < cfg.max_epochs)):
                    break
                started = time.perf_counter()
                position = (state.epoch, state.batch_in_epoch, torch.get_rng_state(), mixer_rng.get_state())
                model.train()
                lr = learning_rate(cfg, state.step + 1, state.plateau_scale)
                set_learning_rate(optimizer, lr)
                ratio = teacher_forcing_ratio(recipe.teacher_forcing, state.step, state.epoch)
                comp = stream.competence(state.step)
                stream.new_step()
                global_batches = [stream.next(state, comp) for _ in range(cfg.accumulate)]
                total_tokens = sum(int(stream.data.tgt_lengths[ix].sum()) + len(ix) for ix in global_batches)
                loss_sum, step_tokens = 0.0, 0
                for i, indices in enumerate(global_batches):
                    mine, real = world.share(indices)
                    batch = collate(stream.data, mine).to(world.device)
                    sync = _no_sync(objective) if i + 1 < len(global_batches) else contextlib.nullcontext
                    with sync(), mixed_precision(world.device, precision):
                        # DDP averages gradients over ranks; scaling by the world size makes that the global sum.
                        loss = objective(batch, ratio, mixer_rng) * (world.size / total_tokens if real else 0.0)
                        _backward(loss, scaler)
                    if real:
                        loss_sum += loss.item() / world.size
                        step_tokens += int(batch.src_lengths.sum()) + batch.num_tgt_tokens
                loss_sum, step_tokens = world.sum([loss_sum, float(step_tokens)])
                with signals.held():
                    position = None
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
                    _optimizer_step(model, optimizer, scaler, cfg.clip_norm)
                    state.tokens_seen += int(step_tokens)
                    state.train_seconds += time.perf_counter() - started
                    state.window_tokens += int(step_tokens)
                    state.window_loss += loss_sum
                    state.window_steps += 1
                    if state.step % cfg.log_every == 0 or state.step == cfg.max_steps:
                        _log_window(state, log, lr, ratio, comp, time.perf_counter() - window_start)
                        window_start = time.perf_counter()
                    else:
                        log.show(state.step, "", state.train_seconds)
                    state.valid_pending = state.step % cfg.valid_every == 0 or state.step == cfg.max_steps
                    if not state.valid_pending and (
                            cfg.save_every and state.step % cfg.save_every == 0
                            or cfg.save_every_minutes and time.monotonic() - saved_at >= 60 * cfg.save_every_minutes):
                        checkpoint("last")
            with signals.held():
                if saved_step != state.step:  # stopped by max_epochs or the time budget between validations
                    checkpoint("last")
    except KeyboardInterrupt:
        if position is not None:  # the interrupted update had not been applied: redo it on resume, as it was
            state.epoch, state.batch_in_epoch, torch_rng, mixer_state = position
            torch.set_rng_state(torch_rng)
            mixer_rng.set_state(mixer_state)
        checkpoint("last")
        log.message(f"interrupted at step {state.step}; saved {ckpt_dir / 'last.pt'}; continue with --resume",
                    always=True)
        raise
    finally:
        log.close()
    return TrainResult(run_dir, state.step, state.best, stopped_early, model)


def _log_window(state: TrainState, log: RunLog, lr: float, ratio: float, comp: float, seconds: float) -> None:
    """Log the mean loss of the updates since the last record, and start a new window."""
    mean_loss = state.window_loss / max(state.window_steps, 1)
    rate = state.window_tokens / max(seconds, 1e-9)
    record = {"kind": "train", "step": state.step, "epoch": state.epoch, "loss": mean_loss,
              "ppl": math.exp(min(mean_loss, 50)), "lr": lr, "tokens_per_s": rate,
              "tf_ratio": ratio, "competence": comp, "train_seconds": state.train_seconds}
    log.log(record)
    log.show(state.step, f"loss {mean_loss:.3f}  ppl {record['ppl']:.1f}  {rate:,.0f} tok/s  "
                         f"lr {lr:.2e}  tf {ratio:.2f}" + (f"  comp {comp:.2f}" if comp < 1 else ""),
             state.train_seconds)
    state.window_tokens, state.window_loss, state.window_steps = 0, 0.0, 0


def _validate(state: TrainState, validator: Validator, model: Seq2Seq, world: World, log: RunLog,
              checkpoint: Callable[[str], None], cfg, ckpt_dir: Path, signals: "_Signals") -> bool:
    """Validate on rank 0, keep best/last, and agree on every rank whether to stop.

    Decoding the dev set may be interrupted (the state is untouched, `valid_pending` stays set and the resumed
    run validates first); what follows it is held, so the state, the log and the checkpoints agree."""
    stop = False
    result = None
    if world.is_main:
        with onednn_products(False):  # kernels for the dev set's shapes would stay in this process's memory
            result = validator.run(model)
    with signals.held():
        stop = _after_validation(state, result, world, log, checkpoint, cfg, ckpt_dir)
    stop, state.plateau_scale = world.broadcast((stop, state.plateau_scale))
    world.barrier()
    return stop


def _after_validation(state: TrainState, result: Optional[dict], world: World, log: RunLog,
                      checkpoint: Callable[[str], None], cfg, ckpt_dir: Path) -> bool:
    stop = False
    if world.is_main:
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
        stop = cfg.patience is not None and state.validations_since_best >= cfg.patience
        if stop:
            log.message(f"early stop: no improvement in {count(cfg.patience, 'validation')}")
    state.valid_pending, state.last_valid_step = False, state.step
    checkpoint("last")
    if cfg.keep_last:
        checkpoint(f"step-{state.step}", resumable=False)
        if world.is_main:
            prune_step_checkpoints(ckpt_dir, cfg.keep_last)
    return stop


def _backward(loss: torch.Tensor, scaler) -> None:
    (scaler.scale(loss) if scaler is not None else loss).backward()


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


def _no_sync(module: torch.nn.Module):
    """Skip DDP's gradient all-reduce on the first micro-batches of an accumulated update."""
    return getattr(module, "no_sync", contextlib.nullcontext)


def load_resumable(run_dir: Path) -> Checkpoint:
    """The `last` checkpoint of `run_dir`, which must hold the training state to go on from."""
    path = Path(run_dir) / "checkpoints" / "last.pt"
    if not path.is_file():
        raise S2SError(f"{path}: nothing to resume (no last checkpoint in this run directory)")
    ckpt = load_checkpoint(path)
    if ckpt.training is None:
        raise S2SError(f"{path}: not a resumable checkpoint (it holds no training state)")
    return ckpt


def _load_for_resume(run_dir: Path, recipe: Recipe, fingerprint: str) -> Checkpoint:
    """`load_resumable`, refused when the data or a recipe key that shapes the trajectory has changed."""
    ckpt = load_resumable(run_dir)
    if ckpt.vocab_fingerprint != fingerprint:
        raise S2SError(f"{ckpt.source}: the data directory's vocabularies differ from the ones this run was trained with "
                       f"({ckpt.src_lang}->{ckpt.tgt_lang} on {ckpt.data_dir}); resume it on that data")
    stored, current = ckpt.recipe, recipe_to_dict(recipe)
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

