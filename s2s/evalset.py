"""An evaluation set: source lines and their references, read from a run's split or from two files, aligned.

`s2s evaluate` and `s2s compare` both score translations of such a set; each failure (a missing split, a file
that is not UTF-8, files that do not align) is one line naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from s2s.errors import S2SError
from s2s.wording import count


@dataclass(frozen=True)
class EvalSet:
    sources: list[str]
    references: list[str]
    described: str  # what it is, for a table's title: "test split of data/ko-en", "a.ko vs a.en"


def read_text(path: Path, what: str) -> list[str]:
    """The lines of a UTF-8 text file (without their line ends, a CR included); `what` names it in errors."""
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            return [line.rstrip("\n").removesuffix("\r") for line in f]
    except FileNotFoundError:
        raise S2SError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise S2SError(f"{path}: is a directory, not a {what} file") from None
    except UnicodeDecodeError as err:
        raise S2SError(f"{path}: not UTF-8 text (byte {err.start})") from None


def aligned(a: list[str], a_path: object, b: list[str], b_path: object) -> None:
    if len(a) != len(b):
        raise S2SError(f"{a_path} has {count(len(a), 'line')} but {b_path} has {len(b):,}: the files must align "
                       "line by line")


def from_files(src: Path, ref: Path) -> EvalSet:
    sources, references = read_text(src, "source"), read_text(ref, "reference")
    aligned(sources, src, references, ref)
    return EvalSet(sources, references, f"{src} vs {ref}")


def from_split(data_dir: Path, split: str, src_lang: str, tgt_lang: str, owner: str = "the run") -> EvalSet:
    """`split` (dev or test) of a prepared data directory, as a run's checkpoint names it."""
    data_dir = Path(data_dir)
    src_file, ref_file = data_dir / f"{split}.{src_lang}", data_dir / f"{split}.{tgt_lang}"
    for file in (src_file, ref_file):
        if not file.is_file():
            raise S2SError(f"{file}: {owner}'s {split} split is missing (was {data_dir} moved?); "
                           "use --src FILE --ref FILE")
    sources, references = read_text(src_file, "source"), read_text(ref_file, "reference")
    aligned(sources, src_file, references, ref_file)
    return EvalSet(sources, references, f"{split} split of {data_dir}")
