"""Two commits side by side on one machine: training speed, peak memory and beam-5 decoding speed, in turns.

    python -m bench.ab BEFORE            # BEFORE (a commit) against the working tree
    python -m bench.ab BEFORE AFTER      # two commits
    python -m bench.ab BEFORE --repeats 5
    python -m bench.ab BEFORE AFTER --only lstm --repeats 7   # one figure's pair, more turns

A change that only reshapes the code must not cost speed (issue #17: each figure at least 0.97x before, peak
memory no higher). Each commit is checked out as a worktree under $S2S_BENCH_CACHE/ab/, and its own code does
what `python -m bench.peers --quick` does for s2s -- trains the peers' LSTM and Transformer for 300 steps
(`bench.peers.train_s2s`) -- and decodes the converged peer-workload Transformer with beam 5 in batches of 64
(`bench.peers.decode_s2s`). The commits take turns (A B A B A B, each turn waiting for a quiet machine), and each
figure is the median of the turns. The converged checkpoint is bench.peers' own (`run-transformer-converge`),
trained once (~20 min) by the working tree's code when it is missing; both commits read the same file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import CACHE, REPO, run_child, table
from bench.peers import WORK, load1, prepared, quiet_machine

# Runs inside one commit's worktree (its own bench.peers and s2s): one turn of figures, as JSON on stdout.
TURN = """
import json, statistics, sys
from pathlib import Path
from bench.peers import BATCH, TOK_PER_PAIR, WORK, decode_s2s, prepared, train_s2s
data = prepared()
figures = {}
parts = sys.argv[2].split(",")
for model in ("lstm", "transformer"):
    if model in parts:
        run = train_s2s(model, data)
        figures[model + " train tok/s (300 steps)"] = run["tok_s_300"]
        # The 50-step windows inside the loop (metrics.jsonl): their median ignores a slow minute within the turn.
        records = [json.loads(x) for x in (Path(run["run"]) / "metrics.jsonl").read_text().splitlines()]
        seconds = [0.0] + [r["train_seconds"] for r in records if r["kind"] == "train"]
        window = statistics.median(b - a for a, b in zip(seconds, seconds[1:]))
        figures[model + " train tok/s (median 50-step window)"] = 50 * BATCH * TOK_PER_PAIR / window
        figures[model + " train peak MiB"] = run["rss"]
if "decode" in parts:
    decoded = decode_s2s(Path(sys.argv[1]), 5, WORK / "workload" / "test.src", WORK / "workload" / "test.trg")
    figures["converged transformer beam-5 sent/s"] = decoded["sent_s"]
    figures["converged transformer decode peak MiB"] = decoded["rss"]
print(json.dumps(figures))
"""


PARTS = ("lstm", "transformer", "decode")


def spread(median: float, turns: list[dict], figure: str) -> str:
    """The median and, beneath, every turn's figure: how far the turns scatter says how much the ratio can be trusted."""
    return f"{median:,.1f}\n" + " ".join(f"{t[figure]:,.0f}" for t in turns)


def worktree(ref: str) -> tuple[Path, str]:
    """The commit `ref` checked out (detached) under $S2S_BENCH_CACHE/ab/<sha>, and its short sha."""
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.strip()
    tree = CACHE / "ab" / sha
    if not (tree / "s2s").is_dir():
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--force", "--detach", str(tree), sha], cwd=REPO, check=True,
                       capture_output=True)
    return tree, sha


def converged() -> Path:
    checkpoint = WORK / "run-transformer-converge" / "checkpoints" / "best.pt"
    if not checkpoint.is_file():
        from bench.peers import converge_s2s

        print("training the peer-workload Transformer to 95% dev exact match (once) ...", file=sys.stderr, flush=True)
        converge_s2s(prepared())
    return checkpoint


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument("before", help="the commit to compare against (e.g. main~3, a sha)")
    parser.add_argument("after", nargs="?", help="another commit (default: the working tree)")
    parser.add_argument("--repeats", type=int, default=3, help="turns per commit (median; default 3)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts of a turn (default: all of {','.join(PARTS)})")
    args = parser.parse_args(argv)
    parts = args.only.split(",")
    if not set(parts) <= set(PARTS):
        parser.error(f"--only: choose from {', '.join(PARTS)}")
    prepared()
    checkpoint = converged() if "decode" in parts else Path("-")
    trees = [worktree(args.before)]
    trees.append(worktree(args.after) if args.after else (REPO, "working tree"))
    turns: dict[str, list[dict]] = {name: [] for _, name in trees}
    loads = []
    for r in range(args.repeats):
        for tree, name in trees:  # in turns, so a slow minute hits both alike
            loads.append(quiet_machine())
            print(f"{name} ({r + 1}/{args.repeats}), load {loads[-1]:.2f} ...", file=sys.stderr, flush=True)
            child = run_child(["-c", TURN, str(checkpoint), ",".join(parts)], cwd=tree)
            turns[name].append(json.loads(child.stdout.strip().splitlines()[-1]))
    (before, _), (after, _) = [(turns[name], name) for _, name in trees]
    rows = []
    for figure in before[0]:
        a, b = statistics.median(t[figure] for t in before), statistics.median(t[figure] for t in after)
        higher_is_better = "MiB" not in figure
        ok = b >= 0.97 * a if higher_is_better else b <= a * 1.02  # memory: within 2% (RSS noise)
        rows.append([figure, spread(a, before, figure), spread(b, after, figure), f"{b / a:.3f}", "yes" if ok else "NO"])
    title = (f"{trees[0][1]} -> {trees[1][1]}, median of {args.repeats} turns each; load at each turn's start "
             f"{min(loads):.2f}-{max(loads):.2f} (now {load1():.2f})")
    table(title, ["figure", trees[0][1], trees[1][1], "after / before", "target met (>= 0.97x; memory no higher)"],
          rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
