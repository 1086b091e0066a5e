"""Recipes: YAML files that pin every hyperparameter of a run, loaded into frozen dataclasses.

A recipe has five sections. `data` and `train` are fixed dataclasses defined here; `model`, `decode` and the
schedule inside `teacher_forcing` name a registry entry (`arch`, `strategy`, `schedule`) whose own config
dataclass takes the rest of the section. Every key is checked before any work starts: an unknown key, a wrong
type or an out-of-range value raises `ConfigError` naming the dotted key path (and, for names, the choices).

`load_recipe(path, overrides)` applies `--set section.key=value` overrides (values parsed as YAML) before
checking, so an override is held to the same rules as the file (and an error in a key it set names the `--set`,
not the file); `s2s/bundled.py` finds the recipes shipped in the package by name. A relative `data.dir` in the
file is relative to the file's directory (so a recipe means the same data wherever it is run from) and is stored
absolute; one given with `--set` or `--data` is relative to the working directory, like any command-line path.
`train` prints the data directory it uses. The resolved recipe (`recipe_to_dict`) is what runs and checkpoints
store: it reproduces the run with its seed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import yaml

from s2s.devices import device_problem
from s2s.errors import ConfigError, S2SError
from s2s.registry import ARCHITECTURES, DECODERS, Registry
from s2s.typed import from_mapping, require, to_mapping

SECTIONS = ("data", "model", "train", "teacher_forcing", "decode")


@dataclass(frozen=True)
class DataConfig:
    """Where the prepared data lives and how it is cut into batches."""

    dir: Optional[str] = None  # made by `s2s prepare`; relative to the recipe file; `s2s train --data` overrides it
    src: Optional[str] = None  # source language; default: the direction recorded by `prepare`
    tgt: Optional[str] = None
    max_tokens: int = 4096  # padded source+target tokens per batch (token-bucket batching)
    batch_size: Optional[int] = None  # fixed sentences per batch instead of max_tokens (peer benchmarks use 64)
    max_len: int = 128  # training pairs with a longer side (in subwords) are skipped
    # Subword regularisation (s2s/data/sampling.py): each epoch samples a new segmentation of the training text
    # with this smoothing (unigram: 0.1 as in OpenNMT-py's and Marian's examples; bpe: the dropout rate).
    subword_alpha: Optional[float] = None

    def check(self) -> None:
        require(self.max_tokens > 0, "max_tokens: must be positive")
        require(self.batch_size is None or self.batch_size > 0, "batch_size: must be positive")
        require(self.max_len > 0, "max_len: must be positive")
        require(self.subword_alpha is None or 0 < self.subword_alpha <= 1, "subword_alpha: must be in (0, 1] or null")


@dataclass(frozen=True)
class TrainConfig:
    """The optimiser, its schedule and the loop's stopping rules."""

    seed: int = 1
    max_steps: int = 10000  # optimiser updates
    max_epochs: Optional[int] = None
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    lr_schedule: Literal["constant", "noam", "plateau"] = "constant"
    warmup_steps: int = 4000  # noam: lr rises linearly for this many steps, then falls as 1/sqrt(step)
    plateau_factor: float = 0.5  # plateau: multiply lr by this after `plateau_patience` bad validations
    plateau_patience: int = 2
    clip_norm: Optional[float] = 1.0  # gradient clipping by global norm; null for none
    accumulate: int = 1  # batches per optimiser update (gradient accumulation)
    label_smoothing: float = 0.0
    log_every: int = 50
    valid_every: int = 500
    valid_bleu: bool = True  # dev BLEU by greedy decoding at each validation (costs time on big dev sets)
    valid_max_sentences: int = 500  # dev sentences decoded for BLEU (the loss uses the whole dev split)
    metric: Literal["bleu", "loss"] = "bleu"  # what picks the `best` checkpoint and drives early stopping
    patience: Optional[int] = None  # stop after this many validations without improvement
    device: str = "cpu"
    precision: Literal["fp32", "bf16", "fp16", "auto"] = "fp32"  # auto: bf16 where the hardware computes it natively
    threads: Optional[int] = None  # torch intra-op threads; default: torch's choice
    save_every: Optional[int] = None  # also write `last.pt` every this many steps (besides each validation)
    save_every_minutes: Optional[float] = 10.0  # and at least this often, so a SIGKILL loses minutes, not hours
    keep_last: int = 0  # keep the weights of the last N validations (checkpoints/step-N.pt) for `s2s average`
    # Training-time budget across resumes: seconds, or "90s", "30m", "2h" (Any: a number or a string, which
    # `max_time_seconds` checks and parses).
    max_time: Any = None

    def check(self) -> None:
        require(self.max_steps > 0, "max_steps: must be positive")
        require(self.lr > 0, "lr: must be positive")
        require(all(0 <= b < 1 for b in self.betas), "betas: each must be in [0, 1)")
        require(self.weight_decay >= 0, "weight_decay: must be >= 0")
        require(self.warmup_steps > 0, "warmup_steps: must be positive")
        require(0 < self.plateau_factor < 1, "plateau_factor: must be in (0, 1)")
        require(self.clip_norm is None or self.clip_norm > 0, "clip_norm: must be positive or null")
        require(self.accumulate >= 1, "accumulate: must be >= 1")
        require(0 <= self.label_smoothing < 1, "label_smoothing: must be in [0, 1)")
        require(self.log_every > 0, "log_every: must be positive")
        require(self.valid_every > 0, "valid_every: must be positive")
        require(self.patience is None or self.patience > 0, "patience: must be positive or null")
        device = device_problem(self.device)  # usable on this machine is checked when training starts
        require(device is None, f"device: {self.device!r} is {device}")
        require(self.save_every is None or self.save_every > 0, "save_every: must be positive or null")
        require(self.save_every_minutes is None or self.save_every_minutes > 0,
                "save_every_minutes: must be positive or null")
        require(self.keep_last >= 0, "keep_last: must be >= 0")
        self.max_time_seconds  # noqa: B018 (raises on a malformed budget)

    @property
    def max_time_seconds(self) -> Optional[float]:
        """`max_time` in seconds: a number is seconds already; a string ends in s, m or h."""
        value = self.max_time
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"max_time: {value!r} is not a duration like 90s, 30m, 2h or seconds")
        if isinstance(value, str):
            units = {"s": 1, "m": 60, "h": 3600}
            text = value.strip().lower()
            try:
                value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
            except ValueError:
                raise ValueError(f"max_time: {self.max_time!r} is not a duration like 90s, 30m, 2h or seconds") \
                    from None
        require(math.isfinite(value) and value > 0, "max_time: must be a positive duration")
        return float(value)


