"""Self-describing checkpoints that are safe to open.

One file holds everything `translate` needs (weights, the resolved recipe, both SentencePiece models) and, for
resumable checkpoints, the training state (optimiser, step, data position, RNG states). It is written with
`torch.save` but contains only tensors and plain data, and is read with `torch.load(weights_only=True)`: opening
a checkpoint never unpickles arbitrary objects, so a planted payload cannot run.

Anything that is not a zip archive (as `torch.save` writes) is refused before any unpickler sees it, and every
field is type-checked before use. Each file records its format version, the s2s version, a SHA-256 of its weights
and one of everything else (recipe, vocabularies, training state); a truncated or corrupted file, a checksum
mismatch or an unknown format version is refused with a message that says which. Writes go to a temporary file
in the same directory, are flushed to disk, then renamed over the target (`atomic_write`, streamed): a process
killed at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional

import torch

import s2s
from s2s.atomic import atomic_write
from s2s.config import Recipe, recipe_from_dict, recipe_to_dict
from s2s.errors import ConfigError, S2SError
from s2s.trainstate import TrainState

FORMAT = "s2s-checkpoint"
FORMAT_VERSION = 1
ZIP_MAGIC = b"PK\x03\x04"


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over parameter names, dtypes, shapes and raw bytes, in sorted order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        _feed_tensor(h, name, state_dict[name])
    return h.hexdigest()


def content_digest(fields: dict) -> str:
    """SHA-256 over everything else a checkpoint holds (recipe, vocabularies, training state), walked in order.

    The optimiser's moments are twice the size of the weights: without this, most flipped bits would land there
    and a resumed run would carry them on silently.
    """
    h = hashlib.sha256()
    _feed(h, fields)
    return h.hexdigest()


def _feed_tensor(h, name: str, t: torch.Tensor) -> None:
    t = t.detach().to("cpu").contiguous()
    h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
    h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def _feed(h, value) -> None:
    if isinstance(value, torch.Tensor):
        _feed_tensor(h, "T", value)
    elif isinstance(value, dict):
        h.update(f"{{{len(value)}".encode())
        for key in sorted(value, key=repr):
            h.update(f"{key!r}=".encode())
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):  # a tuple may come back as a list: the same content either way
        h.update(f"[{len(value)}".encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, bytes):
        h.update(f"b{len(value)}|".encode() + value)
    else:
        h.update(f"{type(value).__name__}:{value!r}|".encode())


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says about the run that made it: for `s2s info`, `s2s compare` and the benchmarks."""

    parameters: int = 0
    train_seconds: float = 0.0
    tokens_seen: int = 0
    step: int = 0
    averaged_steps: Optional[list[int]] = None  # `s2s average`: the steps whose weights were averaged


@dataclass
class TrainingRecord:
    """What a resumable checkpoint adds: the optimiser, the loop's `TrainState` and how many processes trained."""

    optimizer: dict  # `torch.optim.Optimizer.state_dict()`
    state: TrainState
    world_size: int = 1  # other process counts draw other dropout masks, so their RNG states are not restored


@dataclass
class Checkpoint:
    """A loaded checkpoint: the resolved recipe, the weights, the data it was trained on, and its record."""

    recipe: Recipe
    model_state: dict[str, torch.Tensor]
    src_lang: str
    tgt_lang: str
    src_vocab: bytes  # serialized SentencePiece models
    tgt_vocab: bytes
    data_dir: str  # where the run's data came from (evaluate finds its test split there)
    vocab_fingerprint: str  # sha256 of the two vocabularies: resuming on other data is refused
    training: Optional[TrainingRecord] = None  # present in resumable checkpoints
    info: CheckpointInfo = CheckpointInfo()
    source: str = ""  # the file it was loaded from, for messages (not saved)

    def to_payload(self) -> dict:
        content = {name: _to_plain(getattr(self, name)) for name in CONTENT}
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "s2s_version": s2s.__version__,
            "model_state": self.model_state,
            "weights_sha256": weights_digest(self.model_state),
            **content,
            "content_sha256": content_digest(content),
        }


