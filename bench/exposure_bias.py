"""Exposure bias, measured: the attention recipe trained with and without scheduled sampling, same steps.

    python -m bench.exposure_bias                 # 500 steps each, reduced width and batch (~5 min each on 2 cores)
    python -m bench.exposure_bias --steps 4000 --full-size   # the effect grows with training; this takes hours

Both runs use `recipes/attention.yaml` on ../shared/data/ko-en with the same seed and batches; the second adds
the inverse-sigmoid schedule of `recipes/attention-scheduled.yaml`, with k chosen so the gold-token ratio falls
to 0.5 at two thirds of the run (k ln k = 2/3 * steps) and ends below 0.1, instead of the recipe's one-hour
shape. Printed: dev BLEU of greedy decoding (what exposure bias hurts: the decoder eats its own outputs) and dev
loss under teacher forcing (what scheduled sampling can cost).

    python -m bench.exposure_bias --loops REF HYP...   # how often translations loop, against the references

The symptom exposure bias leaves in a free-running decoder: once it has emitted a phrase it was never trained to
follow, it repeats itself ("the meal offering of the meal offering of the meal offering"). `--loops` counts the
lines in which some 3-word sequence occurs three times or more, in each file of translations and in the
references (real text repeats too), and their mean length in words.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from collections import Counter
from pathlib import Path

from bench.common import CACHE, REPO, have_shared, prepared_koen, run_child, table

REDUCED = ["model.embed=128", "model.encoder_hidden=128", "model.hidden=256", "data.max_tokens=2048"]


def k_for(steps: int) -> float:
    """The inverse-sigmoid k whose midpoint k ln k falls at 2/3 of the run."""
    k = 10.0
    for _ in range(100):  # Newton on k ln k - target
        k -= (k * math.log(k) - 2 * steps / 3) / (math.log(k) + 1)
    return k


def last_valid(run_dir) -> dict:
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "valid"][-1]


def loops(line: str, n: int = 3, times: int = 3) -> bool:
    """True when some n-word sequence occurs `times` times or more in the line."""
    words = line.split()
    grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return bool(grams) and max(grams.values()) >= times


def print_loops(files: list[str]) -> int:
    rows = []
    for name in files:
        lines = Path(name).read_text(encoding="utf-8").splitlines()
        looping = sum(loops(line) for line in lines)
        rows.append([name, len(lines), looping, f"{100 * looping / max(len(lines), 1):.1f}",
                     f"{sum(len(x.split()) for x in lines) / max(len(lines), 1):.1f}"])
    table("looping lines: a 3-word sequence 3+ times (first file: the references)",
          ["file", "lines", "looping", "%", "mean words"], rows)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--full-size", action="store_true", help="the recipe's own sizes (slower)")
    parser.add_argument("--loops", nargs="+", metavar="FILE",
                        help="count looping lines in the references (first) and translation files, and stop")
    args = parser.parse_args(argv)
    if args.loops:
        return print_loops(args.loops)
    if not have_shared("bench.exposure_bias"):
        return 0
    data = prepared_koen()
    k = k_for(args.steps)
    common = [f"train.max_steps={args.steps}", f"train.valid_every={args.steps}", "train.valid_max_sentences=1000",
              "train.patience=null"] + ([] if args.full_size else REDUCED)  # validation BLEU is always greedy
    runs = {
        "teacher forcing": ("recipes/attention.yaml", []),
        f"scheduled sampling (inverse sigmoid, k={k:.0f})": ("recipes/attention-scheduled.yaml", [f"teacher_forcing.k={k}"]),
    }
    rows = []
    for i, (name, (recipe, extra)) in enumerate(runs.items()):
        out = CACHE / f"exposure-{i}-{args.steps}"
        sets = [x for s in common + extra for x in ("--set", s)]
        print(f"training: {name} ...", file=sys.stderr, flush=True)
        shutil.rmtree(out, ignore_errors=True)
        child = run_child(["-m", "s2s", "train", str(REPO / recipe), "--data", str(data), "--out", str(out),
                           "--quiet", *sets])
        valid = last_valid(out)
        final_ratio = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()
                       if '"train"' in x][-1]["tf_ratio"]
        rows.append([name, args.steps, final_ratio, valid["dev_bleu"], valid["dev_loss"], child.seconds])
    table(f"exposure bias: attention recipe on ko-en, {args.steps} steps"
          + ("" if args.full_size else " (reduced width: " + ", ".join(REDUCED) + ")"),
          ["training", "steps", "final gold ratio", "dev BLEU (greedy)", "dev loss (teacher-forced)", "seconds"],
          rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
