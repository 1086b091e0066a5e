"""The manifest an exported directory carries: where the model came from and how to translate with it.

`s2s-export.json` names the source run and checkpoint (with the checkpoint file's SHA-256, so an export can be
traced to the exact weights), the s2s and CTranslate2 versions, the weight type, the direction, the run's data
directory (for `s2s evaluate -m DIR`'s default split), the vocabulary files, and the run's resolved recipe, whose
`decode` section stays the default decoder, as it is for the run itself. Reading it needs no ctranslate2, so a
directory is recognised, and a missing package reported, before anything is loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from s2s.errors import S2SError

MANIFEST = "s2s-export.json"
FORMAT = "s2s-ctranslate2"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Export:
    """An exported model directory, as its manifest describes it."""

    source_run: str  # the run directory it was exported from
    checkpoint: str  # the checkpoint file, and the SHA-256 of its bytes
    checkpoint_sha256: str
    s2s_version: str
    ctranslate2_version: str
    quantization: str  # the weight type written: float32, int8, ...
    src_lang: str
    tgt_lang: str
    data_dir: str  # the run's data directory
    src_vocab: str  # SentencePiece model files in the directory (the same file when the vocabulary is joint)
    tgt_vocab: str
    max_positions: int  # the longest source or output (in subwords) the model's position table covers
    recipe: dict  # the run's resolved recipe: its decode section is the default decoder
    path: str = ""  # the directory it was read from (not saved)

    @property
    def direction(self) -> str:
        return f"{self.src_lang}->{self.tgt_lang}"

    def write(self, directory: Path) -> None:
        fields = {k: v for k, v in asdict(self).items() if k != "path"}
        text = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **fields}, ensure_ascii=False, indent=2)
        (Path(directory) / MANIFEST).write_text(text + "\n", encoding="utf-8")


def is_export(target: Optional[Path]) -> bool:
    """Whether `target` is a directory written by `s2s export` (it holds the manifest)."""
    return target is not None and (Path(target) / MANIFEST).is_file()


def read_export(directory: Path) -> Export:
    """The manifest of `directory`, checked field by field; S2SError naming the file when it is not one."""
    path = Path(directory) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise S2SError(f"{path}: cannot read: {err.strerror or err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise S2SError(f"{path}: not a readable manifest ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise S2SError(f"{path}: not an s2s export manifest")
    if data.get("format_version") != FORMAT_VERSION:
        raise S2SError(f"{path}: export format version {data.get('format_version')}; this s2s reads version "
                       f"{FORMAT_VERSION}: export the run again")
    fields = {}
    for name, kind in Export.__annotations__.items():
        if name == "path":
            continue
        value = data.get(name)
        wanted = {"int": int, "dict": dict}.get(kind, str)
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise S2SError(f"{path}: incomplete manifest: {name!r} is missing or not a {wanted.__name__}")
        fields[name] = value
    return Export(**fields, path=str(directory))
