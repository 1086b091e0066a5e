"""Throughput and peak memory of `s2s prepare` on the ko-en training set and on a 1,000,000-pair corpus.

    python -m bench.prepare            # both (the large one takes minutes on 2 cores)
    python bench/prepare.py --only ko-en
    python -m bench.prepare --pairs 300000

The large corpus is ko-en train repeated until it has `--pairs` pairs, each repeat made distinct by a counter
appended to both sides (` #3`): plain repeats would all be dropped as duplicates after the first copy, which
would measure little beyond reading. Distinct repeats go through every stage, SentencePiece (on its capped
sample of 300,000 sentences) and encoding included. Each prepare runs in a child process; its peak memory is
that child's `ru_maxrss` (from `os.wait4`), so the benchmark's own memory doesn't count. The target is 1M pairs
in under 2 GiB. Needs `../shared/data` beside the repository; without it the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KO_EN = REPO.parent / "shared" / "data" / "ko-en" / "train.tsv"
TARGET_MIB = 2048


def repeated(source: Path, pairs: int, out: Path) -> Path:
    """`source`'s pairs repeated, with a counter on each repeat, until there are `pairs` of them."""
    lines = source.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(header + "\n")
        written, copy = 0, 0
        while written < pairs:
            for line in body[: pairs - written]:
                if copy:
                    ko, en = line.split("\t")
                    line = f"{ko} #{copy}\t{en} #{copy}"
                f.write(line + "\n")
            written += min(len(body), pairs - written)
            copy += 1
    return out


def run_prepare(corpus: Path, out: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS in bytes, pairs read) of one `s2s prepare` in a child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "s2s", "prepare", str(corpus), "--out", str(out), "--quiet"],
        cwd=REPO, stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"prepare failed on {corpus}: {child.stderr.read().decode(errors='replace')}")
    with open(corpus, "rb") as f:
        pairs = sum(1 for _ in f) - 1
    return seconds, usage.ru_maxrss * 1024, pairs  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000_000, help="size of the large corpus")
    parser.add_argument("--only", choices=("ko-en", "large"), help="run one of the two")
    args = parser.parse_args(argv)
    if not KO_EN.is_file():
        print(f"bench.prepare: skipped: needs {KO_EN} (the shared data beside the repository)")
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="s2s-bench-") as tmp:
        cases = []
        if args.only in (None, "ko-en"):
            cases.append(("ko-en train", KO_EN))
        if args.only in (None, "large"):
            cases.append((f"{args.pairs:,} pairs", repeated(KO_EN, args.pairs, Path(tmp) / "large.tsv")))
        for name, corpus in cases:
            print(f"preparing {name} ...", file=sys.stderr, flush=True)
            seconds, peak, pairs = run_prepare(corpus, Path(tmp) / f"out-{len(rows)}")
            rows.append((name, pairs, seconds, pairs / seconds, peak / 2**20))
    print(f"{'corpus':<18} {'pairs':>10} {'seconds':>8} {'pairs/s':>9} {'peak MiB':>9}")
    for name, pairs, seconds, rate, mib in rows:
        flag = "" if mib < TARGET_MIB else f"  over the {TARGET_MIB} MiB target"
        print(f"{name:<18} {pairs:>10,} {seconds:>8.1f} {rate:>9,.0f} {mib:>9,.0f}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
