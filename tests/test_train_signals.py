"""Interrupting real training processes (SIGINT, SIGTERM) and resuming them reproduces the uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STEPS = 30
SETTINGS = [f"train.max_steps={STEPS}", "train.log_every=3", "train.valid_every=15", "train.valid_bleu=false",
            "train.threads=1"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "s2s", "train", str(REPO / "recipes" / "tiny.yaml"), "--data", str(data),
            "--out", str(out), "--quiet"]
    for setting in SETTINGS:
        args += ["--set", setting]
    return args + list(extra)


def _records(run: Path) -> list[tuple]:
    """What must match to the last digit: every logged training and dev loss, by step."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    out = []
    for record in map(json.loads, lines):
        if record["kind"] == "train":
            out.append(("train", record["step"], record["loss"]))
        elif record["kind"] == "valid":
            out.append(("valid", record["step"], record["dev_loss"]))
    return out


def _logged_step(run: Path) -> int:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return 0
    steps = [json.loads(line)["step"] for line in path.read_text().splitlines() if line.strip()]
    return max(steps, default=0)


@pytest.fixture(scope="module")
def uninterrupted(prepared_sample, tmp_path_factory) -> list[tuple]:
    run = tmp_path_factory.mktemp("whole") / "run"
    subprocess.run(_train_args(prepared_sample, run), env=_env(), check=True, capture_output=True)
    return _records(run)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_and_resumed_run_logs_the_same_losses(prepared_sample, uninterrupted, tmp_path, sig):
    run = tmp_path / "run"
    at = random.Random().randint(4, STEPS - 8)  # mid-epoch, mid-window, or during a validation: all must resume
    proc = subprocess.Popen(_train_args(prepared_sample, run), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while _logged_step(run) < at and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"training ended before step {at}: {proc.communicate()[1]}"
    time.sleep(random.uniform(0.0, 0.2))  # somewhere inside the next update or two (one takes ~0.1 s)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # SIGTERM takes Ctrl-C's path: not 143 with nothing saved
    assert "continue with --resume" in err
    assert (run / "checkpoints" / "last.pt").is_file()
    interrupted_at = _logged_step(run)
    assert interrupted_at < STEPS, "the signal came after training had ended"

    resumed = subprocess.run(_train_args(prepared_sample, run, "--resume"), env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert _records(run) == uninterrupted, f"interrupted after step {interrupted_at} ({sig.name})"
