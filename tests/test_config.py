"""Recipes: every shipped recipe loads; bad keys, types, values and names fail naming the key; overrides apply."""

from pathlib import Path

import pytest
import yaml

from s2s.config import load_recipe, recipe_from_dict, recipe_to_dict
from s2s.errors import ConfigError, S2SError

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_recipe_loads_and_roundtrips(path):
    recipe = load_recipe(path)
    resolved = recipe_to_dict(recipe)
    assert recipe_to_dict(recipe_from_dict(resolved)) == resolved  # the resolved form reproduces itself
    assert resolved["model"]["arch"] == yaml.safe_load(path.read_text())["model"]["arch"]


def test_the_family_recipes_compare_at_one_budget():
    """bench.quality's table compares the families at equal budget: the recipes must agree on what it holds fixed."""
    recipes = {name: load_recipe(RECIPES / f"{name}.yaml") for name in ("rnn", "lstm", "gru", "attention", "transformer")}
    assert {name: r.model.name for name, r in recipes.items()} == {name: name for name in recipes}
    for name, r in recipes.items():
        assert r.train.max_time_seconds == 3600, name
        assert (r.train.valid_every, r.train.valid_max_sentences, r.train.keep_last) == (250, 300, 5), name
        assert (r.decode.name, r.decode.config.beam_size, r.decode.config.length_penalty) == ("beam", 5, 0.6), name


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("model: {arch: transfomer}", "model.arch: 'transfomer' is not an architecture; choose one of: attention, gru, lstm, rnn, transformer"),
        ("model: {arch: lstm, hiden: 5}", "model.hiden: unknown key"),
        ("model: {arch: lstm, hidden: big}", "model.hidden: 'big' is not an integer"),
        ("model: {arch: lstm, hidden: -4}", "model.hidden: must be positive"),
        ("model: {arch: lstm}\ntrain: {lr: fast}", "train.lr: 'fast' is not a number"),
        ("model: {arch: lstm}\ntrain: {optimizer: sgd}", "train.optimizer: 'sgd' is not valid; choose one of: adam, adamw"),
        ("model: {arch: lstm}\ntrian: {lr: 1}", "trian: unknown section"),
        ("model: {arch: lstm}\ndecode: {strategy: beem}", "decode.strategy: 'beem' is not a decoding strategy"),
        ("model: {arch: lstm}\ndecode: {strategy: beam, beam_size: 0}", "decode.beam_size"),
        ("model: {arch: lstm}\ndata: {max_tokens: 1.5}", "data.max_tokens: 1.5 is not an integer"),
        ("model: {arch: lstm}\ntrain: {clip_norm: true}", "train.clip_norm"),
        ("train: {lr: 1}", "model: section is required"),
        ("model: [1, 2]", "model: expected a mapping"),
        ("model: {arch: lstm\n", "r.yaml:2: invalid YAML"),
    ],
)
def test_bad_recipes_fail_naming_file_and_key(tmp_path, text, expected):
    with pytest.raises(S2SError) as err:
        load_recipe(write(tmp_path, text))
    message = str(err.value)
    assert expected in message and str(tmp_path / "r.yaml") in message
    assert "\n" not in message


def test_overrides_apply_and_are_checked(tmp_path):
    path = write(tmp_path, "model: {arch: lstm}\n")
    recipe = load_recipe(path, ["train.lr=3e-4", "model.hidden=64", "decode.strategy=beam", "data.batch_size=64"])
    assert recipe.train.lr == 3e-4 and recipe.model.config.hidden == 64
    assert recipe.decode.name == "beam" and recipe.data.batch_size == 64
    with pytest.raises(S2SError, match="model.hidden: 'x' is not an integer"):
        load_recipe(path, ["model.hidden=x"])
    with pytest.raises(S2SError, match="train.nope: unknown key"):
        load_recipe(path, ["train.nope=1"])
    with pytest.raises(S2SError, match="not of the form"):
        load_recipe(path, ["train.lr"])


def test_defaults_are_filled_in_the_resolved_recipe(tmp_path):
    resolved = recipe_to_dict(load_recipe(write(tmp_path, "model: {arch: gru}\n")))
    assert resolved["train"]["seed"] == 1 and resolved["decode"]["strategy"] == "greedy"
    assert resolved["teacher_forcing"]["schedule"] == "constant" and resolved["teacher_forcing"]["ratio"] == 1.0
    assert "hidden" in resolved["model"]


def test_missing_recipe_file_is_one_line(tmp_path):
    with pytest.raises(S2SError, match="no such recipe file"):
        load_recipe(tmp_path / "nope.yaml")


def test_config_error_carries_the_key():
    with pytest.raises(ConfigError) as err:
        recipe_from_dict({"model": {"arch": "lstm", "layers": "two"}})
    assert err.value.key == "model.layers"