@dataclass(frozen=True)
class Named:
    """A registry entry chosen by name, with its typed config (e.g. `arch: lstm` + `LSTMConfig`)."""

    name: str
    config: Any


@dataclass(frozen=True)
class Recipe:
    name: str
    data: DataConfig
    model: Named
    train: TrainConfig
    teacher_forcing: Any  # s2s.teacher_forcing.TeacherForcingConfig
    decode: Named


def _named(registry: Registry, section: Any, path: str, default: Optional[str]) -> Named:
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError(path, f"expected a mapping of keys to values, got {section!r}")
    values = dict(section)
    name = values.pop(registry.key, default)
    if name is None:
        raise ConfigError(f"{path}.{registry.key}", f"is required; choose one of: {', '.join(registry.names())}")
    if not isinstance(name, str):
        raise ConfigError(f"{path}.{registry.key}", f"{name!r} is not a name")
    return Named(name, registry.build_config(name, values, path))


def recipe_from_dict(raw: Any, name: str = "recipe") -> Recipe:
    """A checked `Recipe` from plain data (a parsed YAML file or a checkpoint's stored recipe)."""
    import s2s.models  # noqa: F401  (registers the architectures)
    import s2s.decoding  # noqa: F401  (registers the decoding strategies)
    from s2s.teacher_forcing import TeacherForcingConfig

    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"a recipe must be a mapping of sections ({', '.join(SECTIONS)}), got {type(raw).__name__}")
    unknown = [k for k in raw if k not in SECTIONS]
    if unknown:
        raise ConfigError(str(unknown[0]), f"unknown section; valid sections: {', '.join(SECTIONS)}")
    if "model" not in raw:
        raise ConfigError("model", "section is required (it names the architecture: model.arch)")
    return Recipe(
        name=name,
        data=from_mapping(DataConfig, raw.get("data"), "data"),
        model=_named(ARCHITECTURES, raw.get("model"), "model", default=None),
        train=from_mapping(TrainConfig, raw.get("train"), "train"),
        teacher_forcing=TeacherForcingConfig.from_mapping(raw.get("teacher_forcing"), "teacher_forcing"),
        decode=_named(DECODERS, raw.get("decode"), "decode", default="greedy"),
    )


