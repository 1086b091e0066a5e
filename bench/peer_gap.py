"""Why OpenNMT-py's hour trails s2s's by more than its steps: s2s trained the peers' way, at equal steps.

    python -m bench.peer_gap                 # 500 steps per variant (~12 min each on 2 cores, bf16)
    python -m bench.peer_gap --steps 300 --only glorot

OpenNMT-py's hour (bench.quality --peers) learned more slowly per step than s2s's with the same data, batch,
model, learning rate, schedule and label smoothing: training loss 5.7 against 5.3 at step 500, 4.8 against 4.1
at step 1,400. Two documented defaults of the peer differ from s2s's Transformer:
- the embeddings: Glorot-uniform like every other matrix (std 0.016 for 8,000 x 256, so 0.25 after the sqrt(d)
  scale: the token signal starts at a quarter of the positions'), where s2s draws N(0, 1/d) (unit after the
  scale, as the annotated Transformer and fairseq do);
- gradient clipping: none (`max_grad_norm: 0`), where s2s's recipe clips the global norm at 1.0.
Each variant here is s2s's Transformer recipe, as bench.quality trains it, with one or both of those changed,
for the same number of steps from the same seed; the table sets its training loss beside the hour run's
(`$S2S_BENCH_CACHE/quality/transformer`, logged every 50 steps) and OpenNMT-py's (bench/results/onmt/train.log).
If the variants fall to OpenNMT-py's curve, the gap is those defaults and not the harness.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from bench.common import CACHE, REPO, have_shared, prepared_koen, run_child, table
from bench.peers import load1

RUNS = CACHE / "peer-gap"
HOUR = CACHE / "quality" / "transformer"  # the hour's run directory
ONMT_LOG = REPO / "bench" / "results" / "onmt" / "train.log"

# Runs in the child: the Transformer's initialisation replaced before `s2s train` builds the model.
GLOROT_EMBEDDINGS = """
import sys, torch
from torch import nn
from s2s.models import transformer

def glorot_everywhere(self):  # OpenNMT-py's param_init_glorot: every matrix, embeddings included
    for p in self.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    with torch.no_grad():
        for embedding in {self.src_embedding, self.tgt_embedding}:
            embedding.weight[transformer.PAD_ID].zero_()

transformer.Transformer._init_weights = glorot_everywhere
from s2s.cli import app
app(sys.argv[1:], prog_name="s2s")
"""

VARIANTS = {  # name: (glorot embeddings, clip_norm)
    "glorot": (True, "1.0"),
    "noclip": (False, "null"),
    "glorot+noclip": (True, "null"),
}


def train(name: str, data: Path, steps: int) -> Path:
    glorot, clip = VARIANTS[name]
    run = RUNS / name
    if run.exists():
        shutil.rmtree(run)
    args = ["train", str(REPO / "recipes" / "transformer.yaml"), "--data", str(data), "--out", str(run),
            "--set", f"train.max_steps={steps}", "--set", "train.max_time=null", "--set", f"train.clip_norm={clip}",
            "--set", f"train.valid_every={steps}", "--quiet"]
    before = load1()
    print(f"{name}: {steps} steps in {run} (load {before:.2f})", file=sys.stderr, flush=True)
    child = run_child(["-c", GLOROT_EMBEDDINGS, *args] if glorot else ["-m", "s2s", *args],
                      env={"GOMP_SPINCOUNT": "300000"})
    (run / "load.txt").write_text(f"{before:.2f} before, {load1():.2f} after, {child.seconds:.0f} s\n")
    return run


def s2s_losses(run: Path) -> dict[int, float]:
    from s2s.runlog import read_metrics

    rows = read_metrics(run)
    return {r["step"]: r["loss"] for r in rows if r["kind"] == "train"}


def onmt_losses() -> dict[int, float]:
    found = re.findall(r"Step (\d+)/\d+; acc: [\d.]+; ppl: +[\d.]+; xent: ([\d.]+);", ONMT_LOG.read_text())
    return {int(step): float(xent) for step, xent in found}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer_gap", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--only", choices=sorted(VARIANTS), action="append", help="one variant (repeatable)")
    args = parser.parse_args(argv)
    if not have_shared("bench.peer_gap"):
        return 0
    data = prepared_koen()
    if not (HOUR / "metrics.jsonl").is_file():
        print(f"bench.peer_gap: {HOUR}/metrics.jsonl is missing: run `python -m bench.quality --only transformer` first",
              file=sys.stderr)
        return 1
    names = args.only or list(VARIANTS)
    curves = {"s2s (recipe)": s2s_losses(HOUR), "OpenNMT-py 3.5.1": onmt_losses()}
    for name in names:
        curves[f"s2s, {name}"] = s2s_losses(train(name, data, args.steps))
    marks = [s for s in range(100, args.steps + 1, 100)]
    rows = [[name, *(f"{curve[s]:.2f}" if s in curve else "-" for s in marks)] for name, curve in curves.items()]
    table(f"training loss (label-smoothed cross-entropy per token) at equal steps; load now {load1():.2f}; "
          f"loads per run in {RUNS}/*/load.txt", ["run", *(f"step {s}" for s in marks)], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
