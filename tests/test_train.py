"""The training loop: run directory, reproducibility from a seed, exact resume, teacher forcing, curriculum;
SIGINT and SIGTERM then resume, non-finite losses, a full disk, a run directory that cannot be written."""

from __future__ import annotations

import errno
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import s2s.objective as loop
from reliability import disk_full, leftovers, one_line_error, tiny_corpus, train_tiny, write_tiny_recipe
from s2s.checkpoint import load_checkpoint
from s2s.config import load_recipe, recipe_from_dict, recipe_to_dict
from s2s.data.dataset import ParallelData, collate
from s2s.data.stream import BatchStream
from s2s.errors import S2SError
from s2s.models.base import build_model
from s2s.objective import batch_loss
from s2s.teacher_forcing import make_mixer
from s2s.train import train
from s2s.trainstate import TrainState


ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "data": {"max_tokens": 600, "max_len": 40},
    "model": {"arch": "attention", "cell": "gru", "embed": 24, "encoder_hidden": 24, "encoder_layers": 1,
              "hidden": 32, "decoder_layers": 1, "dropout": 0.2},
    "train": {"seed": 3, "max_steps": 6, "lr": 0.003, "log_every": 1, "valid_every": 1000, "valid_bleu": False},
}


def recipe(**sections):
    raw = json.loads(json.dumps(TINY))
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return recipe_from_dict(raw, name="tiny-test")


def losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
            if r["kind"] == "train"]


def records(run_dir: Path, kind: str) -> list[dict]:
    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


def test_a_run_writes_its_directory(prepared_sample, tmp_path):
    run = tmp_path / "runs" / "one"
    result = train(recipe(train={"valid_every": 3, "valid_bleu": True, "valid_max_sentences": 20}),
                   prepared_sample, run, quiet=True)
    assert result.steps == 6
    assert (tmp_path / "runs" / "latest").resolve() == run.resolve()
    stored = yaml.safe_load((run / "recipe.yaml").read_text())
    assert stored["model"]["arch"] == "attention" and stored["train"]["max_steps"] == 6
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert recipe_to_dict(ckpt.recipe) == stored and ckpt.src_lang == "ko" and ckpt.tgt_lang == "en"
    assert ckpt.training.state.step == 6
    valid = records(run, "valid")
    assert [v["step"] for v in valid] == [3, 6] and all("dev_bleu" in v for v in valid)
    assert all(math.isfinite(v["dev_loss"]) for v in valid)
    train_records = records(run, "train")
    assert [r["step"] for r in train_records] == [1, 2, 3, 4, 5, 6]
    for key in ("loss", "ppl", "lr", "tokens_per_s", "tf_ratio", "competence"):
        assert key in train_records[0]


def test_training_never_goes_through_onednn(prepared_sample, tmp_path, monkeypatch):
    """Training products and the validations' decoding use F.linear: oneDNN's per-shape kernels would stay in
    the training process's memory (s2s/fast.py)."""
    from s2s import fast

    def refuse(*args):
        raise AssertionError("oneDNN used during training")

    available = fast.onednn_available()  # its one-time self-check calls the kernel
    monkeypatch.setattr(fast, "_onednn", refuse)
    result = train(recipe(train={"max_steps": 2, "valid_every": 1, "valid_bleu": True, "valid_max_sentences": 20}),
                   prepared_sample, tmp_path / "run", quiet=True)
    assert result.steps == 2 and len(records(tmp_path / "run", "valid")) == 2
    if available:  # and a model prepared for decoding takes it
        model = fast.for_decoding(result.model.eval())
        with torch.no_grad(), pytest.raises(AssertionError, match="oneDNN used"):
            model.output(torch.zeros(2, model.output.in_features))


def test_same_seed_gives_identical_losses(prepared_sample, tmp_path):
    a = train(recipe(), prepared_sample, tmp_path / "a", quiet=True).run_dir
    b = train(recipe(), prepared_sample, tmp_path / "b", quiet=True).run_dir
    c = train(recipe(train={"seed": 4}), prepared_sample, tmp_path / "c", quiet=True).run_dir
    assert losses(a) == losses(b)
    assert losses(a) != losses(c)


