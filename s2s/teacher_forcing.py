"""Teacher forcing, scheduled sampling and curriculum learning: what the decoder is fed while it learns.

Teacher forcing feeds the gold previous token; it trains fast but leaves exposure bias, because at inference the
decoder eats its own (sometimes wrong) predictions. Scheduled sampling (Bengio et al., 2015) feeds the model's
own prediction with probability 1 - ratio, where the ratio falls over training along a registered schedule.
A curriculum (Platanios et al., 2019) starts training on the easiest pairs and widens the pool to the whole
corpus by step N.

Everything here is a pure function of the step (or epoch): resuming at step k continues the same schedule.
The model never sees a ratio; the training loop builds a `Mixer` from it (`make_mixer`) and hands that to
`model.forward_mixed`, and the curriculum only changes which pairs are batched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal, Optional

import numpy as np

from s2s import PAD_ID
from s2s.data.dataset import examples_that_fit, padded_width
from s2s.errors import ConfigError
from s2s.registry import SCHEDULES
from s2s.typed import from_mapping, require, to_mapping


# ---- schedules: ratio of gold tokens fed, as a function of the step ---------------------------------------


@dataclass(frozen=True)
class ConstantConfig:
    ratio: float = 1.0  # 1.0 = plain teacher forcing; 0.0 = always the model's own predictions

    def check(self) -> None:
        require(0.0 <= self.ratio <= 1.0, "ratio: must be in [0, 1]")


@SCHEDULES.register("constant", config=ConstantConfig)
def constant(step: int, cfg: ConstantConfig) -> float:
    """The same ratio throughout: r."""
    return cfg.ratio


@dataclass(frozen=True)
class LinearConfig:
    start: float = 1.0  # ratio at step 0
    floor: float = 0.0  # lowest ratio, reached at `steps` and kept after
    steps: int = 10000

    def check(self) -> None:
        require(0.0 <= self.floor <= self.start <= 1.0, "floor: need 0 <= floor <= start <= 1")
        require(self.steps > 0, "steps: must be positive")


@SCHEDULES.register("linear", config=LinearConfig)
def linear(step: int, cfg: LinearConfig) -> float:
    """Linear decay from r0 to a floor over N steps: max(floor, r0 - (r0 - floor) * step / N)."""
    return max(cfg.floor, cfg.start - (cfg.start - cfg.floor) * step / cfg.steps)


@dataclass(frozen=True)
class ExponentialConfig:
    k: float = 0.9995  # ratio = k ** step; the ratio halves every ln(2) / -ln(k) steps
    floor: float = 0.0

    def check(self) -> None:
        require(0.0 < self.k < 1.0, "k: must be in (0, 1)")
        require(0.0 <= self.floor <= 1.0, "floor: must be in [0, 1]")


@SCHEDULES.register("exponential", config=ExponentialConfig)
def exponential(step: int, cfg: ExponentialConfig) -> float:
    """Exponential decay: max(floor, k ** step)."""
    return max(cfg.floor, cfg.k**step)


@dataclass(frozen=True)
class InverseSigmoidConfig:
    k: float = 1000.0  # the ratio stays near 1 for about k*ln(k) steps, then falls like a sigmoid

    def check(self) -> None:
        require(self.k >= 1.0, "k: must be >= 1")


@SCHEDULES.register("inverse_sigmoid", config=InverseSigmoidConfig)
def inverse_sigmoid(step: int, cfg: InverseSigmoidConfig) -> float:
    """Inverse sigmoid decay: k / (k + exp(step / k))."""
    x = step / cfg.k
    return cfg.k / (cfg.k + math.exp(x)) if x < 700 else 0.0


# ---- the recipe section ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurriculumConfig:
    """Competence-based curriculum: the pool holds the easiest c(t) fraction of the corpus."""

    steps: int = 5000  # competence reaches 1 (the whole corpus) at this step
    competence: Literal["sqrt", "linear"] = "sqrt"
    initial: float = 0.01  # c(0): the fraction of the easiest pairs available at the start
    difficulty: Literal["length", "rarity"] = "length"  # source length, or summed -log unigram frequency

    def check(self) -> None:
        require(self.steps > 0, "steps: must be positive")
        require(0.0 < self.initial <= 1.0, "initial: must be in (0, 1]")


@dataclass(frozen=True)
class Feeding:
    """The section's keys that hold whatever the schedule: how a token that is not gold is chosen, and when."""

    per: Literal["step", "epoch"] = "step"  # the unit the schedule counts
    sampling: Literal["argmax", "sample"] = "argmax"  # what replaces a gold token
    temperature: float = 1.0  # for sampling: "sample"
    granularity: Literal["token", "sequence"] = "token"  # one coin per token (default) or per sentence
    curriculum: Optional[CurriculumConfig] = None

    def check(self) -> None:
        require(self.temperature > 0, "temperature: must be positive")


FEEDING_KEYS = tuple(f.name for f in fields(Feeding))


