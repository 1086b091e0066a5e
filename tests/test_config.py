"""Recipes: every shipped recipe loads; bad keys, types, values and names fail naming the key; overrides apply;
every misspelt or mistyped key of every section is named, Python tags are refused, data.dir resolves as documented."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
import types
import yaml

import s2s.decoding
import s2s.models
from reliability import one_line_error, tiny_corpus, train_tiny, write_tiny_recipe
from s2s.config import DataConfig, TrainConfig, load_recipe, recipe_from_dict, recipe_to_dict
from s2s.errors import ConfigError, S2SError
from s2s.registry import ARCHITECTURES, DECODERS, SCHEDULES
from s2s.teacher_forcing import CurriculumConfig, Feeding


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


def test_the_scheduled_sampling_recipe_differs_from_attention_only_in_what_the_decoder_is_fed():
    """bench.quality sets the two against each other at equal time: any other difference would be measured too."""
    plain_recipe = load_recipe(RECIPES / "attention.yaml")
    scheduled_recipe = load_recipe(RECIPES / "attention-scheduled.yaml")
    assert plain_recipe.teacher_forcing.is_plain and not scheduled_recipe.teacher_forcing.is_plain
    plain, scheduled = recipe_to_dict(plain_recipe), recipe_to_dict(scheduled_recipe)
    differing = {key for key in plain.keys() | scheduled.keys() if plain.get(key) != scheduled.get(key)}
    assert differing == {"teacher_forcing"}, differing


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


# ---- misspelt, mistyped and unsafe recipes; where data.dir points -----------------------------------------------

# (id, recipe path of the section, the config dataclass, the keys that must sit beside its fields)
SECTIONS = (
    [("data", "data", DataConfig, {}), ("train", "train", TrainConfig, {})]
    + [(f"model[{e.name}]", "model", e.config, {"arch": e.name}) for e in ARCHITECTURES]
    + [(f"decode[{e.name}]", "decode", e.config, {"strategy": e.name}) for e in DECODERS]
    + [(f"teacher_forcing[{e.name}]", "teacher_forcing", e.config, {"schedule": e.name}) for e in SCHEDULES]
    + [("teacher_forcing[common]", "teacher_forcing", Feeding, {}),
       ("teacher_forcing.curriculum", "teacher_forcing.curriculum", CurriculumConfig, {})]
)


def fields(cls: type) -> list[tuple[str, Any]]:
    hints = get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def misspell(name: str, taken: set[str]) -> str:
    for typo in (name[:-1], name + name[-1], name[0] + name, name.replace("_", "")):
        if typo and typo not in taken and typo != name:
            return typo
    raise AssertionError(name)


def wrong_values(tp: Any) -> list[Any]:
    """Values YAML could give that are not of type `tp`."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):  # Optional[X]: what is wrong for X (null is fine)
        (option,) = [a for a in get_args(tp) if a is not type(None)]
        return wrong_values(option)
    if origin is Literal:
        return ["no-such-choice", 3]
    if origin is tuple:
        return [7, "text", [0.1]]
    if dataclasses.is_dataclass(tp):
        return [5, "text", [1, 2]]
    return {int: ["many", 1.5, True, [1]], float: ["fast", True, [1.0]], bool: ["maybe", 1, "yes please"],
            str: [12, ["a"], {"a": 1}]}[tp]


def build(path: str, base: dict, key: str, value: Any) -> dict:
    """A minimal valid recipe with `path.key: value` added to the section at `path`."""
    parts = path.split(".")
    raw: dict = {"model": {"arch": "gru"}}
    raw[parts[0]] = {**raw.get(parts[0], {}), **base}
    node = raw[parts[0]]
    for part in parts[1:]:
        node = node.setdefault(part, {})
    node[key] = value
    return raw


def write_recipe(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize("section", SECTIONS, ids=[s[0] for s in SECTIONS])
def test_every_misspelt_key_is_named_with_the_valid_ones(tmp_path, section):
    _, path, cls, base = section
    names = {name for name, _ in fields(cls)}
    for name in sorted(names):
        typo = misspell(name, names | set(base) | set(Feeding.__dataclass_fields__))
        raw = build(path, base, typo, 1)
        with pytest.raises(ConfigError) as err:
            recipe_from_dict(raw)
        assert err.value.key == f"{path}.{typo}", (name, str(err.value))
        assert "unknown key; valid keys: " in str(err.value)
        assert name in str(err.value).partition("valid keys: ")[2].split(", "), (name, str(err.value))
        with pytest.raises(S2SError) as err:  # through a file: the file and the key, one line
            load_recipe(write_recipe(tmp_path, raw))
        assert str(err.value).startswith(f"{tmp_path / 'recipe.yaml'}: {path}.{typo}: unknown key")
        assert "\n" not in str(err.value)


def test_teacher_forcing_typos_list_the_common_keys():
    with pytest.raises(ConfigError) as err:
        recipe_from_dict(build("teacher_forcing", {}, "samplng", "argmax"))
    assert "sampling" in str(err.value).partition("valid keys: ")[2].split(", ")


@pytest.mark.parametrize("section", SECTIONS, ids=[s[0] for s in SECTIONS])
def test_every_key_of_the_wrong_type_is_named(section):
    _, path, cls, base = section
    tried = 0
    for name, tp in fields(cls):
        if tp is Any:
            continue
        for value in wrong_values(tp):
            with pytest.raises(ConfigError) as err:
                recipe_from_dict(build(path, base, name, value))
            assert err.value.key.startswith(f"{path}.{name}"), (name, value, str(err.value))
            assert "\n" not in str(err.value)
            tried += 1
    assert tried >= 2 * len(fields(cls)) - 2


@pytest.mark.parametrize("name", ["model.arch", "decode.strategy", "teacher_forcing.schedule"])
def test_a_misspelt_registry_name_lists_the_choices(name):
    section, key = name.split(".")
    registry = {"arch": ARCHITECTURES, "strategy": DECODERS, "schedule": SCHEDULES}[key]
    raw = {"model": {"arch": "gru"}, section: {key: "nonesuch"}}
    with pytest.raises(ConfigError) as err:
        recipe_from_dict(raw)
    assert err.value.key == name and ", ".join(registry.names()) in str(err.value)


# ---- the safe loader only ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/object:pathlib.Path",
                                 "!!python/name:os.system", "!!python/module:os"])