def test_resume_continues_exactly(prepared_sample, tmp_path):
    # Scheduled sampling with sampled predictions and dropout: the RNG states and the schedule must survive.
    tf = {"schedule": "linear", "start": 0.9, "floor": 0.1, "steps": 8, "sampling": "sample"}
    straight = train(recipe(train={"max_steps": 8}, teacher_forcing=tf), prepared_sample, tmp_path / "s", quiet=True)
    stopped = train(recipe(train={"max_steps": 4}, teacher_forcing=tf), prepared_sample, tmp_path / "r", quiet=True)
    train(recipe(train={"max_steps": 8}, teacher_forcing=tf), prepared_sample, stopped.run_dir, resume=True, quiet=True)
    assert losses(stopped.run_dir) == losses(straight.run_dir)
    ratios = [r["tf_ratio"] for r in records(stopped.run_dir, "train")]
    assert ratios == pytest.approx([0.9 - 0.1 * s for s in range(8)])


def test_subword_regularisation_is_reproducible_and_resumes_exactly(prepared_sample, tmp_path):
    sampled = lambda steps: recipe(data={"subword_alpha": 0.1}, train={"max_steps": steps})
    straight = train(sampled(6), prepared_sample, tmp_path / "s", quiet=True)
    stopped = train(sampled(3), prepared_sample, tmp_path / "r", quiet=True)
    train(sampled(6), prepared_sample, stopped.run_dir, resume=True, quiet=True)
    assert losses(stopped.run_dir) == losses(straight.run_dir)
    plain = train(recipe(train={"max_steps": 6}), prepared_sample, tmp_path / "p", quiet=True)
    assert losses(plain.run_dir) != losses(straight.run_dir)


def test_resume_refuses_a_changed_recipe_or_other_vocabulary(prepared_sample, tmp_path):
    run = train(recipe(train={"max_steps": 2}), prepared_sample, tmp_path / "r", quiet=True).run_dir
    with pytest.raises(S2SError, match=r"train.lr: is 0.001 but the run being resumed used 0.003"):
        train(recipe(train={"max_steps": 4, "lr": 0.001}), prepared_sample, run, resume=True, quiet=True)
    with pytest.raises(S2SError, match="already holds checkpoints"):
        train(recipe(), prepared_sample, run, quiet=True)
    with pytest.raises(S2SError, match="nothing to resume"):
        train(recipe(), prepared_sample, tmp_path / "empty", resume=True, quiet=True)


def _model_and_batch(prepared_sample, arch_recipe):
    data = ParallelData.open(prepared_sample, "train", "ko", "en")
    torch.manual_seed(0)
    model = build_model(arch_recipe.model.name, arch_recipe.model.config, 1000, 1000).eval()
    return model, collate(data, np.arange(8))


def test_ratio_one_is_exactly_the_teacher_forced_loss(prepared_sample):
    r = recipe(teacher_forcing={"schedule": "constant", "ratio": 1.0, "granularity": "sequence"})
    model, batch = _model_and_batch(prepared_sample, r)
    logits = model(batch.src, batch.src_lengths, batch.tgt_in)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), batch.tgt_out.reshape(-1),
                                                 ignore_index=0, reduction="sum")
    assert torch.equal(batch_loss(model, batch, 1.0, torch.Generator(), r.teacher_forcing), expected)


