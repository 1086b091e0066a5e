"""`s2s export RUN --to ctranslate2`: a run's Transformer as a CTranslate2 model directory, written atomically.

The directory holds what `ctranslate2.Translator` loads (`model.bin`, `config.json`, the vocabulary as JSON),
the SentencePiece model(s) that turn text into its tokens and back, and the manifest (`s2s.ct2.manifest`). It is
built beside its target and renamed into place (`s2s.data.staging`): an interrupted export leaves nothing
half-written, and an existing directory is replaced only with `--force`. Recurrent architectures are refused in
one line: CTranslate2 has no spec for them, and s2s's own decoder serves them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import s2s
from s2s.checkpoint import load_checkpoint, resolve_checkpoint, run_dir_of
from s2s.ct2 import QUANTIZATIONS, require_ctranslate2
from s2s.ct2.manifest import Export
from s2s.errors import S2SError

JOINT_VOCAB = "sentencepiece.model"  # one file when both sides share the vocabulary
SRC_VOCAB, TGT_VOCAB = "source.model", "target.model"


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    export: Export
    model_bytes: int  # size of model.bin
    checkpoint_bytes: int


def default_out(run: Path, quantization: str) -> Path:
    """`RUN/ct2-<type>`: inside the run it came from, one directory per weight type."""
    return run / f"ct2-{quantization}"


def export_ctranslate2(target: Optional[Path], out: Optional[Path] = None, quantization: str = "float32",
                       force: bool = False) -> ExportResult:
    """Export the run (or checkpoint) `target` (None: runs/latest) to `out` (default `default_out`)."""
    if quantization not in QUANTIZATIONS:
        raise S2SError(f"--quantize {quantization}: choose one of {', '.join(QUANTIZATIONS)}")
    ctranslate2 = require_ctranslate2("s2s export --to ctranslate2")
    from s2s.config import recipe_to_dict
    from s2s.ct2.spec import transformer_spec
    from s2s.data.staging import check_target, staged
    from s2s.data.subwords import Vocab

    path = resolve_checkpoint(target)
    ckpt = load_checkpoint(path)
    recipe = ckpt.recipe
    if recipe.model.name != "transformer":
        raise S2SError(f"{target or path}: a {recipe.model.name} model: CTranslate2 has no spec for recurrent "
                       f"architectures, so only transformer runs export; translate this one with s2s's own "
                       f"decoder: s2s translate -m {target or path}")
    out = Path(out) if out is not None else default_out(run_dir_of(path), quantization)
    check_target(out, force)  # before the minutes a large model takes
    src_vocab, tgt_vocab = Vocab.from_bytes(ckpt.src_vocab), Vocab.from_bytes(ckpt.tgt_vocab)
    spec = transformer_spec(recipe.model.config, ckpt.model_state, src_vocab.pieces(range(src_vocab.size)),
                            tgt_vocab.pieces(range(tgt_vocab.size)))
    spec.optimize(quantization=quantization)
    joint = ckpt.src_vocab == ckpt.tgt_vocab
    export = Export(
        source_run=str(run_dir_of(path)), checkpoint=str(path), checkpoint_sha256=_sha256(path),
        s2s_version=s2s.__version__, ctranslate2_version=ctranslate2.__version__, quantization=quantization,
        src_lang=ckpt.src_lang, tgt_lang=ckpt.tgt_lang, data_dir=ckpt.data_dir,
        src_vocab=JOINT_VOCAB if joint else SRC_VOCAB, tgt_vocab=JOINT_VOCAB if joint else TGT_VOCAB,
        max_positions=recipe.model.config.max_positions, recipe=recipe_to_dict(recipe))
    try:
        with staged(out, force) as work:
            spec.save(str(work))
            (work / export.src_vocab).write_bytes(ckpt.src_vocab)
            (work / export.tgt_vocab).write_bytes(ckpt.tgt_vocab)
            export.write(work)
            model_bytes = (work / "model.bin").stat().st_size
    except OSError as err:  # a full disk or a read-only folder: staged() has removed the work
        raise S2SError(f"{out}: cannot write: {err.strerror or err}") from None
    return ExportResult(out, export, model_bytes, path.stat().st_size)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
