"""Self-describing checkpoints that are safe to open.

One file holds everything `translate` needs (weights, the resolved recipe, both SentencePiece models) and, for
resumable checkpoints, the training state (optimiser, step, data position, RNG states). It is written with
`torch.save` but contains only tensors and plain data, and is read with `torch.load(weights_only=True)`: opening
a checkpoint never unpickles arbitrary objects, so a planted payload cannot run.

Each file records its format version, the s2s version and a SHA-256 of its weights; a truncated or corrupted
file, a checksum mismatch or an unknown format version is refused with a message that says which. Writes go to a
temporary file in the same directory, are flushed to disk, then renamed over the target: a process killed at
any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

import s2s
from s2s.atomic import atomic_write_bytes
from s2s.errors import S2SError

FORMAT = "s2s-checkpoint"
FORMAT_VERSION = 1


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over parameter names, dtypes, shapes and raw bytes, in sorted order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass
class Checkpoint:
    """A loaded checkpoint: plain data plus tensors."""

    recipe: dict  # the resolved recipe (plain data, as `s2s.config.recipe_to_dict` wrote it)
    model_state: dict[str, torch.Tensor]
    src_lang: str
    tgt_lang: str
    src_vocab: bytes  # serialized SentencePiece models
    tgt_vocab: bytes
    data_dir: str  # where the run's data came from (evaluate finds its test split there)
    vocab_fingerprint: str  # sha256 of the two vocabularies: resuming on other data is refused
    training: Optional[dict] = None  # optimiser, step, data position, RNG: present in resumable checkpoints
    info: Optional[dict] = None  # anything descriptive: parameter count, training time, tokens/s

    def to_payload(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "s2s_version": s2s.__version__,
            "recipe": self.recipe,
            "model_state": self.model_state,
            "weights_sha256": weights_digest(self.model_state),
            "src_lang": self.src_lang,
            "tgt_lang": self.tgt_lang,
            "src_vocab": self.src_vocab,
            "tgt_vocab": self.tgt_vocab,
            "data_dir": self.data_dir,
            "vocab_fingerprint": self.vocab_fingerprint,
            "training": self.training,
            "info": self.info or {},
        }


def vocab_fingerprint(src_vocab: bytes, tgt_vocab: bytes) -> str:
    return hashlib.sha256(src_vocab + b"\0" + tgt_vocab).hexdigest()


def save_checkpoint(ckpt: Checkpoint, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(ckpt.to_payload(), buffer)
    try:
        atomic_write_bytes(Path(path), buffer.getvalue())
    except OSError as err:
        raise S2SError(f"{path}: cannot write checkpoint: {err.strerror or err}") from None


def load_checkpoint(path: Path) -> Checkpoint:
    """Open a checkpoint safely, refusing anything that is not exactly what `save_checkpoint` writes."""
    path = Path(path)
    if not path.is_file():
        raise S2SError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unsafe content"
        raise S2SError(f"{path}: refused: the file holds objects other than tensors and plain data ({first[:160]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise S2SError(f"{path}: not a readable checkpoint (truncated or corrupted: {str(err).splitlines()[0][:120]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise S2SError(f"{path}: not an s2s checkpoint")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise S2SError(
            f"{path}: checkpoint format version {version} (written by s2s {payload.get('s2s_version')}); "
            f"this s2s ({s2s.__version__}) reads version {FORMAT_VERSION}"
        )
    state = payload.get("model_state")
    if not isinstance(state, dict) or weights_digest(state) != payload.get("weights_sha256"):
        raise S2SError(f"{path}: corrupted checkpoint: the weights do not match their recorded SHA-256")
    try:
        return Checkpoint(
            recipe=payload["recipe"],
            model_state=state,
            src_lang=payload["src_lang"],
            tgt_lang=payload["tgt_lang"],
            src_vocab=payload["src_vocab"],
            tgt_vocab=payload["tgt_vocab"],
            data_dir=payload["data_dir"],
            vocab_fingerprint=payload["vocab_fingerprint"],
            training=payload.get("training"),
            info=payload.get("info"),
        )
    except KeyError as err:
        raise S2SError(f"{path}: incomplete checkpoint: missing {err.args[0]!r}") from None


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


def run_dir_of(checkpoint_path: Path) -> Path:
    """The run directory that holds a checkpoint (its `checkpoints/` parent's parent)."""
    p = Path(checkpoint_path).resolve()
    return p.parent.parent if p.parent.name == "checkpoints" else p.parent
