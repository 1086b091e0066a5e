"""Several processes on torch.distributed (gloo on CPU): one model, the global batch split across ranks.

These start real processes on this machine (2 ranks), so they take a little longer than the other tests.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from s2s.checkpoint import load_checkpoint
from s2s.config import recipe_from_dict

TINY = {
    "data": {"max_tokens": 800, "max_len": 40},
    "model": {"arch": "attention", "cell": "gru", "embed": 16, "encoder_hidden": 16, "encoder_layers": 1,
              "hidden": 24, "decoder_layers": 1, "dropout": 0.0},
    "train": {"seed": 5, "max_steps": 4, "lr": 0.003, "log_every": 1, "valid_every": 1000, "valid_bleu": False,
              "threads": 1},
    "teacher_forcing": {"schedule": "linear", "start": 1.0, "floor": 1.0, "steps": 10},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world_size: int, port: int, data_dir: str, run_dir: str, raw: dict, out: str, resume: bool):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    from s2s.distributed import World
    from s2s.train import train

    world = World.setup("cpu")
    result = train(recipe_from_dict(raw, "tiny-ddp"), Path(data_dir), Path(run_dir), resume=resume, quiet=True,
                   world=world)
    torch.save({k: v.detach() for k, v in result.model.state_dict().items()}, Path(out) / f"rank{rank}.pt")
    world.close()


def run_ranks(world_size, data_dir, run_dir, raw, out, resume=False):
    out.mkdir(parents=True, exist_ok=True)
    mp.start_processes(_rank_main, args=(world_size, free_port(), str(data_dir), str(run_dir), raw, str(out), resume),
                       nprocs=world_size, join=True, start_method="spawn")
    return [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(world_size)]


def losses(run_dir):
    return [r["loss"] for r in map(json.loads, (Path(run_dir) / "metrics.jsonl").read_text().splitlines())
            if r["kind"] == "train"]


def assert_close(a: dict, b: dict, atol: float):
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst <= atol, worst


def test_two_ranks_stay_identical_and_match_one_process(prepared_sample, tmp_path):
    two = run_ranks(2, prepared_sample, tmp_path / "two", TINY, tmp_path / "w2")
    for name in two[0]:
        assert torch.equal(two[0][name], two[1][name]), name  # every rank holds the same model
    one = run_ranks(1, prepared_sample, tmp_path / "one", TINY, tmp_path / "w1")
    assert_close(one[0], two[0], atol=1e-4)  # half the batch on each of 2 ranks == the whole batch on 1
    assert losses(tmp_path / "one") == pytest.approx(losses(tmp_path / "two"), rel=1e-4)


def test_a_two_process_run_resumes_on_one_process(prepared_sample, tmp_path):
    raw = json.loads(json.dumps(TINY))
    raw["train"]["max_steps"] = 3
    run_ranks(2, prepared_sample, tmp_path / "run", raw, tmp_path / "a")
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert ckpt.training.state.step == 3 and ckpt.training.world_size == 2
    raw["train"]["max_steps"] = 6
    resumed = run_ranks(1, prepared_sample, tmp_path / "run", raw, tmp_path / "b", resume=True)
    straight = run_ranks(1, prepared_sample, tmp_path / "straight", raw, tmp_path / "c")
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert [r["tf_ratio"] for r in records if r["kind"] == "train"] == pytest.approx([1.0] * 6)
    assert losses(tmp_path / "run") == pytest.approx(losses(tmp_path / "straight"), rel=1e-4)
    assert_close(resumed[0], straight[0], atol=1e-4)


def test_nproc_option_runs_torchrun(prepared_sample, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({**TINY, "train": {**TINY["train"], "max_steps": 2}}))  # JSON is YAML
    proc = subprocess.run([sys.executable, "-m", "s2s", "train", str(recipe), "--data", str(prepared_sample),
                           "--nproc", "2", "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = [p for p in (tmp_path / "runs").iterdir() if p.name != "latest"]
    assert len(runs) == 1  # both processes wrote into one run directory
    ckpt = load_checkpoint(runs[0] / "checkpoints" / "last.pt")
    assert ckpt.training.world_size == 2 and ckpt.training.state.step == 2
