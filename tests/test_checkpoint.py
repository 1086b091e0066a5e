"""Checkpoints are safe to open and survive a crash at any moment.

- Opening a checkpoint never runs code: a planted pickle payload is refused with one line and never runs.
- A truncated, bit-flipped or other-version checkpoint is refused with a message that says which.
- SIGKILL at any moment of a checkpoint write leaves the previous good checkpoint loadable, and `--resume` works.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from s2s.checkpoint import CheckpointInfo, load_checkpoint, save_checkpoint, weights_digest
from s2s.errors import S2SError

from reliability import CutShort, leftovers, one_line_error, planted, train_tiny, write_tiny_recipe

@pytest.fixture(scope="module")
def trained(tmp_path_factory, prepared_sample) -> Path:
    """A tiny run of 2 steps with `last.pt` and `best.pt`; copy it before changing anything in it."""
    return train_tiny(prepared_sample, tmp_path_factory.mktemp("ckpt") / "run")


@pytest.fixture
def run(trained, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def payload_of(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def same_content(a, b) -> bool:
    def digests(c):
        return weights_digest(c.model_state), c.to_payload()["content_sha256"]
    return digests(a) == digests(b)


# ---- opening a file never runs code -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["inside-a-real-checkpoint", "the-whole-file"])
@pytest.mark.parametrize("payload_index", [0, 1, 2], ids=["os.system", "builtins.exec", "pathlib.Path.touch"])
def test_a_planted_payload_is_refused_and_never_runs(run, tmp_path, where, payload_index):
    marker = tmp_path / "payload-ran"
    name, payload = planted(marker)[payload_index]
    evil = tmp_path / "evil.pt"
    if where == "inside-a-real-checkpoint":
        real = payload_of(run / "checkpoints" / "last.pt")
        real["info"]["note"] = payload
        torch.save(real, evil)
    else:
        torch.save(payload, evil)
    with pytest.raises(S2SError) as err:
        load_checkpoint(evil)
    message = str(err.value)
    assert message.startswith(f"{evil}: refused to open: it would import ") and "\n" not in message
    assert "nothing in it was run" in message
    assert not marker.exists()


def test_the_planted_file_really_is_dangerous(tmp_path):
    """The control for the test above: an unsafe loader runs the payload (so its absence there means something)."""
    marker = tmp_path / "payload-ran"
    torch.save({"x": planted(marker)[0][1]}, tmp_path / "evil.pt")
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


def test_a_raw_pickle_is_refused_before_any_unpickler_sees_it(tmp_path):
    import pickle

    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(planted(marker)[0][1]))
    with pytest.raises(S2SError, match=r"not a zip archive as torch.save writes; nothing in it was read or run"):
        load_checkpoint(evil)
    assert not marker.exists()


@pytest.mark.parametrize("command", ["translate", "evaluate", "resume"])
def test_the_cli_refuses_a_planted_checkpoint_in_one_line(cli, run, tmp_path, prepared_sample, command):
    marker = tmp_path / "payload-ran"
    real = payload_of(run / "checkpoints" / "last.pt")
    real["training"]["state"]["rng"] = planted(marker)[0][1]
    evil = run / "checkpoints" / "last.pt"
    torch.save(real, evil)
    if command == "translate":
        result = cli("translate", "-m", evil, "-i", write_lines(tmp_path / "in.txt", ["안녕하세요."]))
    elif command == "evaluate":
        result = cli("evaluate", "-m", evil)
    else:
        recipe = write_tiny_recipe(tmp_path / "tiny.yaml", train={"max_steps": 4})
        result = cli("train", recipe, "--data", prepared_sample, "--out", run, "--resume", "--quiet")
    assert result.exit_code == 2
    assert "refused to open: it would import posix.system" in one_line_error(result.output)
    assert not marker.exists()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# ---- damaged files are refused, saying which damage -------------------------------------------------------------


def flip_inside(path: Path, tensor: torch.Tensor) -> None:
    """Flip one bit in the middle of `tensor`'s bytes where they are stored in the file."""
    raw = bytearray(path.read_bytes())
    data = tensor.contiguous().view(-1).view(torch.uint8).numpy().tobytes()
    at = bytes(raw).find(data)
    assert at > 0, "tensor bytes not found in the file"
    raw[at + len(data) // 2] ^= 0x10
    path.write_bytes(bytes(raw))


def largest(tensors: dict) -> torch.Tensor:
    return max(tensors.values(), key=lambda t: t.numel())


DAMAGE = {
    "truncated-half": ("not a readable checkpoint (truncated or corrupted",
                       lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
    "truncated-to-1k": ("not a readable checkpoint (truncated or corrupted",
                        lambda p: p.write_bytes(p.read_bytes()[:1024])),
    "empty": ("not an s2s checkpoint (the file is empty", lambda p: p.write_bytes(b"")),
    "text": ("not an s2s checkpoint (not a zip archive", lambda p: p.write_text("model weights\n")),
    "other-zip": ("not a readable checkpoint (truncated or corrupted", lambda p: _other_zip(p)),
    "weights-bit-flipped": ("corrupted checkpoint: the weights do not match their recorded SHA-256",
                            lambda p: flip_inside(p, largest(payload_of(p)["model_state"]))),
    "optimizer-bit-flipped": ("corrupted checkpoint: its recipe, vocabularies or training state do not match",
                              lambda p: flip_inside(p, largest(payload_of(p)["training"]["optimizer"]["state"][0]))),
    "vocabulary-bit-flipped": ("corrupted checkpoint: its recipe, vocabularies or training state do not match",
                               lambda p: _flip_bytes_field(p, "src_vocab")),
    "format-version-2": ("checkpoint format version 2 (written by s2s", lambda p: _resave(p, format_version=2)),
    "not-an-s2s-checkpoint": ("not an s2s checkpoint", lambda p: torch.save({"state_dict": {}}, p)),
    "weights-not-tensors": ("corrupted checkpoint: model_state holds something other than named tensors",
                            lambda p: _resave(p, model_state={"w": [1.0, 2.0]})),
    "field-missing": ("incomplete checkpoint: missing 'src_vocab'", lambda p: _resave(p, src_vocab=None, drop=True)),
}


def _other_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "a zip, but not torch's")


def _resave(path: Path, drop: bool = False, **changes) -> None:
    payload = payload_of(path)
    for key, value in changes.items():
        if drop:
            del payload[key]
        else:
            payload[key] = value
    torch.save(payload, path)


def _flip_bytes_field(path: Path, field: str) -> None:
    raw = bytearray(path.read_bytes())
    value = payload_of(path)[field]
    at = bytes(raw).find(value)
    raw[at + len(value) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_is_refused_saying_which_damage(run, damage):
    expected, harm = DAMAGE[damage]
    path = run / "checkpoints" / "last.pt"
    harm(path)
    with pytest.raises(S2SError) as err:
        load_checkpoint(path)
    assert str(err.value).startswith(f"{path}: ") and expected in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_random_bit_flips_give_the_same_content_or_a_clear_refusal(trained, tmp_path):
    good = (trained / "checkpoints" / "last.pt").read_bytes()
    reference = load_checkpoint(trained / "checkpoints" / "last.pt")
    rng = random.Random(7)
    refused = 0
    for _ in range(40):
        raw = bytearray(good)
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        path = tmp_path / "flipped.pt"
        path.write_bytes(bytes(raw))
        try:
            loaded = load_checkpoint(path)
        except S2SError as err:
            assert "\n" not in str(err)
            refused += 1
            continue
        assert same_content(loaded, reference)  # the flip hit zip bookkeeping that carries no data
    assert refused >= 30


# ---- SIGKILL at any moment of a write ---------------------------------------------------------------------------


def _stall(flag: Path):
    """A stand-in for an OS call that marks where the child is, then waits to be killed."""
    def stall(*args, **kwargs):
        flag.touch()
        time.sleep(60)
    return stall


def kill_while_saving(path: Path, ckpt, moment: str, delay: float, flag: Path) -> None:
    """Fork a child that saves `ckpt` to `path` over and over, and SIGKILL it at `moment`.

    `random`: after `delay` seconds of repeated saves; `mid-write`: after half the bytes of the temporary file
    are written; `before-rename`: with the temporary file complete and synced, before it replaces `path`.
    """
    import s2s.atomic as atomic

    flag.unlink(missing_ok=True)
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            if moment == "mid-write":
                real_fdopen = os.fdopen
                atomic.os.fdopen = lambda fd, mode: CutShort(real_fdopen(fd, mode), lambda data: data[: len(data) // 2],
                                                             _stall(flag))
            elif moment == "before-rename":
                atomic.os.replace = _stall(flag)
            n = 0
            while True:
                n += 1
                save_checkpoint(replace(ckpt, info=replace(ckpt.info, step=n)), path)
                flag.touch()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 30
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def test_sigkill_during_checkpoint_writes_leaves_the_last_good_one(run, prepared_sample, tmp_path):
    last = run / "checkpoints" / "last.pt"
    original = load_checkpoint(last)
    # ~10 MB of ballast where the comparison below does not look, so that a write takes long enough for random
    # kills to land inside it.
    ckpt = replace(original, info=replace(original.info, averaged_steps=list(range(2_000_000))))
    rng = random.Random(3)
    moments = ["mid-write", "before-rename"] + ["random"] * 6
    caught_mid_write = 0
    for i, moment in enumerate(moments):
        kill_while_saving(last, ckpt, moment, rng.uniform(0, 0.25) if moment == "random" else 0.0,
                          tmp_path / f"flag-{i}")
        survivor = load_checkpoint(last)  # never raises: the old file or a complete new one, checksums verified
        assert same_content(replace(survivor, info=CheckpointInfo()), replace(original, info=CheckpointInfo()))
        if moment != "random":  # these come first: the interrupted write was the only one, and changed nothing
            assert survivor.info == original.info
        caught_mid_write += bool(leftovers(run / "checkpoints"))
    assert caught_mid_write >= 2  # at least the two placed kills left a temporary file behind...
    train_tiny(prepared_sample, run, resume=True, max_steps=4)  # ...which the next write removes
    assert load_checkpoint(last).training.state.step == 4
    assert leftovers(run / "checkpoints") == []


def test_sigkill_of_a_real_training_run_then_resume(prepared_sample, tmp_path):
    recipe = write_tiny_recipe(tmp_path / "tiny.yaml", train={"max_steps": 100000, "valid_every": 1})
    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-m", "s2s", "train", str(recipe), "--data", str(prepared_sample),
                              "--out", str(run), "--quiet", "--set", "train.threads=1"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _validations(run) < 3:
            assert child.poll() is None, child.communicate()[1].decode()
            time.sleep(0.05)
        time.sleep(random.Random(1).uniform(0, 0.1))
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    step = load_checkpoint(run / "checkpoints" / "last.pt").training.state.step
    logged = _validations(run)  # a validation is logged just before its checkpoint is written
    assert step >= 2 and step in (logged - 1, logged)
    train_tiny(prepared_sample, run, resume=True, max_steps=step + 1, valid_every=1)
    assert load_checkpoint(run / "checkpoints" / "last.pt").training.state.step == step + 1
    assert leftovers(run) == []


def _validations(run: Path) -> int:
    path = run / "metrics.jsonl"
    if not path.exists():
        return 0
    records = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    return sum(1 for r in records if r["kind"] == "valid")


@pytest.mark.parametrize("command", ["translate", "resume"])
def test_weights_that_do_not_fit_their_recipe_are_refused_in_one_line(cli, run, tmp_path, prepared_sample, command):
    """A well-formed file whose layers are named otherwise (another version of s2s, or edited by hand)."""
    path = run / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(path)
    state = dict(ckpt.model_state)
    name = next(iter(state))
    state[name + "_renamed"] = state.pop(name)
    save_checkpoint(replace(ckpt, model_state=state), path)
    if command == "translate":
        result = cli("translate", "-m", path, "-i", write_lines(tmp_path / "in.txt", ["안녕하세요."]))
    else:
        recipe = write_tiny_recipe(tmp_path / "tiny.yaml", train={"max_steps": 4})
        result = cli("train", recipe, "--data", prepared_sample, "--out", run, "--resume", "--quiet")
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert f"{path}: its weights do not fit the attention model its recipe describes (Missing key(s)" in line
    assert name in line
