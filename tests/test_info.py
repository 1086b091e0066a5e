"""`s2s info RUN`: the facts of a trained run, read from its checkpoint and metrics."""

import json
import re


def test_info_json_describes_the_run(cli, tiny_run, prepared_sample):
    result = cli("info", tiny_run, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["arch"] == "attention"
    assert info["steps"] == 30
    assert info["direction"] == "ko->en"
    assert info["data_dir"] == str(prepared_sample.resolve())
    assert info["parameters"] > 1000 and info["tokens_seen"] > 0 and info["train_seconds"] > 0
    assert info["best_dev"]["dev_loss"] > 0  # the one validation at the last step
    changes = info["recipe_changes"]
    assert changes["model.cell"] == "gru" and changes["train.max_steps"] == 30 and changes["decode.beam_size"] == 3
    assert "train.optimizer" not in changes  # left at its default


def test_info_text_and_checkpoint_file(cli, tiny_run):
    result = cli("info", tiny_run / "checkpoints" / "best.pt")
    assert result.exit_code == 0, result.output
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())  # name, value
    assert rows["architecture"] == "attention"
    assert rows["recipe model.hidden"] == "32"
    assert rows["steps"] == "30"


def test_info_on_a_missing_run_is_one_line(cli, tmp_path):
    result = cli("info", tmp_path / "nope")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"s2s: error: {tmp_path / 'nope'}: no such run directory or checkpoint file"]
