"""`manifest.json`: what a prepared data directory holds. `prepare` writes it; `train`, `evaluate` and
`translate` read it through `load_manifest` and never look at the raw corpora again.

Keys (format 1): `s2s_version`, `format`; `languages` (the two stored), `src` and `tgt` (the default direction:
both languages are stored in full, so `train` may read the other way round with recipe keys `data.src` /
`data.tgt`, checked by `Manifest.direction`); `inputs` (role, path as given, format, bytes, sha256); `options`;
`cleaning` (pairs per rule); `splits` (pairs per split); `tokens` (ids per split and language); `vocab`
(`joint`, `model_type`, `requested_size`, `files` and `sizes` per language); `dtype` of the `.bin` files;
`special_ids`. No timestamps and no output path: the same inputs and options give the same manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import s2s
from s2s.errors import S2SError

if TYPE_CHECKING:  # only for the annotations: prepare imports this module
    from s2s.data.cleaning import Tally
    from s2s.data.prepare import PrepareOptions
    from s2s.data.readers import Source
    from s2s.data.subwords import Vocab

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    """The parts of `manifest.json` other modules use; everything else is in `raw`."""

    data_dir: Path
    languages: tuple[str, ...]
    src: str
    tgt: str
    vocab_files: dict[str, str]  # language -> file name inside data_dir
    vocab_sizes: dict[str, int]
    splits: dict[str, int]  # split -> sentence pairs
    dtype: str
    joint: bool
    raw: dict[str, Any]

    def vocab_path(self, lang: str) -> Path:
        if lang not in self.vocab_files:
            raise S2SError(f"{self.data_dir}: no vocabulary for {lang!r} (languages: {', '.join(self.languages)})")
        return self.data_dir / self.vocab_files[lang]

    def direction(self, src: Optional[str] = None, tgt: Optional[str] = None) -> tuple[str, str]:
        """(src, tgt): the given languages, checked, or the prepared default; one given implies the other."""
        if src is None and tgt is None:
            return self.src, self.tgt
        for lang in (src, tgt):
            if lang is not None and lang not in self.languages:
                raise S2SError(f"{self.data_dir}: has no {lang!r} data (languages: {', '.join(self.languages)})")
        if src is None:
            src = next(x for x in self.languages if x != tgt)
        if tgt is None:
            tgt = next(x for x in self.languages if x != src)
        if src == tgt:
            raise S2SError(f"{self.data_dir}: source and target are both {src!r}")
        return src, tgt


def input_record(role: str, path: Path, fmt: str) -> dict:
    """One entry of `inputs`: a file's role (corpus, dev, test), path as given, format, size and SHA-256."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return {"role": role, "path": str(path), "format": fmt, "bytes": path.stat().st_size, "sha256": digest}


def build_manifest(
    sources: list[Source], given: dict[str, list[Source]], options: PrepareOptions, langs: tuple[str, str],
    tally: Tally, sizes: dict[str, int], tokens: dict, vocab_files: dict[str, str], vocabs: dict[str, Vocab],
    dtype: str,
) -> dict:
    """The manifest of a data directory `prepare` has just written, as plain data for `write_manifest`."""
    roles = [("corpus", s) for s in sources] + [(split, s) for split, group in given.items() for s in group]
    return {
        "format": FORMAT,
        "s2s_version": s2s.__version__,
        "languages": list(langs),
        "src": langs[0],
        "tgt": langs[1],
        "inputs": [input_record(role, path, s.format) for role, s in roles for path in s.paths],
        "options": {
            "read": asdict(options.read),
            "clean": asdict(options.clean),
            "subwords": asdict(options.subwords),
            "dev": options.dev,
            "test": options.test,
            "seed": options.seed,
            "strict": options.strict,
        },
        "cleaning": dict(tally.counts),
        "splits": sizes,
        "tokens": tokens,
        "vocab": {
            "joint": options.subwords.joint,
            "model_type": options.subwords.model_type,
            "requested_size": options.subwords.vocab_size,
            "files": vocab_files,
            "sizes": {lang: vocab.size for lang, vocab in vocabs.items()},
        },
        "dtype": dtype,
        "special_ids": {"pad": s2s.PAD_ID, "unk": s2s.UNK_ID, "bos": s2s.BOS_ID, "eos": s2s.EOS_ID},
    }


def write_manifest(data_dir: Path, raw: dict[str, Any]) -> None:
    text = json.dumps(raw, ensure_ascii=False, indent=2)
    (data_dir / MANIFEST).write_text(text + "\n", encoding="utf-8")


def load_manifest(data_dir: Path) -> Manifest:
    """The manifest of a prepared data directory; S2SError naming the directory when it isn't one."""
    data_dir = Path(data_dir)
    path = data_dir / MANIFEST
    if not data_dir.is_dir():
        raise S2SError(f"{data_dir}: no such data directory (make one with `s2s prepare`)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise S2SError(f"{data_dir}: not a prepared data directory (no {MANIFEST}; make one with `s2s prepare`)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise S2SError(f"{path}: can't read it ({err})") from None
    except json.JSONDecodeError as err:
        raise S2SError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    if not isinstance(raw, dict):
        raise S2SError(f"{path}: not a manifest (expected a JSON object)")
    if raw.get("format") != FORMAT:
        raise S2SError(f"{path}: manifest format {raw.get('format')!r}, this s2s reads {FORMAT}; prepare it again")
    try:
        vocab = raw["vocab"]
        manifest = Manifest(
            data_dir=data_dir,
            languages=tuple(raw["languages"]),
            src=raw["src"],
            tgt=raw["tgt"],
            vocab_files=dict(vocab["files"]),
            vocab_sizes={k: int(v) for k, v in vocab["sizes"].items()},
            splits={k: int(v) for k, v in raw["splits"].items()},
            dtype=raw["dtype"],
            joint=bool(vocab["joint"]),
            raw=raw,
        )
    except KeyError as err:
        raise S2SError(f"{path}: missing key {err.args[0]!r}; prepare the data again") from None
    except (TypeError, ValueError, AttributeError) as err:
        raise S2SError(f"{path}: malformed manifest ({err})") from None
    return manifest
