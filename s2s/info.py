"""`s2s info RUN`: what a run or checkpoint is, read from the checkpoint and the run's metrics, without a model.

A user coming back to `runs/` a week later wants the facts that tell runs apart: the architecture and its size,
the data and direction, how long it trained, the best dev scores, and how its recipe differs from the defaults
(the defaults are what `s2s list` shows, so the differences are the whole story of the recipe).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from s2s.checkpoint import load_checkpoint, resolve_checkpoint, run_dir_of
from s2s.config import recipe_to_dict
from s2s.errors import S2SError


@dataclass
class RunInfo:
    checkpoint: str
    arch: str
    parameters: Optional[int]
    data_dir: str
    direction: str
    steps: Optional[int]
    train_seconds: Optional[float]
    tokens_seen: Optional[int]
    best_dev: dict = field(default_factory=dict)  # best value of each dev metric over the run's validations
    recipe_changes: dict = field(default_factory=dict)  # "section.key" -> value, where it differs from the default

    def to_dict(self) -> dict:
        return asdict(self)


def run_info(target: Path) -> RunInfo:
    """Facts about a run directory (its `last` checkpoint, else `best`) or a checkpoint file."""
    path = resolve_checkpoint(Path(target), which="last")
    ckpt = load_checkpoint(path)
    info = ckpt.info
    return RunInfo(
        checkpoint=str(path), arch=ckpt.recipe.model.name, parameters=info.parameters, data_dir=ckpt.data_dir,
        direction=f"{ckpt.src_lang}->{ckpt.tgt_lang}", steps=info.step, train_seconds=info.train_seconds,
        tokens_seen=info.tokens_seen, best_dev=_best_dev(run_dir_of(path)),
        recipe_changes=recipe_changes(recipe_to_dict(ckpt.recipe)),
    )


def recipe_changes(stored: dict) -> dict[str, Any]:
    """The stored (resolved) recipe's values that differ from a recipe naming only its architecture and decoder."""
    from s2s.config import recipe_from_dict, recipe_to_dict
    from s2s.errors import ConfigError

    model, decode = stored.get("model") or {}, stored.get("decode") or {}
    try:
        defaults = recipe_to_dict(recipe_from_dict({"model": {"arch": model.get("arch")},
                                                    "decode": {"strategy": decode.get("strategy", "greedy")}}))
    except ConfigError as err:
        raise S2SError(f"the checkpoint's recipe names no known architecture or decoder ({err})") from None
    changes = {}
    for section, values in stored.items():
        for key, value in (values or {}).items():
            default = defaults.get(section, {}).get(key)
            if _plain(value) != _plain(default):
                changes[f"{section}.{key}"] = value
    return changes


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value  # a tuple default reads back as a list


def _best_dev(run_dir: Path) -> dict[str, float]:
    """The best of each dev metric in the run's metrics.jsonl (lowest loss/perplexity, highest BLEU/accuracy)."""
    from s2s.runlog import read_metrics

    try:
        records = [r for r in read_metrics(run_dir) if r.get("kind") == "valid"]
    except S2SError:
        return {}  # a checkpoint file outside its run directory: no metrics to read
    best: dict[str, float] = {}
    for record in records:
        for key, value in record.items():
            if not key.startswith("dev_") or not isinstance(value, (int, float)):
                continue
            lower_is_better = key in ("dev_loss", "dev_ppl")
            if key not in best or (value < best[key] if lower_is_better else value > best[key]):
                best[key] = value
    return best