# The fields `content_sha256` covers, in the order `to_payload` writes them: all but the weights and the source.
CONTENT = tuple(f.name for f in fields(Checkpoint) if f.name not in ("model_state", "source"))
# What `load_checkpoint` requires of each stored field before anything uses it (a hand-made file may hold anything).
_STORED_AS: dict[str, tuple[type, ...]] = {"recipe": (dict,), "src_vocab": (bytes,), "tgt_vocab": (bytes,),
                                           "training": (dict, type(None)), "info": (dict, type(None))}
_FIELDS = {"model_state": (dict,), "weights_sha256": (str,), **{name: _STORED_AS.get(name, (str,)) for name in CONTENT},
           "content_sha256": (str,)}


def _to_plain(value):
    """A field as the file stores it: plain data (the recipe as `recipe_to_dict` writes it; no None in info)."""
    if isinstance(value, Recipe):
        return recipe_to_dict(value)
    if isinstance(value, TrainingRecord):
        return {"optimizer": value.optimizer, "state": asdict(value.state), "world_size": value.world_size}
    if isinstance(value, CheckpointInfo):
        return {k: v for k, v in asdict(value).items() if v is not None}
    return value


def _from_plain(path: Path, payload: dict) -> dict:
    """The stored fields as `Checkpoint` types them; S2SError naming the file where they do not fit."""
    values = {name: payload[name] for name in CONTENT}
    try:
        values["recipe"] = recipe_from_dict(payload["recipe"], name=str(path))
    except ConfigError as err:
        raise S2SError(f"{path}: its recipe is not one this s2s reads ({err})") from None
    try:
        training = payload["training"]
        if training is not None:
            values["training"] = TrainingRecord(training["optimizer"], TrainState(**training["state"]),
                                                training.get("world_size", 1))
        known = {f.name for f in fields(CheckpointInfo)}
        values["info"] = CheckpointInfo(**{k: v for k, v in (payload["info"] or {}).items() if k in known})
    except (KeyError, TypeError) as err:
        raise S2SError(f"{path}: corrupted checkpoint: its training record does not fit ({_first_line(err)})") from None
    return values


def vocab_fingerprint(src_vocab: bytes, tgt_vocab: bytes) -> str:
    return hashlib.sha256(src_vocab + b"\0" + tgt_vocab).hexdigest()


def save_checkpoint(ckpt: Checkpoint, path: Path) -> None:
    payload = ckpt.to_payload()
    atomic_write(Path(path), lambda f: torch.save(payload, f))  # S2SError naming the file when it can't be written


def load_checkpoint(path: Path) -> Checkpoint:
    """Open a checkpoint safely, refusing anything that is not exactly what `save_checkpoint` writes."""
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: no such checkpoint file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as err:
        raise S2SError(f"{path}: cannot read: {err.strerror or err}") from None
    if magic != ZIP_MAGIC:  # torch.save writes a zip archive; anything else is not handed to any unpickler
        what = "the file is empty" if not magic else "not a zip archive as torch.save writes"
        raise S2SError(f"{path}: not an s2s checkpoint ({what}; nothing in it was read or run)")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; the verdict below is the message
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise S2SError(f"{path}: {_unpickling_problem(str(err))}") from None
    except OSError as err:
        raise S2SError(f"{path}: cannot read: {err.strerror or err}") from None
    except MemoryError:
        raise
    except Exception as err:  # torch raises RuntimeError, EOFError, KeyError, IndexError... for damaged files
        raise S2SError(f"{path}: not a readable checkpoint (truncated or corrupted: {_first_line(err)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise S2SError(f"{path}: not an s2s checkpoint")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise S2SError(
            f"{path}: checkpoint format version {version} (written by s2s {payload.get('s2s_version')}); "
            f"this s2s ({s2s.__version__}) reads version {FORMAT_VERSION}"
        )
    for key, kinds in _FIELDS.items():
        if key not in payload:
            raise S2SError(f"{path}: incomplete checkpoint: missing {key!r}")
        if not isinstance(payload[key], kinds):
            raise S2SError(f"{path}: corrupted checkpoint: {key!r} is a {type(payload[key]).__name__}")
    state = payload["model_state"]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise S2SError(f"{path}: corrupted checkpoint: model_state holds something other than named tensors")
    if weights_digest(state) != payload["weights_sha256"]:
        raise S2SError(f"{path}: corrupted checkpoint: the weights do not match their recorded SHA-256")
    if content_digest({k: payload[k] for k in CONTENT}) != payload["content_sha256"]:
        raise S2SError(f"{path}: corrupted checkpoint: its recipe, vocabularies or training state do not match "
                       "their recorded SHA-256")
    return Checkpoint(model_state=state, source=str(path), **_from_plain(path, payload))


