"""The peer benchmark's synthetic workload: our own copy of `../shared/peers/gen_data.py`, byte for byte the same data.

Task: source = 5..25 tokens drawn uniformly from a 2,000-word pseudo-word vocabulary; target = a token-wise
substitution cipher (a bijection onto a disjoint, 'x'-prefixed 2,000-word vocabulary) of the source, reversed.
20,000 train / 500 dev / 500 test pairs, disjoint; whitespace tokens. Standard library only, seed 1234: the same
random calls in the same order as the peers' generator, so the files are identical (`bench.peers` checks the md5
against the peers' copy when it exists).

    python -m bench.workload OUTDIR
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

SEED = 1234
VOCAB = 2000
SPLITS = {"train": 20000, "dev": 500, "test": 500}
MIN_LEN, MAX_LEN = 5, 25
CONS = "bcdfghjklmnprstvwz"
VOWS = "aeiou"
# md5 of the peers' files (README of ../shared/peers, first 8 hex digits shown there)
MD5_PREFIX = {"train.src": "114f9f64", "train.trg": "a2c69f1b", "test.src": "88c98b0b", "test.trg": "f84efc1b"}


def _words(rng: random.Random, n: int, prefix: str, taken: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < n:
        w = prefix + "".join(rng.choice(CONS) + rng.choice(VOWS) for _ in range(rng.randint(2, 3)))
        if w not in taken:
            taken.add(w)
            words.append(w)
    return words


def generate(out: Path) -> Path:
    """Write {train,dev,test}.{src,trg}, vocab.{src,trg} and cipher.tsv into `out`; returns `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    taken: set[str] = set()
    src_words = _words(rng, VOCAB, "", taken)
    trg_words = _words(rng, VOCAB, "x", taken)  # the 'x' prefix keeps the vocabularies disjoint
    perm = list(range(VOCAB))
    rng.shuffle(perm)
    cipher = {src_words[i]: trg_words[perm[i]] for i in range(VOCAB)}
    seen: set[str] = set()
    for name, n in SPLITS.items():
        with open(out / f"{name}.src", "w") as fs, open(out / f"{name}.trg", "w") as ft:
            count = 0
            while count < n:
                words = [rng.choice(src_words) for _ in range(rng.randint(MIN_LEN, MAX_LEN))]
                s, t = " ".join(words), " ".join(cipher[w] for w in reversed(words))
                if s in seen:  # keep the splits disjoint
                    continue
                seen.add(s)
                fs.write(s + "\n")
                ft.write(t + "\n")
                count += 1
    (out / "vocab.src").write_text("\n".join(sorted(src_words)) + "\n")
    (out / "vocab.trg").write_text("\n".join(sorted(trg_words)) + "\n")
    (out / "cipher.tsv").write_text("".join(f"{s}\t{cipher[s]}\n" for s in src_words))
    return out


def md5s(directory: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(directory).iterdir()) if p.is_file()}


if __name__ == "__main__":
    from bench.common import CACHE

    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE / "workload")
