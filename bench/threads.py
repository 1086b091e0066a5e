"""Training speed on a quiet CPU and beside one other busy process, for each thread set-up.

    python -m bench.threads              # the table (about 11 minutes on 2 cores)
    python -m bench.threads --reps 3

Why it exists: on 2 cores with one other busy process, training with torch's default set-up ran 4-9x slower
than with one thread. torch's CPU kernels run on GNU OpenMP, whose threads spin for about 3 ms (GOMP_SPINCOUNT
300,000) at the end of every parallel region before they sleep. When a competing process has taken one of the
cores, the thread that finished first burns its core spinning while the other waits for a time slice, and a
training step runs thousands of small regions. `OMP_WAIT_POLICY=passive` never spins, which wins under load but
makes every region pay a futex wake-up on a quiet machine. s2s chooses between the two when a command starts,
from the CPU's load at that moment (s2s/cpu.py); the last row is that choice.

Each row is `s2s train` in a child process on the bundled sample (no ../shared needed): training seconds from
`s2s info` (start-up and validation excluded), the median of `--reps` runs, the set-ups taking turns. The busy
process is one `while True: pass` Python loop, started before the run and stopped after it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import CACHE, REPO, run_child, table

# (label, environment, train.threads); an empty environment value means "unset it". GOMP_SPINCOUNT=300000 is
# libgomp's own default, set outright so that s2s leaves the row's set-up alone.
TORCH_DEFAULT = {"GOMP_SPINCOUNT": "300000", "OMP_WAIT_POLICY": ""}
SETUPS = [
    ("torch default: 2 threads, 3 ms spin", TORCH_DEFAULT, None),
    ("1 thread", TORCH_DEFAULT, 1),
    ("2 threads, passive (no spin)", {"GOMP_SPINCOUNT": "", "OMP_WAIT_POLICY": "passive"}, None),
    ("s2s default (chosen at start)", {"GOMP_SPINCOUNT": "", "OMP_WAIT_POLICY": ""}, None),
]
WORKLOADS = [  # (name, recipe, overrides)
    ("tiny (attention GRU)", "tiny", ["train.max_steps=40"]),
    ("transformer", "transformer", ["train.max_steps=8", "train.max_time=null"]),
]


def sample_data() -> Path:
    out = CACHE / "sample"
    if not (out / "manifest.json").is_file():
        run_child(["-m", "s2s", "prepare", "--sample", "--vocab-size", "1000", "--dev", "200", "--test", "200",
                   "--out", str(out), "--force", "--quiet"])
    return out


def environment(changes: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not (k in changes and changes[k] == "")}
    env.update({k: v for k, v in changes.items() if v})
    return env


def train_seconds(recipe: str, overrides: list[str], changes: dict, threads: int | None, data: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        sets = [*overrides, "train.valid_every=100000", "train.save_every_minutes=null"]
        if threads:
            sets.append(f"train.threads={threads}")
        args = ["-m", "s2s", "train", str(REPO / "recipes" / f"{recipe}.yaml"), "--data", str(data),
                "--out", f"{tmp}/run", "--quiet", *[a for s in sets for a in ("--set", s)]]
        child = subprocess.run([sys.executable, *args], cwd=REPO, env=environment(changes), capture_output=True,
                               text=True)
        if child.returncode:
            raise SystemExit(f"failed: {' '.join(args)}\n{child.stderr[-2000:]}")
        info = subprocess.run([sys.executable, "-m", "s2s", "info", f"{tmp}/run", "--json"], cwd=REPO,
                              capture_output=True, text=True, check=True)
        return json.loads(info.stdout)["train_seconds"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2, help="runs per cell; the table shows the median")
    args = parser.parse_args(argv)
    data = sample_data()
    print(f"1-minute load before: {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    rows = []
    for workload, recipe, overrides in WORKLOADS:
        for busy in (False, True):
            competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
            try:
                times: dict[str, list[float]] = {label: [] for label, _, _ in SETUPS}
                for _ in range(args.reps):
                    for label, changes, threads in SETUPS:
                        times[label].append(train_seconds(recipe, overrides, changes, threads, data))
            finally:
                if competitor:
                    competitor.kill()
                    competitor.wait()
            best = min(statistics.median(t) for t in times.values())
            for label, _, _ in SETUPS:
                seconds = statistics.median(times[label])
                rows.append([workload, "1 busy process" if busy else "quiet", label, seconds, f"{seconds / best:.2f}x"])
            print(f"{workload}, {'busy' if busy else 'quiet'}: done (load {os.getloadavg()[0]:.2f})", file=sys.stderr,
                  flush=True)
    table("training seconds by thread set-up (median; x = against the best set-up in that condition)",
          ["workload", "machine", "set-up", "train s", "vs best"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
