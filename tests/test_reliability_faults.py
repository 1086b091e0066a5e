"""Faults during a run: non-finite losses, a full disk, an output location that can't be written.

- One non-finite loss skips its update with a warning and training goes on with finite weights; repeated ones
  stop training with a message naming the step and the last good checkpoint.
- A write that fails (ENOSPC, EIO) raises one clear line naming the file, leaves the previous version intact and
  leaves no temporary file; a run stopped that way resumes from its last good checkpoint.
- `s2s train --out` / `s2s prepare --out` on a location that can't be written fail before any training or
  reading, in one line. (Tests run as root, where chmod stops nothing: unwritable places are simulated.)
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import torch

import s2s.train as loop
from s2s.atomic import atomic_write_bytes
from s2s.checkpoint import load_checkpoint
from s2s.errors import S2SError

from reliability import CutShort, leftovers, one_line_error, tiny_corpus, train_tiny, write_tiny_recipe


def disk_full(monkeypatch, after_bytes: int = 0, when=lambda path: True, code: int = errno.ENOSPC) -> list[str]:
    """Make `atomic_write_bytes` hit a full disk (or another `code`) once `after_bytes` are written to a file
    for which `when(target path)` holds. Returns the list of targets that failed."""
    import s2s.atomic as atomic

    real_mkstemp, real_fdopen, failed = atomic.tempfile.mkstemp, os.fdopen, []
    doomed: set[int] = set()

    def mkstemp(prefix: str, suffix: str, dir):
        fd, name = real_mkstemp(prefix=prefix, suffix=suffix, dir=dir)
        target = Path(dir) / prefix[1:].rsplit(".", 2)[0]
        if when(target):
            doomed.add(fd)
            failed.append(str(target))
        return fd, name

    def full() -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: CutShort(real_fdopen(fd, mode),
                                                                       lambda data: data[:after_bytes], full)
                        if fd in doomed else real_fdopen(fd, mode))
    return failed


# ---- non-finite losses --------------------------------------------------------------------------------------


def nan_at(monkeypatch, steps: set[int]) -> None:
    """The loss of the given (1-based) update steps becomes NaN, with NaN gradients flowing into the model."""
    real, calls = loop.batch_loss, [0]

    def batch_loss(*args, **kwargs):
        calls[0] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls[0] in steps else loss

    monkeypatch.setattr(loop, "batch_loss", batch_loss)


def test_one_non_finite_loss_skips_its_update_and_training_goes_on(monkeypatch, capsys, prepared_sample, tmp_path):
    nan_at(monkeypatch, {2})
    run = train_tiny(prepared_sample, tmp_path / "run", max_steps=4, valid_every=4)
    assert "warning: non-finite loss at step 2; update skipped" in capsys.readouterr().err
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt.training["state"]["step"] == 4
    assert all(torch.isfinite(t).all() for t in ckpt.model_state.values())  # the NaN gradients were dropped
    for group in ckpt.training["optimizer"]["state"].values():
        assert all(torch.isfinite(t).all() for t in group.values() if isinstance(t, torch.Tensor))


def test_repeated_non_finite_losses_stop_naming_the_step_and_the_last_good_checkpoint(monkeypatch, prepared_sample,
                                                                                     tmp_path):
    nan_at(monkeypatch, set(range(3, 100)))
    run = tmp_path / "run"
    with pytest.raises(S2SError) as err:
        train_tiny(prepared_sample, run, max_steps=50, valid_every=2)
    last = run / "checkpoints" / "last.pt"
    assert str(err.value) == (f"training stopped: 5 non-finite losses in a row (last at step 7); "
                              f"last good checkpoint: {last}")
    assert load_checkpoint(last).training["state"]["step"] == 2


# ---- failing writes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "No space left on device"), (errno.EIO, "Input/output error")])
def test_a_failed_write_keeps_the_previous_file_and_leaves_nothing(monkeypatch, tmp_path, code, words):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old contents")
    disk_full(monkeypatch, after_bytes=5, code=code)
    with pytest.raises(S2SError) as err:
        atomic_write_bytes(target, b"new contents that will not fit")
    assert str(err.value) == f"{target}: cannot write: {words} (the previous version is unchanged)"
    assert target.read_bytes() == b"old contents"
    assert leftovers(tmp_path) == []


def test_a_full_disk_mid_training_stops_in_one_line_and_the_run_resumes(cli, monkeypatch, prepared_sample, tmp_path):
    run = tmp_path / "run"
    recipe = write_tiny_recipe(tmp_path / "tiny.yaml", train={"max_steps": 6, "valid_every": 2})
    writes = []
    failed = disk_full(monkeypatch, after_bytes=4096,
                       when=lambda path: path.name == "last.pt" and (writes.append(path) or len(writes) == 2))
    result = cli("train", recipe, "--data", prepared_sample, "--out", run, "--quiet")
    assert result.exit_code == 2 and failed == [str(run / "checkpoints" / "last.pt")]
    line = one_line_error(result.output)
    assert line == f"s2s: error: {run / 'checkpoints' / 'last.pt'}: cannot write: No space left on device " \
                   "(the previous version is unchanged)"
    assert load_checkpoint(run / "checkpoints" / "last.pt").training["state"]["step"] == 2
    assert leftovers(run) == []
    monkeypatch.undo()  # the disk has room again
    result = cli("train", recipe, "--data", prepared_sample, "--out", run, "--resume", "--quiet")
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run / "checkpoints" / "last.pt").training["state"]["step"] == 6


# ---- an output location that can't be written -----------------------------------------------------------------


def no_training(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(loop, "batch_loss", lambda *a, **k: calls.append(1))
    return calls


@pytest.mark.parametrize("where", ["a-file", "under-a-file", "permission-denied", "recipe-write-fails"])
def test_train_refuses_an_unwritable_out_before_training(cli, monkeypatch, prepared_sample, tmp_path, where):
    recipe = write_tiny_recipe(tmp_path / "tiny.yaml")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory\n")
    out = {"a-file": blocker, "under-a-file": blocker / "run"}.get(where, tmp_path / "locked" / "run")
    if where == "permission-denied":  # what chmod 555 would do for a user other than root
        real_mkdir = Path.mkdir

        def mkdir(self, *args, **kwargs):
            if "locked" in self.parts:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
    elif where == "recipe-write-fails":
        disk_full(monkeypatch, when=lambda path: path.name == "recipe.yaml")
    calls = no_training(monkeypatch)
    result = cli("train", recipe, "--data", prepared_sample, "--out", out, "--quiet")
    assert result.exit_code == 2
    line = one_line_error(result.output)
    expected = {"a-file": "Not a directory", "under-a-file": "Not a directory",
                "permission-denied": "Permission denied", "recipe-write-fails": "No space left on device"}[where]
    assert str(out) in line and expected in line
    assert calls == []
    assert blocker.read_text() == "a file, not a directory\n"


@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "over-a-previous-target"])
def test_prepare_on_a_full_disk_leaves_no_partial_output(cli, monkeypatch, tmp_path, previous):
    import s2s.data.prepare as prepare_module

    out = tmp_path / "data"
    if previous:
        assert cli("prepare", tiny_corpus(tmp_path / "old.tsv"), "--out", out, "--vocab-size", "100",
                   "--quiet").exit_code == 0
        before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(prepare_module, "write_manifest", full)
    result = cli("prepare", tiny_corpus(tmp_path / "new.tsv", offset=100), "--out", out, "--vocab-size", "100",
                 "--force", "--quiet")
    assert result.exit_code == 2
    line = one_line_error(result.output)
    state = "left as it was" if previous else "not created"
    assert f"{out}: cannot prepare: No space left on device ({out} {state})" in line
    if previous:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    else:
        assert not out.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["a-file", "under-a-file", "deep-under-a-file"])
def test_prepare_refuses_an_unwritable_out_in_one_line(cli, tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x\n")
    out = {"a-file": blocker, "under-a-file": blocker / "data", "deep-under-a-file": blocker / "a" / "data"}[where]
    result = cli("prepare", tiny_corpus(tmp_path / "c.tsv"), "--out", out, "--vocab-size", "100", "--quiet")
    assert result.exit_code == 2
    why = "exists and is not a directory" if where == "a-file" else f"{blocker} is not a directory"
    assert one_line_error(result.output) == f"s2s: error: --out {out}: {why}"  # not mkdir's "File exists"
    assert blocker.read_text() == "x\n" and leftovers(tmp_path) == []


def test_translate_and_evaluate_outputs_that_cant_be_written_are_one_line(cli, tmp_path, prepared_sample):
    run = train_tiny(prepared_sample, tmp_path / "run", max_steps=1, valid_every=1)
    (tmp_path / "in.txt").write_text("안녕\n", encoding="utf-8")
    blocker = tmp_path / "blocker"
    blocker.write_text("x\n")
    result = cli("translate", "-m", run, "-i", tmp_path / "in.txt", "-o", blocker / "out.txt")
    assert result.exit_code == 2 and str(blocker / "out.txt") in one_line_error(result.output)
    result = cli("evaluate", "-m", run, "--save-hyp", blocker / "hyp.txt")
    assert result.exit_code == 2 and str(blocker / "hyp.txt") in one_line_error(result.output)
    shutil.rmtree(run)


@pytest.mark.parametrize("to", ["stdout", "-o"])
def test_translate_on_a_full_disk_is_one_line_not_a_truncated_success(prepared_sample, tmp_path, to):
    """A real limit (the child's RLIMIT_FSIZE, as a full disk): short writes must not drop lines silently."""
    import resource
    import subprocess
    import sys

    run = train_tiny(prepared_sample, tmp_path / "run", max_steps=1, valid_every=1)
    (tmp_path / "in.txt").write_text("안녕하세요.\n" * 200, encoding="utf-8")
    out = tmp_path / "out.txt"
    args = [sys.executable, "-m", "s2s", "translate", "-m", str(run), "-i", str(tmp_path / "in.txt")]
    with open(out if to == "stdout" else os.devnull, "wb") as stdout:
        child = subprocess.run(args + (["-o", str(out)] if to == "-o" else []), stdout=stdout, stderr=subprocess.PIPE,
                               preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64)), timeout=300,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert child.returncode == 2
    name = "standard output" if to == "stdout" else str(out)
    assert one_line_error(child.stderr.decode()) == f"s2s: error: {name}: cannot write: File too large"