@pytest.mark.parametrize("arch", ["gru", "attention", "transformer"])
def test_ratio_zero_feeds_only_the_models_predictions(prepared_sample, arch):
    small = {"gru": {"embed": 16, "hidden": 16, "layers": 1},
             "attention": TINY["model"],
             "transformer": {"d_model": 16, "heads": 2, "ffn": 32, "encoder_layers": 1, "decoder_layers": 1}}[arch]
    r = recipe_from_dict({**TINY, "model": {**small, "arch": arch}, "teacher_forcing": {"ratio": 0.0}})
    model, batch = _model_and_batch(prepared_sample, r)
    fed, predicted, golds = [], [], []

    def spy(gold, logits):  # wraps the real mixer: records what it returns and what the model predicted
        out = mixer(gold, logits)
        fed.append(out.reshape(-1))
        predicted.append(logits.argmax(-1).reshape(-1))
        golds.append(gold.reshape(-1))
        return out

    mixer = make_mixer(r.teacher_forcing, 0.0, batch.size, torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.forward_mixed(batch.src, batch.src_lengths, batch.tgt_in, spy)
    fed_all, predicted_all, gold_all = torch.cat(fed), torch.cat(predicted), torch.cat(golds)
    real = gold_all != 0  # padding stays padding
    assert real.sum() == (batch.tgt_in[:, 1:] != 0).sum()  # every real target position went through the mixer
    assert torch.equal(fed_all[real], predicted_all[real])
    assert not torch.equal(fed_all[real], gold_all[real])


def test_curriculum_starts_on_the_easiest_pairs(prepared_sample):
    r = recipe(teacher_forcing={"curriculum": {"steps": 100, "initial": 0.05}})
    data = ParallelData.open(prepared_sample, "train", "ko", "en")
    stream = BatchStream(data, r)
    fits = np.sort(data.src_lengths[(data.src_lengths <= 40) & (data.tgt_lengths <= 40)])
    easiest_length = fits[int(math.ceil(0.05 * len(fits))) - 1]
    state = TrainState()
    for _ in range(20):
        indices = stream.next(state, stream.competence(0))
        assert data.src_lengths[indices].max() <= easiest_length
    late = [stream.next(state, stream.competence(100)) for _ in range(30)]
    assert max(data.src_lengths[ix].max() for ix in late) > easiest_length


def test_curriculum_competence_is_logged(prepared_sample, tmp_path):
    run = train(recipe(teacher_forcing={"curriculum": {"steps": 4, "initial": 0.1}}), prepared_sample,
                tmp_path / "c", quiet=True).run_dir
    comp = [r["competence"] for r in records(run, "train")]
    assert comp[0] == pytest.approx(0.1) and comp[-1] == 1.0 and comp == sorted(comp)


def test_repeated_non_finite_losses_stop_training(prepared_sample, tmp_path, monkeypatch):
    import s2s.objective

    monkeypatch.setattr(s2s.objective, "batch_loss", lambda *a, **k: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(S2SError, match=r"5 non-finite losses in a row \(last at step 5\)"):
        train(recipe(train={"max_steps": 20}), prepared_sample, tmp_path / "n", quiet=True)


def test_cli_train_errors_are_one_line(cli, prepared_sample, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {arch: transfomer}\n")
    result = cli("train", bad, "--data", prepared_sample)
    assert result.exit_code == 2
    assert "model.arch: 'transfomer' is not an architecture; choose one of: attention, gru, lstm, rnn, transformer" in result.output
    assert "Traceback" not in result.output
    result = cli("train", ROOT / "recipes" / "tiny.yaml", "--data", tmp_path / "missing")
    assert result.exit_code == 2 and "missing" in result.output and "Traceback" not in result.output
    result = cli("train", ROOT / "recipes" / "tiny.yaml", "--data", prepared_sample, "--set", "train.lr=-1")
    assert result.exit_code == 2 and "train.lr: must be positive" in result.output


def test_resume_takes_the_run_alone(cli, prepared_sample, tmp_path, monkeypatch):
    """`s2s train --resume RUN` goes on from the run's own recipe and data directory, given nothing else, and
    logs what an uninterrupted run logs; the newest `s2s prepare` (data/latest, other vocabularies) is ignored."""
    monkeypatch.chdir(tmp_path)
    assert cli("prepare", tiny_corpus(tmp_path / "c.tsv"), "--vocab-size", "100", "-q").exit_code == 0
    assert (tmp_path / "data" / "latest").is_dir()
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "max_steps": 4}}))
    assert cli("train", recipe_file, "--data", prepared_sample, "--out", "runs/straight", "-q").exit_code == 0
    result = cli("train", recipe_file, "--data", prepared_sample, "--out", "runs/x", "-q", "--set", "train.max_steps=2")
    assert result.exit_code == 0, result.output
    result = cli("train", "--resume", "runs/x", "--set", "train.max_steps=4")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"resuming runs/x from step 2 (data {prepared_sample.resolve()})"
    assert losses(tmp_path / "runs" / "x") == losses(tmp_path / "runs" / "straight")
    assert Path(load_checkpoint(tmp_path / "runs/x/checkpoints/last.pt").data_dir) == prepared_sample.resolve()
    # The flag form, with a recipe and --out and still no --data: the run's data, not data/latest.
    result = cli("train", recipe_file, "--resume", "--out", "runs/x", "--set", "train.max_steps=5")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"resuming runs/x from step 4 (data {prepared_sample.resolve()})"
    result = cli("train", "--resume", "--out", "runs/x", "--set", "train.max_steps=6")  # the run's recipe
    assert result.output.splitlines()[0] == f"resuming runs/x from step 5 (data {prepared_sample.resolve()})"
    result = cli("train", "--resume", "--set", "train.max_steps=7")  # runs/latest
    assert result.output.splitlines()[0] == (f"resuming {(tmp_path / 'runs' / 'x').resolve()} from step 6 "
                                             f"(data {prepared_sample.resolve()})")
    # What is given still applies, and what would change the trajectory is still refused.
    result = cli("train", "--resume", "runs/x", "--set", "train.lr=0.5")
    assert result.exit_code == 2
    assert one_line_error(result.output) == "s2s: error: train.lr: is 0.5 but the run being resumed used 0.003"
    result = cli("train", "--resume", "runs/x", "--data", "data/latest")
    assert result.exit_code == 2 and "the data directory's vocabularies differ" in result.output
    result = cli("train", "--resume", "runs/x", "--out", "runs/straight")
    assert one_line_error(result.output) == ("s2s: error: --resume runs/x --out runs/straight: two runs named; give "
                                             "the run to continue once")


