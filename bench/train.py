"""Training speed and memory: tokens/second and peak memory of each shipped recipe on ko-en, and 1 vs 2 processes.

    python -m bench.train                      # every recipe, 60 steps each, then transformer on 1 and 2 processes
    python -m bench.train --steps 100 --recipes attention transformer

Tokens are real (non-padding) source + target subwords, counted per optimiser update; the rate is taken from
`metrics.jsonl` over the logged windows after the first (which holds start-up and the first allocations). Each
run is a child process, so the peak memory is that run's own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from bench.common import CACHE, REPO, have_shared, prepared_koen, run_child, table

RECIPES = ["rnn", "lstm", "gru", "attention", "transformer"]


def steady_rate(run_dir: Path) -> float:
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [r["tokens_per_s"] for r in records if r["kind"] == "train"][1:]
    return sum(rates) / len(rates) if rates else float("nan")


def measure(recipe: str, data: Path, steps: int, nproc: int = 1) -> list:
    out = CACHE / f"train-{recipe}-{nproc}"
    shutil.rmtree(out, ignore_errors=True)
    sets = [f"train.max_steps={steps}", f"train.log_every={max(steps // 6, 1)}", f"train.valid_every={steps}",
            "train.valid_bleu=false", "train.patience=null"]
    args = ["-m", "s2s", "train", str(REPO / "recipes" / f"{recipe}.yaml"), "--data", str(data), "--out", str(out),
            "--quiet", *[x for s in sets for x in ("--set", s)]]
    if nproc > 1:
        args += ["--nproc", str(nproc)]
    child = run_child(args)
    from s2s.checkpoint import load_checkpoint

    params = load_checkpoint(out / "checkpoints" / "last.pt").info.parameters
    return [recipe, nproc, params, steady_rate(out), child.peak_mib]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--recipes", nargs="*", default=RECIPES)
    parser.add_argument("--no-ddp", action="store_true", help="skip the 2-process run")
    args = parser.parse_args(argv)
    if not have_shared("bench.train"):
        return 0
    data = prepared_koen()
    rows = []
    for recipe in args.recipes:
        print(f"training {recipe} for {args.steps} steps ...", file=sys.stderr, flush=True)
        rows.append(measure(recipe, data, args.steps))
    if not args.no_ddp:
        print("training transformer on 2 processes ...", file=sys.stderr, flush=True)
        rows.append(measure("transformer", data, args.steps, nproc=2))
    table(f"s2s train on ko-en ({args.steps} steps per run; peak memory of the child process"
          " -- for 2 processes, the largest of its processes)",
          ["recipe", "processes", "parameters", "tokens/s", "peak MiB"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