def load_weights(model: torch.nn.Module, ckpt: Checkpoint) -> None:
    """Put the checkpoint's weights into `model`, built from its recipe; S2SError when they don't fit it (a file
    from a version of s2s whose layers were named or shaped differently, or one edited by hand)."""
    try:
        model.load_state_dict(ckpt.model_state)
    except RuntimeError as err:
        detail = " ".join(str(err).split("\n", 1)[-1].split())
        raise S2SError(f"{ckpt.source or 'checkpoint'}: its weights do not fit the {ckpt.recipe.model.name} model "
                       f"its recipe describes ({detail[:200]})") from None


def _first_line(err: BaseException) -> str:
    """The first sentence of an exception's message: torch's go on for a paragraph."""
    text = str(err).strip()
    first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else ""
    return (first if len(first) > 3 else f"{type(err).__name__} {text}".strip())[:120]


def _unpickling_problem(message: str) -> str:
    """torch's weights-only refusal (a page of advice) as one line naming what the file tried to load."""
    if "Weights only load failed" not in message:
        return f"not a readable checkpoint (truncated or corrupted: {message.strip()[:120] or 'unpickling failed'})"
    found = re.search(r"GLOBAL ([\w.]+)", message)
    what = f"it would import {found.group(1)}" if found else "it holds objects other than tensors and plain data"
    return f"refused to open: {what}; a checkpoint holds only tensors and plain data, so nothing in it was run"


def resolve_checkpoint(target: Optional[Path], which: str = "best") -> Path:
    """A checkpoint file from a run directory, a file, or (None) the newest run `runs/latest`."""
    if target is None:
        target = Path("runs") / "latest"
        if not target.exists():
            raise S2SError("no run given and runs/latest does not exist: train a model first or pass -m RUN")
    target = Path(target)
    if target.is_dir():
        for name in (f"{which}.pt", "best.pt", "last.pt"):
            candidate = target / "checkpoints" / name
            if candidate.is_file():
                return candidate
        raise S2SError(f"{target}: no checkpoints in this run directory (expected checkpoints/{which}.pt)")
    if not target.exists():
        raise S2SError(f"{target}: no such run directory or checkpoint file")
    return target


def step_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    """The `step-N.pt` files that `train.keep_last` keeps, oldest first."""
    found = (re.fullmatch(r"step-(\d+)\.pt", p.name) for p in Path(ckpt_dir).glob("step-*.pt"))
    return sorted((int(m.group(1)), Path(ckpt_dir) / m.group(0)) for m in found if m)


def prune_step_checkpoints(ckpt_dir: Path, keep: int) -> None:
    for _, path in step_checkpoints(ckpt_dir)[:-keep]:
        path.unlink(missing_ok=True)


def run_dir_of(checkpoint_path: Path) -> Path:
    """The run directory that holds a checkpoint (its `checkpoints/` parent's parent)."""
    p = Path(checkpoint_path).resolve()
    return p.parent.parent if p.parent.name == "checkpoints" else p.parent