def test_ctrl_c_saves_a_resumable_checkpoint(prepared_sample, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "max_steps": 100000, "log_every": 1}}))
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "s2s", "train", str(path), "--data", str(prepared_sample),
                             "--out", str(run), "--quiet"], stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and not ((run / "metrics.jsonl").exists() and len(losses(run)) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "continue with --resume" in err
    step = load_checkpoint(run / "checkpoints" / "last.pt").training.state.step
    assert step >= 3
    recipe_again = load_recipe(path, [f"train.max_steps={step + 2}"])
    result = train(recipe_again, prepared_sample, run, resume=True, quiet=True)
    assert result.steps == step + 2


@pytest.mark.shared
def test_loss_falls_on_real_korean_english(shared_data, tmp_path):
    from s2s.data.prepare import PrepareOptions, prepare
    from s2s.data.subwords import SubwordOptions

    lines = (shared_data / "ko-en" / "train.tsv").read_text(encoding="utf-8").splitlines()[:3001]
    corpus = tmp_path / "slice.tsv"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = tmp_path / "data"
    prepare([corpus], PrepareOptions(subwords=SubwordOptions(vocab_size=2000), dev=100, test=100), data)
    r = recipe(train={"max_steps": 60, "log_every": 10, "lr": 0.005}, data={"max_tokens": 1500, "max_len": 60})
    run = train(r, data, tmp_path / "run", quiet=True).run_dir
    curve = losses(run)
    assert curve[-1] < curve[0] - 1.0, curve


def test_bf16_autocast_trains_on_the_cpu(prepared_sample, tmp_path):
    run = train(recipe(train={"precision": "bf16", "max_steps": 4}), prepared_sample, tmp_path / "bf", quiet=True)
    curve = losses(run.run_dir)
    assert len(curve) == 4 and all(math.isfinite(x) for x in curve)
    assert all(p.dtype == torch.float32 for p in run.model.parameters())  # weights stay fp32; matmuls run in bf16
    with pytest.raises(S2SError, match="fp16 needs a CUDA device"):
        train(recipe(train={"precision": "fp16"}), prepared_sample, tmp_path / "fp", quiet=True)


def test_prepare_then_train_as_typed_finds_data_latest(cli, tmp_path, monkeypatch):
    """`s2s prepare CORPUS && s2s train RECIPE` with no --data: train takes the newest prepared directory."""
    monkeypatch.chdir(tmp_path)
    result = cli("prepare", "--sample", "--vocab-size", "800", "--dev", "50", "--test", "50", "--quiet")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "latest").resolve() == (tmp_path / "data" / "sample").resolve()
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "max_steps": 2}}))
    result = cli("train", recipe_file, "--quiet")
    assert result.exit_code == 0, result.output
    ckpt = load_checkpoint(tmp_path / "runs" / "latest" / "checkpoints" / "last.pt")
    assert Path(ckpt.data_dir) == (tmp_path / "data" / "sample").resolve()


