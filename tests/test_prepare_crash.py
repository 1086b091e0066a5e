"""A prepare killed with SIGKILL half-way leaves no partial target, and the next run cleans up after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s2s.data.staging import MARKER, clean_stale

REPO = Path(__file__).resolve().parents[1]

# Runs `s2s prepare ARGS...` with the encoding stage replaced by a stall that first touches SIGNAL_FILE:
# by then the staging directory holds the split files and the vocabulary.
STALLING_PREPARE = """
import sys, time
from pathlib import Path
import s2s.data.prepare as prepare_module

signal_file = Path(sys.argv[1])

def stall(*args, **kwargs):
    signal_file.touch()
    time.sleep(300)

prepare_module._encode = stall
from s2s.cli import main
sys.argv = ["s2s", "prepare", *sys.argv[2:]]
main()
"""


def corpus(path: Path, n: int = 40, offset: int = 0) -> Path:
    rows = [f"나는 사과를 {i}개 먹었다.\tI ate {i} apples." for i in range(offset, offset + n)]
    path.write_text("ko\ten\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("previous", [True, False], ids=["over-a-previous-target", "fresh"])
def test_sigkill_mid_prepare_leaves_no_partial_target(cli, tmp_path, previous):
    out = tmp_path / "out"
    if previous:
        assert cli("prepare", corpus(tmp_path / "old.tsv"), "--out", out, "--vocab-size", "100", "--quiet").exit_code == 0
        before = snapshot(out)
    flag = tmp_path / "stalled"
    child = subprocess.Popen(
        [sys.executable, "-c", STALLING_PREPARE, str(flag), str(corpus(tmp_path / "new.tsv", offset=100)),
         "--out", str(out), "--vocab-size", "100", "--force", "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "prepare never reached the encoding stage"
            time.sleep(0.05)
        staging = tmp_path / f".out.tmp-{child.pid}"
        assert (staging / "train.ko").exists() and (staging / MARKER).exists()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert staging.exists()  # SIGKILL can't be cleaned up after...
    if previous:
        assert snapshot(out) == before  # ...but the target is untouched
    else:
        assert not out.exists()
    result = cli("prepare", tmp_path / "new.tsv", "--out", out, "--vocab-size", "100", "--force", "--quiet")
    assert result.exit_code == 0, result.output
    assert not staging.exists() and not list(tmp_path.glob(".out.*"))  # the next run removed the leftovers
    assert "나는 사과를 100개 먹었다." in (out / "train.ko").read_text() + (out / "dev.ko").read_text() + (
        out / "test.ko"
    ).read_text()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_cleanup_restores_a_target_moved_away_and_spares_others(tmp_path):
    pid = dead_pid()
    target = tmp_path / "out"
    moved = tmp_path / f".out.old-{pid}"
    moved.mkdir()
    (moved / "manifest.json").write_text("{}")
    unmarked = tmp_path / f".out.tmp-{pid}"  # no marker: not ours, left alone
    unmarked.mkdir()
    other = tmp_path / f".other.tmp-{pid}"  # another target's: left alone
    other.mkdir()
    (other / MARKER).touch()
    live = tmp_path / f".out.tmp-{os.getpid()}"  # a live process's
    live.mkdir()
    (live / MARKER).touch()
    clean_stale(target)
    assert (target / "manifest.json").exists() and not moved.exists()
    assert unmarked.exists() and other.exists() and live.exists()
