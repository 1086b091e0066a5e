"""Recipes, tried systematically: every key of every section and registered entry, misspelt and mistyped, fails
with one line naming the file and the key; YAML is read with the safe loader only; `data.dir` is relative to
the recipe file and `train` prints the directory it uses; data for another language pair or vocabulary than
the run being resumed is refused.
"""

from __future__ import annotations

import dataclasses
import shutil
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
import yaml

import s2s.decoding  # noqa: F401  (fills the registries)
import s2s.models  # noqa: F401
from s2s.config import DataConfig, TrainConfig, load_recipe, recipe_from_dict
from s2s.errors import ConfigError, S2SError
from s2s.registry import ARCHITECTURES, DECODERS, SCHEDULES
from s2s.teacher_forcing import CurriculumConfig, _Common

from reliability import one_line_error, tiny_corpus, train_tiny, write_tiny_recipe

# (id, recipe path of the section, the config dataclass, the keys that must sit beside its fields)
SECTIONS = (
    [("data", "data", DataConfig, {}), ("train", "train", TrainConfig, {})]
    + [(f"model[{e.name}]", "model", e.config, {"arch": e.name}) for e in ARCHITECTURES]
    + [(f"decode[{e.name}]", "decode", e.config, {"strategy": e.name}) for e in DECODERS]
    + [(f"teacher_forcing[{e.name}]", "teacher_forcing", e.config, {"schedule": e.name}) for e in SCHEDULES]
    + [("teacher_forcing[common]", "teacher_forcing", _Common, {}),
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


def write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize("section", SECTIONS, ids=[s[0] for s in SECTIONS])
def test_every_misspelt_key_is_named_with_the_valid_ones(tmp_path, section):
    _, path, cls, base = section
    names = {name for name, _ in fields(cls)}
    for name in sorted(names):
        typo = misspell(name, names | set(base) | set(_Common.__dataclass_fields__))
        raw = build(path, base, typo, 1)
        with pytest.raises(ConfigError) as err:
            recipe_from_dict(raw)
        assert err.value.key == f"{path}.{typo}", (name, str(err.value))
        assert "unknown key; valid keys: " in str(err.value)
        assert name in str(err.value).partition("valid keys: ")[2].split(", "), (name, str(err.value))
        with pytest.raises(S2SError) as err:  # through a file: the file and the key, one line
            load_recipe(write(tmp_path, raw))
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


# ---- the safe loader only ----------------------------------------------------------------------------------------


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
    path = write(tmp_path, {"model": {"arch": "gru"}})
    with pytest.raises(S2SError, match=r"train.lr: .* is not a number"):
        load_recipe(path, [f'train.lr=!!python/object/apply:os.system ["touch {marker}"]'])
    assert not marker.exists()


# ---- data.dir: relative to the recipe file, and said out loud -------------------------------------------------


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


# ---- data that doesn't belong to the run being resumed ------------------------------------------------------------


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