@dataclass(frozen=True)
class TeacherForcingConfig(Feeding):
    """The `teacher_forcing` section: a registered schedule with its own keys beside the `Feeding` ones."""

    schedule: str = "constant"
    params: Any = ConstantConfig()  # the schedule's own config (its keys sit beside `schedule` in YAML)

    @classmethod
    def from_mapping(cls, values: Any, path: str) -> "TeacherForcingConfig":
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(path, f"expected a mapping of keys to values, got {values!r}")
        values = dict(values)
        name = values.pop("schedule", "constant")
        feeding = {k: values.pop(k) for k in FEEDING_KEYS if k in values}
        schedule_keys = set(SCHEDULES.entry(name, f"{path}.schedule").config.__dataclass_fields__)
        unknown = [k for k in values if k not in schedule_keys]
        if unknown:  # name every key the section takes, not only the schedule's own
            valid = ", ".join(sorted(schedule_keys | set(FEEDING_KEYS) | {"schedule"}))
            raise ConfigError(f"{path}.{unknown[0]}", f"unknown key; valid keys: {valid}")
        params = SCHEDULES.build_config(name, values, path)
        base = from_mapping(Feeding, feeding, path)
        return cls(schedule=name, params=params, **{k: getattr(base, k) for k in FEEDING_KEYS})

    def to_mapping(self) -> dict:
        out = {"schedule": self.schedule, **to_mapping(self.params)}
        out.update({k: to_mapping(getattr(self, k)) for k in FEEDING_KEYS})
        return out

    @property
    def is_plain(self) -> bool:
        """True when the decoder is always fed gold tokens (no scheduled sampling at any step)."""
        return self.schedule == "constant" and self.params.ratio == 1.0


def teacher_forcing_ratio(cfg: TeacherForcingConfig, step: int, epoch: int) -> float:
    """The probability of feeding the gold token at this point of training."""
    return SCHEDULES.get(cfg.schedule)(epoch if cfg.per == "epoch" else step, cfg.params)


# ---- mixing gold tokens with the model's predictions ---------------------------------------------------------


def make_mixer(cfg: TeacherForcingConfig, ratio: float, batch_size: int, generator):
    """A `Mixer` for one batch: keeps each gold token with probability `ratio`, else the model's prediction.

    With `granularity: sequence` one coin per sentence is drawn here, once, and reused at every step.
    """
    import torch

    sequence_coin = None
    if cfg.granularity == "sequence":
        sequence_coin = torch.rand(batch_size, generator=generator) < ratio  # (B,)

    def mix(gold, logits):  # gold (B,) or (B, T); logits (..., V)
        if cfg.sampling == "argmax":
            predicted = logits.argmax(-1)
        else:
            probs = torch.softmax(logits.float() / cfg.temperature, dim=-1)
            flat = probs.reshape(-1, probs.size(-1))
            predicted = torch.multinomial(flat, 1, generator=generator).view(gold.shape)
        if sequence_coin is not None:
            keep = sequence_coin.view(-1, *([1] * (gold.dim() - 1))).expand_as(gold)
        else:
            keep = torch.rand(gold.shape, generator=generator) < ratio
        keep = keep.to(gold.device) | (gold == PAD_ID)
        return torch.where(keep, gold, predicted)

    return mix


# ---- curriculum ---------------------------------------------------------------------------------------------


def competence(cfg: CurriculumConfig, step: int) -> float:
    """c(t): the fraction of the corpus (easiest first) available at `step` (Platanios et al., 2019)."""
    c0, t = cfg.initial, min(step, cfg.steps) / cfg.steps
    if cfg.competence == "linear":
        return min(1.0, c0 + (1.0 - c0) * t)
    return min(1.0, math.sqrt(c0 * c0 + (1.0 - c0 * c0) * t))


def difficulty_order(cfg: CurriculumConfig, src_lengths: np.ndarray, src_tokens: Optional[np.ndarray],
                     src_offsets: Optional[np.ndarray]) -> np.ndarray:
    """Example indices from easiest to hardest (stable, so ties keep corpus order)."""
    if cfg.difficulty == "length":
        return np.argsort(src_lengths, kind="stable")
    assert src_tokens is not None and src_offsets is not None
    counts = np.bincount(src_tokens, minlength=4).astype(np.float64) + 1.0
    neg_log_p = -np.log(counts / counts.sum())  # rarer subwords cost more
    per_token = neg_log_p[src_tokens]
    sums = np.add.reduceat(per_token, src_offsets[:-1]) if len(per_token) else np.zeros(len(src_lengths))
    sums[src_lengths == 0] = 0.0  # reduceat repeats the next value for empty slices
    return np.argsort(sums, kind="stable")


def curriculum_batch(order: np.ndarray, pool_size: int, src_lengths: np.ndarray, tgt_lengths: np.ndarray,
                     max_tokens: int, batch_size: Optional[int], rng: np.random.Generator) -> np.ndarray:
    """One batch drawn uniformly from the `pool_size` easiest examples, filled up to the token budget."""
    pool = order[: max(1, pool_size)]
    want = batch_size or max(1, max_tokens // 8)
    picks = pool[rng.integers(0, len(pool), size=min(want, 4 * len(pool)))]
    if batch_size:
        return np.sort(picks[:batch_size])
    widths = np.maximum.accumulate(padded_width(src_lengths[picks], tgt_lengths[picks]))
    return np.sort(picks[:examples_that_fit(widths, max_tokens)])
