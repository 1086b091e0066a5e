"""Choose the dev and test sets by index from a seed, keep their sentences out of train, write the split files.

Sizes: `--dev N` / `--test N` count sentence pairs. Left out, each is `min(1000, pool // 10)`: a large corpus gets
1,000 each, the 2,648-pair sample 264 each, a 30-pair toy 3 each. Sizes given explicitly are honoured, but must
leave at least one training pair. A split read from `--dev-file` / `--test-file` takes nothing from the pool.

Selection is a function of (seed, pool size, sizes) only: one seeded numpy draw without replacement, so it needs
no list of sentences in memory and the same seed gives the same split. Dev and test keep corpus order.

Leak rule: a train pair is dropped when its source equals a dev or test source, or its target equals a dev or
test target (exact, after normalisation; same side only: a Korean side equal to an English side is a name or
a number, not a leak). Exact duplicates were already removed from the pool, so a dev pair never repeats in
train either. Dev and test are not checked against each other: both are held out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Optional

import numpy as np

from s2s.data.cleaning import Tally
from s2s.errors import S2SError
from s2s.wording import count

if TYPE_CHECKING:
    from s2s.data.prepare import Progress

DEFAULT_HELD_OUT = 1000
TRAIN, DEV, TEST = 0, 1, 2
SPLITS = ("train", "dev", "test")


def held_out_sizes(pool: int, dev: Optional[int], test: Optional[int]) -> tuple[int, int]:
    """How many pool pairs go to dev and test (0 for a split that comes from a file: pass 0)."""
    default = min(DEFAULT_HELD_OUT, pool // 10)
    n_dev = default if dev is None else dev
    n_test = default if test is None else test
    if n_dev < 0 or n_test < 0:
        raise S2SError(f"--dev {n_dev} --test {n_test}: sizes can't be negative")
    if n_dev + n_test >= pool:
        raise S2SError(
            f"--dev {n_dev} --test {n_test} leave no training pairs: only {count(pool, 'pair')} remain{'s' if pool == 1 else ''} after cleaning"
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
    progress: Progress, notes: list[str],
) -> dict[str, int]:
    """Write `{split}.{lang}` text files from the pool file (see `prepare`): held-out splits first, then train
    without leaks; pairs per split. `held` has the splits read from files; `sizes` the --dev/--test counts."""
    if pool == 0:
        raise S2SError("no sentence pairs left after cleaning; see the counts per rule with the summary (drop --quiet)")
    dev, test = (0 if "dev" in held else sizes[0]), (0 if "test" in held else sizes[1])
    n_dev, n_test = held_out_sizes(pool, dev, test)
    if (dev is None and n_dev < DEFAULT_HELD_OUT) or (test is None and n_test < DEFAULT_HELD_OUT):
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
