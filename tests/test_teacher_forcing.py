"""Teacher-forcing schedules match their formulas; the mixer feeds gold or predictions as the coin says."""

import math

import numpy as np
import pytest
import torch

from s2s import PAD_ID
from s2s.errors import ConfigError
from s2s.teacher_forcing import (
    CurriculumConfig,
    TeacherForcingConfig,
    competence,
    curriculum_batch,
    difficulty_order,
    make_mixer,
    teacher_forcing_ratio,
)


def tf(section):
    return TeacherForcingConfig.from_mapping(section, "teacher_forcing")


@pytest.mark.parametrize(
    "section, step, expected",
    [
        ({"schedule": "constant", "ratio": 0.7}, 12345, 0.7),
        ({"schedule": "linear", "start": 1.0, "floor": 0.2, "steps": 1000}, 0, 1.0),
        ({"schedule": "linear", "start": 1.0, "floor": 0.2, "steps": 1000}, 500, 0.6),
        ({"schedule": "linear", "start": 1.0, "floor": 0.2, "steps": 1000}, 5000, 0.2),
        ({"schedule": "exponential", "k": 0.999}, 700, 0.999**700),
        ({"schedule": "exponential", "k": 0.99, "floor": 0.3}, 1000, 0.3),
        ({"schedule": "inverse_sigmoid", "k": 100.0}, 0, 100 / 101),
        ({"schedule": "inverse_sigmoid", "k": 100.0}, 460, 100 / (100 + math.exp(4.6))),
        ({"schedule": "inverse_sigmoid", "k": 10.0}, 10**6, 0.0),
    ],
)
def test_schedule_values_match_their_formulas(section, step, expected):
    assert teacher_forcing_ratio(tf(section), step, epoch=0) == pytest.approx(expected, abs=1e-12)


def test_per_epoch_schedules_count_epochs_not_steps():
    cfg = tf({"schedule": "linear", "steps": 10, "per": "epoch"})
    assert teacher_forcing_ratio(cfg, step=999, epoch=5) == pytest.approx(0.5)


def test_default_is_plain_teacher_forcing_and_roundtrips():
    cfg = tf(None)
    assert cfg.is_plain and teacher_forcing_ratio(cfg, 10**6, 10**3) == 1.0
    again = tf(tf({"schedule": "linear", "steps": 7, "sampling": "sample", "curriculum": {"steps": 9}}).to_mapping())
    assert again.params.steps == 7 and again.sampling == "sample" and again.curriculum.steps == 9


@pytest.mark.parametrize(
    "section, key",
    [
        ({"schedule": "cosine"}, "teacher_forcing.schedule"),
        ({"schedule": "linear", "stpes": 5}, "teacher_forcing.stpes"),
        ({"schedule": "constant", "ratio": 1.5}, "teacher_forcing.ratio"),
        ({"sampling": "beam"}, "teacher_forcing.sampling"),
        ({"curriculum": {"competence": "cubic"}}, "teacher_forcing.curriculum.competence"),
    ],
)
def test_bad_sections_name_the_key(section, key):
    with pytest.raises(ConfigError) as err:
        tf(section)
    assert err.value.key == key


def _logits_predicting(tokens, vocab=10):
    return torch.nn.functional.one_hot(tokens, vocab).float() * 10.0


def test_mixer_ratio_one_keeps_gold_and_zero_takes_predictions():
    gold = torch.tensor([[4, 5, 6, PAD_ID], [7, 8, 9, 4]])
    predicted = torch.tensor([[9, 9, 9, 9], [5, 5, 5, 5]])
    logits = _logits_predicting(predicted)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(make_mixer(tf(None), 1.0, 2, g)(gold, logits), gold)
    mixed = make_mixer(tf(None), 0.0, 2, g)(gold, logits)
    assert torch.equal(mixed, torch.where(gold == PAD_ID, gold, predicted))  # padding stays padding


def test_mixer_per_token_rate_and_per_sequence_coins():
    g = torch.Generator().manual_seed(0)
    gold = torch.full((400, 50), 4)
    logits = _logits_predicting(torch.full((400, 50), 5))
    mixed = make_mixer(tf(None), 0.75, 400, g)(gold, logits)
    assert (mixed == 4).float().mean().item() == pytest.approx(0.75, abs=0.02)
    seq = make_mixer(tf({"granularity": "sequence"}), 0.5, 400, g)
    first, second = seq(gold[:, 0], logits[:, 0]), seq(gold[:, 1], logits[:, 1])
    assert torch.equal(first, second)  # the same sentences are mixed at every step
    rows = seq(gold, logits)
    assert ((rows == 4).all(1) | (rows == 5).all(1)).all()  # whole sentences, never half


def test_sampling_mixer_samples_from_the_distribution():
    g = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([0.0, 0.0, 0.0, 0.0, 0.5, 0.5]) + 1e-12).expand(2000, 6)
    mixed = make_mixer(tf({"sampling": "sample"}), 0.0, 2000, g)(torch.full((2000,), 1), logits)
    share = (mixed == 4).float().mean().item()
    assert set(mixed.unique().tolist()) == {4, 5} and share == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("kind", ["sqrt", "linear"])
def test_competence_starts_at_initial_and_reaches_one(kind):
    cfg = CurriculumConfig(steps=100, competence=kind, initial=0.1)
    assert competence(cfg, 0) == pytest.approx(0.1)
    assert competence(cfg, 100) == 1.0 and competence(cfg, 1000) == 1.0
    assert competence(cfg, 30) < competence(cfg, 60)
    mid = 0.1 + 0.9 * 0.5 if kind == "linear" else math.sqrt(0.01 + 0.99 * 0.5)
    assert competence(cfg, 50) == pytest.approx(mid)


def test_curriculum_draws_only_easy_pairs_at_step_zero_and_everything_at_the_end():
    rng = np.random.default_rng(0)
    src_len = rng.integers(1, 60, size=1000)
    tgt_len = src_len + 1
    cfg = CurriculumConfig(steps=100, initial=0.05)
    order = difficulty_order(cfg, src_len, None, None)
    easiest = set(order[:50].tolist())
    seen_start = set()
    for _ in range(50):
        pool = int(math.ceil(competence(cfg, 0) * 1000))
        seen_start.update(curriculum_batch(order, pool, src_len, tgt_len, 400, None, rng).tolist())
    assert seen_start <= easiest
    seen_end = set()
    for _ in range(200):
        seen_end.update(curriculum_batch(order, 1000, src_len, tgt_len, 400, None, rng).tolist())
    assert len(seen_end - easiest) > 300  # the whole corpus is in play


def test_rarity_difficulty_puts_rare_subwords_last():
    tokens = np.array([5, 5, 5, 5, 9, 5, 5], dtype=np.int64)  # sentence 2 is the one rare subword 9
    offsets = np.array([0, 2, 4, 5, 7])
    lengths = np.diff(offsets)
    order = difficulty_order(CurriculumConfig(difficulty="rarity"), lengths, tokens, offsets)
    assert order.tolist() == [0, 1, 3, 2]  # shorter, but rarer: -log p(9) > 2 * -log p(5)
    assert difficulty_order(CurriculumConfig(difficulty="length"), lengths, None, None).tolist()[0] == 2