def test_last_is_saved_every_n_steps_and_every_few_minutes(prepared_sample, tmp_path, monkeypatch):
    import s2s.checkpointer

    saved = []
    real_save = s2s.checkpointer.save_checkpoint
    monkeypatch.setattr(s2s.checkpointer, "save_checkpoint", lambda ckpt, path: (saved.append((path.name, ckpt.info.step)),
                                                                         real_save(ckpt, path)))
    train(recipe(train={"save_every": 2, "save_every_minutes": None}), prepared_sample, tmp_path / "a", quiet=True)
    assert [step for name, step in saved if name == "last.pt"] == [2, 4, 6]  # 6: the final validation's
    saved.clear()
    train(recipe(train={"save_every_minutes": 1e-9}), prepared_sample, tmp_path / "b", quiet=True)
    assert [step for name, step in saved if name == "last.pt"] == [1, 2, 3, 4, 5, 6]


def test_max_time_stops_with_a_validation_and_resume_respects_it(prepared_sample, tmp_path, capsys):
    run = tmp_path / "run"
    result = train(recipe(train={"max_time": 1e-6}), prepared_sample, run)
    assert result.steps == 1 and "time budget reached" in capsys.readouterr().err
    assert [r["step"] for r in records(run, "valid")] == [1]
    assert load_checkpoint(run / "checkpoints" / "last.pt").training.state.step == 1
    assert train(recipe(train={"max_time": 1e-6}), prepared_sample, run, resume=True, quiet=True).steps == 1
    assert [r["step"] for r in records(run, "valid")] == [1]  # no second validation of the same step
    assert train(recipe(train={"max_time": "1h"}), prepared_sample, run, resume=True, quiet=True).steps == 6


def test_max_time_is_checked(cli, prepared_sample):
    for bad, why in [("abc", "is not a duration like 90s, 30m, 2h or seconds"), ("-5", "must be a positive duration")]:
        result = cli("train", ROOT / "recipes" / "tiny.yaml", "--data", prepared_sample, "--set", f"train.max_time={bad}")
        assert result.exit_code == 2 and f"train.max_time: " in result.output and why in result.output
        assert "Traceback" not in result.output
    assert load_recipe(ROOT / "recipes" / "tiny.yaml", ["train.max_time=30m"]).train.max_time_seconds == 1800
    assert load_recipe(ROOT / "recipes" / "tiny.yaml", ["train.max_time=2h"]).train.max_time_seconds == 7200
    assert load_recipe(ROOT / "recipes" / "tiny.yaml", ["train.max_time=90"]).train.max_time_seconds == 90


def test_the_runs_recipe_records_the_data_it_used(prepared_sample, tmp_path):
    run = tmp_path / "run"
    train(recipe(train={"max_steps": 2}), prepared_sample, run, quiet=True)
    stored = yaml.safe_load((run / "recipe.yaml").read_text())["data"]
    assert stored["dir"] == str(Path(prepared_sample).resolve()) and (stored["src"], stored["tgt"]) == ("ko", "en")
    assert recipe_to_dict(load_checkpoint(run / "checkpoints" / "last.pt").recipe)["data"] == stored
    assert train(recipe(train={"max_steps": 3}), prepared_sample, run, resume=True, quiet=True).steps == 3


