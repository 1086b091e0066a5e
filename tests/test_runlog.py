"""What training shows: one line per log interval, on a terminal (under the live bar) and in a log file."""

import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--set", "train.max_steps=30", "--set", "train.log_every=10", "--set", "train.valid_every=30",
        "--set", "train.valid_max_sentences=20", "--set", "train.threads=1"]
INTERVAL = re.compile(r"step (\d+)/30  loss \d+\.\d{3}  ppl [\d.]+  [\d,]+ tok/s  lr \S+  tf \S+  eta \d:\d\d:\d\d")


def _train(prepared_sample: Path, out: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "s2s", "train", str(ROOT / "recipes" / "tiny.yaml"),
                             "--data", str(prepared_sample), "--out", str(out), *ARGS], cwd=out.parent, **popen)


def test_a_log_file_gets_one_plain_line_per_interval(prepared_sample, tmp_path):
    with open(tmp_path / "train.log", "w") as log:
        assert _train(prepared_sample, tmp_path / "run", stderr=log, stdout=subprocess.DEVNULL).wait() == 0
    text = (tmp_path / "train.log").read_text()
    steps = [int(m.group(1)) for m in INTERVAL.finditer(text)]
    assert steps == [10, 20, 30], text
    assert "━" not in text and "\r" not in text and "\x1b" not in text  # no bar frames in a file
    first = text.splitlines()[0]
    assert "parameters" in first and str(tmp_path / "run") in first  # the whole message on one line, unwrapped


def test_a_terminal_keeps_each_interval_line_under_the_bar(prepared_sample, tmp_path):
    controller, terminal = pty.openpty()
    proc = _train(prepared_sample, tmp_path / "run", stderr=terminal, stdout=subprocess.DEVNULL)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait() == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
    assert [int(m.group(1)) for m in INTERVAL.finditer(text)] == [10, 20, 30]
    assert "━" in seen.decode(errors="replace")  # the live bar was drawn


def test_latest_is_kept_in_a_runs_folder_only(prepared_sample, tmp_path):
    for out in (tmp_path / "elsewhere" / "run", tmp_path / "runs" / "run"):
        out.parent.mkdir()
        assert _train(prepared_sample, out, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL).wait() == 0
    assert not (tmp_path / "elsewhere" / "latest").exists()  # no stray link beside an --out of the user's choosing
    assert (tmp_path / "runs" / "latest").resolve() == (tmp_path / "runs" / "run").resolve()


def test_the_eta_counts_down_the_time_budget_when_it_ends_the_run_first():
    from s2s.runlog import RunLog

    budgeted = RunLog(None, total_steps=100000, start_step=0, quiet=True, terminal=False, budget=3600)
    budgeted.started = (time.perf_counter() - 60, 0)  # 10 steps in a minute: 100,000 steps would take days
    assert budgeted._eta(10, train_seconds=600) == "0:50:00"  # not the 100,000 steps' many hours
    assert budgeted._eta(0, train_seconds=0) == "1:00:00"
    assert budgeted._eta(10, train_seconds=3700) == "0:00:00"
    plain = RunLog(None, total_steps=30, start_step=0, quiet=True, terminal=False)
    plain.started = (time.perf_counter() - 60, 0)
    assert plain._eta(30, train_seconds=5) == "0:00:00"
    assert plain._eta(10, train_seconds=5) == "0:02:00"  # 20 steps left at 6 s a step
