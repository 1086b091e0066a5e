"""Choose the dev and test sets by index from a seed, keep their sentences out of train, write the split files.

Sizes: `--dev N` / `--test N` count sentence pairs. Left out, each is `min(1000, pool // 10)`: a large corpus gets
1,000 each, the 2,648-pair sample 264 each, a 30-pair toy 3 each. Sizes given explicitly are honoured, but must
leave at least one training pair. A split read from `--dev-file` / `--test-file` takes nothing from the pool.
Every split gets at least one pair, or `prepare` refuses the corpus: under 10 pairs the 10% default is none.

Selection is a function of (seed, pool size, sizes) only: one seeded numpy draw without replacement, so it needs
no list of sentences in memory and the same seed gives the same split. Dev and test keep corpus order.

Leak rule: a train pair is dropped when its source equals a dev or test source, or its target equals a dev or
test target (exact, after normalisation; same side only: a Korean side equal to an English side is a name or
a number, not a leak). Exact duplicates were already removed from the pool, so a dev pair never repeats in
train either. Dev and test are not checked against each other: both are held out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Collection, Iterable, Iterator, Optional

import numpy as np

from s2s.data.cleaning import Tally
from s2s.errors import S2SError
from s2s.wording import count

if TYPE_CHECKING:
    from s2s.data.report import Progress

DEFAULT_HELD_OUT = 1000
TRAIN, DEV, TEST = 0, 1, 2
SPLITS = ("train", "dev", "test")


def held_out_sizes(
    pool: int, dev: Optional[int], test: Optional[int], corpus: str, from_files: Collection[str] = ()
) -> tuple[int, int]:
    """How many pool pairs go to dev and test (0 for a split named in `from_files`: it comes from a file).

    Every split needs a pair: `train` validates on dev and `evaluate` scores test, so a corpus too small to give
    each one is refused here, in one line naming `corpus`, rather than prepared with an empty split.
    """
    default = min(DEFAULT_HELD_OUT, pool // 10)
    asked = {name: size for name, size in (("dev", dev), ("test", test)) if name not in from_files}
    for name, size in asked.items():
        if size is not None and size < 1:
            raise S2SError(f"--{name} {size}: dev and test need at least 1 pair each (train validates on dev, "
                           "evaluate scores test)")
    sizes = {name: default if size is None else size for name, size in asked.items()}
    empty = [name for name, size in sizes.items() if size == 0]  # a default of 10% from fewer than 10 pairs
    if empty:
        flags = " ".join(f"--{name} 1" for name in empty)
        smallest = len(sizes) + 1
        fix = (f"give {flags} to hold out 1 pair{' each' if len(empty) > 1 else ''}" if pool >= smallest else
               f"train, dev and test need at least 1 pair each, so at least {smallest} even with {flags}")
        raise S2SError(f"{corpus}: only {pool} sentence pair{'s' if pool != 1 else ''} after cleaning, too few for "
                       f"the default {' and '.join(empty)} of 10%{' each' if len(empty) > 1 else ''} (at least 10 "
                       f"pairs); {fix}")
    n_dev, n_test = sizes.get("dev", 0), sizes.get("test", 0)
    if n_dev + n_test >= pool:
        raise S2SError(
            f"{corpus}: --dev {n_dev} --test {n_test} leave no training pairs: only {count(pool, 'pair')} remain{'s' if pool == 1 else ''} after cleaning"
        )
    return n_dev, n_test


def assign(pool: int, n_dev: int, n_test: int, seed: int) -> np.ndarray:
    """(pool,) uint8: TRAIN, DEV or TEST for each pool index; a deterministic function of the arguments."""
    rng = np.random.default_rng([seed, 0x5EED])  # the stream for splits, apart from SentencePiece's sample
    held = rng.choice(pool, size=n_dev + n_test, replace=False)
    split = np.full(pool, TRAIN, dtype=np.uint8)
    split[held[:n_dev]] = DEV
    split[held[n_dev:]] = TEST
    return split


class LeakGuard:
    """The held-out sources and targets, to test train pairs against."""

    def __init__(self, held_out: Iterable[tuple[str, str]]) -> None:
        self.sources: set[str] = set()
        self.targets: set[str] = set()
        for src, tgt in held_out:
            self.sources.add(src)
            self.targets.add(tgt)

    def leaks(self, src: str, tgt: str) -> bool:
        return src in self.sources or tgt in self.targets


def pool_lines(path: Path) -> Iterator[list[str]]:
    """[src, tgt, origin] per line of the pool file `prepare` writes; origin is `input number:line`."""
    with open(path, encoding="utf-8", newline="\n") as f:
        for line in f:
            yield line[:-1].split("\t")


def write_splits(
    work: Path, pool_file: Path, origins: list[Path], pool: int, held: dict[str, list[tuple[str, ...]]],
    langs: tuple[str, str], sizes: tuple[Optional[int], Optional[int]], seed: int, tally: Tally,
    progress: Progress, notes: list[str], corpus: str,
) -> dict[str, int]:
    """Write `{split}.{lang}` text files from the pool file (see `prepare`): held-out splits first, then train
    without leaks; pairs per split. `held` has the splits read from files; `sizes` the --dev/--test counts;
    `corpus` names the inputs in errors."""
    if pool == 0:
        raise S2SError("no sentence pairs left after cleaning; see the counts per rule with the summary (drop --quiet)")
    n_dev, n_test = held_out_sizes(pool, sizes[0], sizes[1], corpus, from_files=held.keys())
    if any(size is None and split not in held and n < DEFAULT_HELD_OUT
           for split, size, n in (("dev", sizes[0], n_dev), ("test", sizes[1], n_test))):
        notes.append(f"small corpus: {n_dev} dev / {n_test} test pairs taken from {pool} (10% each by default)")
    split = assign(pool, n_dev, n_test, seed)
    from_pool: dict[int, list[tuple[str, ...]]] = {DEV: [], TEST: []}
    progress.start("choosing dev and test", pool)
    for i, (src, tgt, _) in enumerate(pool_lines(pool_file)):
        if split[i] != TRAIN:
            from_pool[int(split[i])].append((src, tgt))
        if i % 4096 == 4095:
            progress.advance(4096)
    splits = {"dev": held.get("dev", from_pool[DEV]), "test": held.get("test", from_pool[TEST])}
    for name, pairs in splits.items():
        write_text(work, name, langs, pairs)
    guard = LeakGuard(pair for pairs in splits.values() for pair in pairs)
    progress.start("writing train", pool)
    files = [open(work / f"train.{lang}", "w", encoding="utf-8", newline="\n") for lang in langs]
    train = 0
    try:
        for i, (src, tgt, origin) in enumerate(pool_lines(pool_file)):
            if i % 4096 == 4095:
                progress.advance(4096)
            if split[i] != TRAIN:
                continue
            if guard.leaks(src, tgt):
                number, line = origin.split(":")
                tally.add("leak", origins[int(number)], int(line), f"{src} ||| {tgt}")
                continue
            files[0].write(src + "\n")
            files[1].write(tgt + "\n")
            train += 1
    finally:
        for f in files:
            f.close()
    if train == 0:
        raise S2SError("no training pairs left: every pair is in dev/test or shares a sentence with them")
    return {"train": train, "dev": len(splits["dev"]), "test": len(splits["test"])}


def write_text(work: Path, split: str, langs: tuple[str, str], pairs: list[tuple[str, ...]]) -> None:
    for side, lang in enumerate(langs):
        with open(work / f"{split}.{lang}", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(pair[side] + "\n" for pair in pairs)
