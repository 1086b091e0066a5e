"""`train.keep_last` and `s2s average`: the weights of the last validations, kept and averaged."""

import json

import pytest
import torch
from reliability import train_tiny

from s2s.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory, prepared_sample):
    """The tiny test run validated every 10 of 40 steps, keeping the weights of the last 3 validations."""
    return train_tiny(prepared_sample, tmp_path_factory.mktemp("kept") / "run", max_steps=40, valid_every=10,
                      keep_last=3, lr=0.01)


def test_training_keeps_the_last_n_validations_weights_only(kept_run):
    kept = sorted(p.name for p in (kept_run / "checkpoints").glob("step-*.pt"))
    assert kept == ["step-20.pt", "step-30.pt", "step-40.pt"]  # step-10 pruned
    step = load_checkpoint(kept_run / "checkpoints" / "step-40.pt")
    last = load_checkpoint(kept_run / "checkpoints" / "last.pt")
    assert step.training is None and last.training is not None  # a third of the size: no optimiser moments
    assert all(torch.equal(step.model_state[k], last.model_state[k]) for k in last.model_state)


def test_average_is_the_mean_of_the_last_checkpoints(cli, kept_run, tmp_path):
    out = tmp_path / "avg.pt"
    result = cli("average", kept_run, "--last", "2", "-o", out)
    assert result.exit_code == 0, result.output
    assert "averaged steps 30, 40" in result.stderr and f"next: s2s evaluate -m {out}" in result.stderr
    averaged = load_checkpoint(out)
    a, b = (load_checkpoint(kept_run / "checkpoints" / f"step-{s}.pt").model_state for s in (30, 40))
    for name, tensor in averaged.model_state.items():
        torch.testing.assert_close(tensor, (a[name] + b[name]) / 2, rtol=0, atol=1e-6)
    assert any(not torch.equal(averaged.model_state[k], b[k]) for k in b)  # not simply the newest
    assert averaged.training is None and averaged.info.averaged_steps == [30, 40]


def test_the_averaged_checkpoint_evaluates(cli, kept_run):
    assert cli("average", kept_run, "--last", "3").exit_code == 0
    result = cli("evaluate", "-m", kept_run / "checkpoints" / "averaged.pt", "--split", "dev", "--decoder", "greedy",
                 "--chrf", "--json")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["sentences"] == 200 and scores["chrF2"]["score"] >= 0


def test_too_few_kept_checkpoints_is_one_line(cli, kept_run, tiny_run):
    result = cli("average", kept_run, "--last", "4")
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"s2s: error: {kept_run}: 3 step checkpoints kept, 4 asked for; train with "
                                     "`--set train.keep_last=4` (or more) to keep them")
    none_kept = cli("average", tiny_run)
    assert none_kept.exit_code == 2 and "0 step checkpoints kept" in none_kept.stderr