def test_python_tags_in_a_recipe_are_refused_naming_the_file(cli, tmp_path, prepared_sample, tag):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.yaml"
    path.write_text(f"model: {{arch: gru}}\ntrain:\n  lr: {tag} [\"touch {marker}\"]\n", encoding="utf-8")
    result = cli("train", path, "--data", prepared_sample, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert line.startswith(f"s2s: error: {path}:3: refused the tag 'tag:yaml.org,2002:python/")
    assert "safe loader" in line
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_python_tags_in_an_override_stay_a_string(tmp_path):
    marker = tmp_path / "payload-ran"
    path = write_recipe(tmp_path, {"model": {"arch": "gru"}})
    with pytest.raises(S2SError, match=r"train.lr: .* is not a number"):
        load_recipe(path, [f'train.lr=!!python/object/apply:os.system ["touch {marker}"]'])
    assert not marker.exists()


# ---- data.dir: relative to the recipe file, and said out loud ---------------------------------------------------


def test_data_dir_is_relative_to_the_recipe_file_and_train_prints_it(cli, monkeypatch, tmp_path, prepared_sample):
    project = tmp_path / "project"
    shutil.copytree(prepared_sample, project / "data")
    recipe = write_tiny_recipe(project / "recipes" / "tiny.yaml", data={"dir": "../data"}, train={"max_steps": 1})
    assert load_recipe(recipe).data.dir == str(project / "data")  # stored absolute in the run's recipe
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("train", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert f"from{project / 'data'};" in "".join(result.output.split())  # said whatever the terminal width
    assert yaml.safe_load((tmp_path / "run" / "recipe.yaml").read_text())["data"]["dir"] == str(project / "data")


def test_data_dir_on_the_command_line_is_relative_to_the_working_directory(monkeypatch, tmp_path):
    (tmp_path / "recipes").mkdir()
    recipe = write_tiny_recipe(tmp_path / "recipes" / "tiny.yaml", data={"dir": "../data"})
    monkeypatch.chdir(tmp_path / "recipes")
    assert load_recipe(recipe, ["data.dir=mine"]).data.dir == "mine"
    assert Path(load_recipe(recipe, ["data.dir=mine"]).data.dir).resolve() == tmp_path / "recipes" / "mine"


def test_a_missing_data_directory_is_one_line_with_its_resolved_path(cli, tmp_path):
    recipe = write_tiny_recipe(tmp_path / "recipes" / "tiny.yaml", data={"dir": "../nowhere"})
    result = cli("train", recipe, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 2
    assert one_line_error(result.output) == (f"s2s: error: {tmp_path / 'nowhere'}: no such data directory "
                                             "(make one with `s2s prepare`)")
    assert not (tmp_path / "run").exists()


# ---- data that doesn't belong to the run being resumed ----------------------------------------------------------


@pytest.fixture(scope="module")
def resumable(tmp_path_factory, prepared_sample) -> Path:
    return train_tiny(prepared_sample, tmp_path_factory.mktemp("resumable") / "run")


@pytest.mark.parametrize("other", ["another-language-pair", "another-vocabulary"])
def test_resuming_on_data_prepared_differently_is_refused(cli, tmp_path, resumable, other):
    langs = ("ko", "ja") if other == "another-language-pair" else ("ko", "en")
    data = tmp_path / "data"
    assert cli("prepare", tiny_corpus(tmp_path / "c.tsv", langs=langs), "--out", data, "--vocab-size", "100",
               "--quiet").exit_code == 0
    run = tmp_path / "run"
    shutil.copytree(resumable, run)
    recipe = write_tiny_recipe(tmp_path / "tiny.yaml", train={"max_steps": 4})
    result = cli("train", recipe, "--data", data, "--out", run, "--resume", "--quiet")
    assert result.exit_code == 2
    line = one_line_error(result.output)
    assert "the data directory's vocabularies differ from the ones this run was trained with (ko->en on " in line


def test_a_direction_the_data_does_not_hold_is_refused(cli, tmp_path, prepared_sample):
    recipe = write_tiny_recipe(tmp_path / "tiny.yaml", data={"src": "ko", "tgt": "ja"})
    result = cli("train", recipe, "--data", prepared_sample, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 2
    assert "has no 'ja' data (languages: ko, en)" in one_line_error(result.output)
