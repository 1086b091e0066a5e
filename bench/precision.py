"""`train.precision` on this machine: tokens/s and losses of the Transformer recipe in fp32, bf16 and plain bf16.

    python -m bench.precision              # 60 steps each (about 6 minutes on 2 cores)
    python -m bench.precision --steps 200

Each setting trains the shipped Transformer recipe on ko-en (bench/common.py) from the same seed in its own
process: `fp32`; `bf16` as s2s runs it on the CPU (autocast, attention kept in float32: s2s/fast.py); and
`bf16-plain`, autocast alone, to show what keeping the attention in float32 buys. Printed: tokens/s over the steps
after the 10th, the train loss at the last three logged steps, and the dev loss at the end (all 2,000 dev pairs).
Skipped with a message where ../shared/data is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from bench.common import CACHE, have_shared, prepared_koen, run_child, table

SETTINGS = ("fp32", "bf16", "bf16-plain")


def child(setting: str, steps: int, data: Path, run: Path) -> None:
    """One setting's run, in this process (the parent starts one process per setting)."""
    import torch

    import s2s.train
    from s2s.bundled import find_recipe
    from s2s.config import load_recipe

    if setting == "bf16-plain":  # autocast alone, as before s2s/fast.py kept the attention in float32
        s2s.train.mixed_precision = lambda device, precision: torch.autocast(device.type, dtype=torch.bfloat16)
    recipe = load_recipe(find_recipe("transformer"), [
        f"train.precision={'fp32' if setting == 'fp32' else 'bf16'}", f"train.max_steps={steps}",
        "train.max_time=null", "train.valid_every=1000000", "train.log_every=10", "train.valid_bleu=false"])
    shutil.rmtree(run, ignore_errors=True)
    s2s.train.train(recipe, data, run, quiet=True)


def summary(run: Path) -> dict:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    late = [r["tokens_per_s"] for r in train if r["step"] > 10]
    valid = [r for r in records if r["kind"] == "valid"]
    return {"tokens_per_s": sum(late) / len(late), "losses": [r["loss"] for r in train[-3:]],
            "dev_loss": valid[-1]["dev_loss"] if valid else float("nan")}


def main(argv: list[str]) -> int:
    if argv[:1] == ["_child"]:
        child(argv[1], int(argv[2]), Path(argv[3]), Path(argv[4]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.precision", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="training steps per setting")
    args = parser.parse_args(argv)
    if not have_shared("bench.precision"):
        return 0
    data = prepared_koen()
    rows, base = [], None
    for setting in SETTINGS:
        run = CACHE / "precision" / setting
        run_child(["-m", "bench.precision", "_child", setting, str(args.steps), str(data), str(run)],
                  env={"GOMP_SPINCOUNT": "300000"})  # the machine to itself, as bench.quality
        s = summary(run)
        base = base or s["tokens_per_s"]
        rows.append([setting, round(s["tokens_per_s"]), f"{s['tokens_per_s'] / base:.2f}x",
                     " / ".join(f"{x:.3f}" for x in s["losses"]), f"{s['dev_loss']:.4f}"])
    table(f"train.precision, transformer recipe, {args.steps} steps (ko-en)",
          ["setting", "tok/s", "vs fp32", "last train losses", "dev loss"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