def recipe_to_dict(recipe: Recipe) -> dict:
    """The resolved recipe as plain data, every default filled in: what runs and checkpoints store."""
    from s2s.teacher_forcing import TeacherForcingConfig

    assert isinstance(recipe.teacher_forcing, TeacherForcingConfig)
    return {
        "data": to_mapping(recipe.data),
        "model": {ARCHITECTURES.key: recipe.model.name, **to_mapping(recipe.model.config)},
        "train": to_mapping(recipe.train),
        "teacher_forcing": recipe.teacher_forcing.to_mapping(),
        "decode": {DECODERS.key: recipe.decode.name, **to_mapping(recipe.decode.config)},
    }


def parse_override(text: str) -> tuple[list[str], Any]:
    """`train.lr=3e-4` -> (["train", "lr"], 0.0003). The value is read as YAML (numbers, booleans, lists)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise S2SError(f"--set: {text!r} is not of the form section.key=value")
    parts = key.strip().split(".")
    if len(parts) < 2 or not all(parts):
        raise S2SError(f"--set: {key!r} must name a section and a key, e.g. train.lr")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        parsed = value
    if isinstance(parsed, str):
        try:  # YAML 1.1 leaves "3e-4" a string; numbers are what people mean there
            parsed = float(parsed) if any(c in parsed for c in ".eE") else int(parsed)
        except ValueError:
            pass
    return parts, parsed


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    for text in overrides:
        parts, value = parse_override(text)
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(".".join(parts[: i + 1]), f"is {child!r}, not a section; cannot set {'.'.join(parts)}")
            node = child
        node[parts[-1]] = value
    return raw


def read_yaml(path: Path) -> Any:
    """A YAML file through the safe loader, with one-line errors naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise S2SError(f"{path}: no such recipe file") from None
    except (OSError, UnicodeDecodeError) as err:  # strerror: "Is a directory", not "[Errno 21] Is a directory: ..."
        raise S2SError(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if isinstance(err, yaml.constructor.ConstructorError) and "constructor for the tag" in problem:
            tag = problem.rpartition(" tag ")[2]
            raise S2SError(f"{where}: refused the tag {tag}: a recipe is plain data, read with YAML's safe loader, "
                           "which builds no Python objects") from None
        raise S2SError(f"{where}: invalid YAML: {problem}") from None


def relative_to_file(recipe_path: Path, value: str) -> str:
    """A path written in a recipe, as an absolute path: relative paths are relative to the recipe's directory."""
    return os.path.normpath(Path(recipe_path).absolute().parent / Path(value).expanduser())


def load_recipe(path: Path, overrides: Optional[list[str]] = None) -> Recipe:
    """Read, override and check a recipe file. Errors name the file and the key."""
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise S2SError(f"{path}: a recipe must be a mapping of sections ({', '.join(SECTIONS)})")
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("dir"), str) and data["dir"]:
        raw["data"] = {**data, "dir": relative_to_file(path, data["dir"])}
    # A `--set data.dir=...` is relative to the working directory, like any path on the command line.
    return recipe_with_overrides(raw, list(overrides or []), str(path), Path(path).stem)


def recipe_with_overrides(raw: dict, overrides: list[str], source: str, name: str) -> Recipe:
    """A recipe's plain data (from a file or a checkpoint) with `--set` overrides applied, then checked.

    An error in a key that an override set names that `--set`, not the file, which says otherwise; any other
    error names `source`, where the rest of the recipe came from.
    """
    try:
        return recipe_from_dict(apply_overrides(raw, overrides), name=name)
    except ConfigError as err:
        set_keys = [text.partition("=")[0].strip() for text in overrides]
        by_set = any(err.key == key or err.key.startswith((key + ".", key + "[")) for key in set_keys)
        raise S2SError(f"--set {err}" if by_set else f"{source}: {err}") from None


def recipe_to_yaml(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe_to_dict(recipe), sort_keys=False, allow_unicode=True)


__all__ = ["DataConfig", "TrainConfig", "Named", "Recipe", "load_recipe", "recipe_with_overrides", "recipe_from_dict",
           "recipe_to_dict", "recipe_to_yaml", "apply_overrides", "parse_override", "read_yaml"]