# ---- recipes by name, from any directory ------------------------------------------------------------------------


def test_a_bundled_recipe_trains_by_name_from_any_directory(prepared_sample, tmp_path):
    """`s2s train tiny` in a directory that has no recipes/ folder: the recipe ships inside the package."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def train_as(name: str, *more: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "s2s", "train", name, "--data", str(prepared_sample), "--quiet",
                               "--set", "train.max_steps=2", "--set", "train.valid_bleu=false",
                               "--set", "train.threads=1", *more],
                              cwd=elsewhere, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})

    proc = train_as("tiny")
    assert proc.returncode == 0, proc.stderr
    run = elsewhere / "runs" / "latest"
    assert run.resolve().name.startswith("tiny-")  # named after the recipe, as a recipe file's run is
    stored = yaml.safe_load((run / "recipe.yaml").read_text())
    assert stored["model"]["embed"] == 64 and stored["train"]["max_steps"] == 2  # tiny.yaml's values, overridden
    proc = train_as("tiny.yaml", "--out", str(tmp_path / "again"))
    assert proc.returncode == 0, proc.stderr


def test_a_recipe_that_is_a_directory_or_nowhere_is_one_line(cli, tmp_path, monkeypatch, prepared_sample):
    (tmp_path / "recipes").mkdir()
    monkeypatch.chdir(tmp_path)
    result = cli("train", "recipes", "--data", prepared_sample)
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert line.startswith("s2s: error: recipes: is a directory, not a recipe file") and "Errno" not in line
    assert "bundled: attention, attention-scheduled, " in line
    result = cli("train", "xyz", "--data", prepared_sample)
    assert result.exit_code == 2
    assert one_line_error(result.output) == ("s2s: error: no recipe 'xyz': not a file, and not a bundled recipe "
                                             "(bundled: attention, attention-scheduled, bench-lstm, bench-transformer, "
                                             "gru, lstm, rnn, tiny, transformer, transformer-scheduled)")
    assert not (tmp_path / "runs").exists()


def test_a_bad_set_is_blamed_on_the_set_and_a_bad_file_on_the_file(cli, tmp_path, prepared_sample):
    tiny = ROOT / "recipes" / "tiny.yaml"
    result = cli("train", tiny, "--data", prepared_sample, "--out", tmp_path / "run", "--set", "train.lr=abc")
    assert result.exit_code == 2
    assert one_line_error(result.output) == "s2s: error: --set train.lr: 'abc' is not a number"
    result = cli("train", tiny, "--data", prepared_sample, "--out", tmp_path / "run", "--set", "model.hiden=3")
    assert one_line_error(result.output).startswith("s2s: error: --set model.hiden: unknown key; valid keys: ")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "lr": "abc"}}))
    result = cli("train", bad, "--data", prepared_sample, "--out", tmp_path / "run", "--set", "train.seed=4")
    assert result.exit_code == 2
    assert one_line_error(result.output) == f"s2s: error: {bad}: train.lr: 'abc' is not a number"
    assert not (tmp_path / "run").exists()


# ---- interrupted and resumed ------------------------------------------------------------------------------------

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


# ---- faults: non-finite losses, a full disk, an unwritable run directory ----------------------------------------

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
    assert ckpt.training.state.step == 4
    assert all(torch.isfinite(t).all() for t in ckpt.model_state.values())  # the NaN gradients were dropped
    for group in ckpt.training.optimizer["state"].values():
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
    assert load_checkpoint(last).training.state.step == 2


# ---- failing writes ---------------------------------------------------------------------------------------------




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
    assert load_checkpoint(run / "checkpoints" / "last.pt").training.state.step == 2
    assert leftovers(run) == []
    monkeypatch.undo()  # the disk has room again
    result = cli("train", recipe, "--data", prepared_sample, "--out", run, "--resume", "--quiet")
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run / "checkpoints" / "last.pt").training.state.step == 6


# ---- an output location that can't be written -------------------------------------------------------------------


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
