"""What a new user meets in the first hour (issue #15): `--version`, `-h`, shell completion, one-line errors for
bad option values and unusable devices, quiet `-q`, and messages and help texts that read as English."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from s2s.cli import app

from reliability import one_line_error, write_tiny_recipe

COMMANDS = sorted(typer.main.get_command(app).commands)


def s2s(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """`s2s ARGS` as a user runs it: a separate process."""
    return subprocess.run([sys.executable, "-m", "s2s", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kwargs)


# ---- --version, -h, completion -------------------------------------------------------------------------------


def test_version_prints_the_installed_version(cli):
    expected = f"s2s {importlib.metadata.version('s2s')}\n"
    result = cli("--version")
    assert result.exit_code == 0 and result.output == expected
    proc = s2s("--version")
    assert proc.returncode == 0 and proc.stdout == expected and proc.stderr == ""


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_h_is_help_on_the_app_and_every_command(cli, command):
    args = [command] if command else []
    short, long = cli(*args, "-h"), cli(*args, "--help")
    assert short.exit_code == 0 and long.exit_code == 0, short.output
    assert short.output == long.output and short.output.startswith(f"Usage: s2s {command}".rstrip())
    assert "-h, --help" in short.output


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_texts_show_no_placeholders_or_python_types(cli, command):
    """Typer 0.29 wrote required arguments as `{recipe}` and lists as `<list[Path]>`."""
    output = cli(*([command] if command else []), "--help").output
    for glitch in ("{", "}", "<list[", "list[", "Path]", "strategys"):
        assert glitch not in output, (glitch, output)


def test_the_command_list_shows_each_commands_whole_summary(cli):
    """Not "Clean, split and encode parallel corpora into a data..." cut at 60 characters."""
    listing = " ".join(cli("--help").output.split()).replace("- ", "-")  # wrapping may break "teacher-forcing"
    for name, command in typer.main.get_command(app).commands.items():
        summary = " ".join(command.help.strip().split("\n\n")[0].split())
        assert f"{name} {summary}" in listing, (name, listing)


def test_usage_lines_name_arguments_as_users_type_them(cli):
    assert cli("train", "-h").output.startswith("Usage: s2s train [OPTIONS] [RECIPE|RUN]\n")
    assert cli("prepare", "-h").output.startswith("Usage: s2s prepare [OPTIONS] [INPUTS]...\n")
    assert cli("compare", "-h").output.startswith("Usage: s2s compare [OPTIONS] [RUNS]...\n")  # or --hyp only


def test_show_completion_prints_a_script_that_completes_commands(tmp_path):
    proc = s2s("--show-completion", env={"SHELL": "/bin/bash"}, cwd=tmp_path)
    assert proc.returncode == 0 and "_S2S_COMPLETE" in proc.stdout, proc.stdout + proc.stderr
    # What the script asks s2s for when the user presses TAB after `s2s tr`:
    done = subprocess.run([sys.executable, "-c", "from s2s.cli import main; main()"], capture_output=True, text=True,
                          env={**os.environ, "_S2S_COMPLETE": "complete_bash", "COMP_WORDS": "s2s tr",
                               "COMP_CWORD": "1"}, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.split() == ["train", "translate"], done.stdout + done.stderr


def test_install_completion_writes_the_script_into_the_users_shell_set_up(tmp_path):
    proc = s2s("--install-completion", env={"SHELL": "/bin/bash", "HOME": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "_S2S_COMPLETE" in p.read_text(errors="replace")]
    assert written, sorted(tmp_path.rglob("*"))


def test_the_app_alone_still_shows_its_help(cli):
    result = cli()
    assert "Usage: s2s [OPTIONS] COMMAND" in result.output and "s2s: error" not in result.output


# ---- bad command lines: one line naming the option ------------------------------------------------------------

BAD_VALUES = [
    ("prepare", "--sample", "--vocab-size", "abc"),
    ("prepare", "--sample", "--max-ratio", "lots"),
    ("train", "recipe.yaml", "--seed", "1.5"),
    ("translate", "--beam", "wide"),
    ("evaluate", "--alpha", "high"),
    ("compare", "run", "--beam", "x"),
    ("translate", "--nbest", "two"),
]


@pytest.mark.parametrize("args", BAD_VALUES, ids=lambda a: " ".join(a))
def test_a_bad_option_value_is_one_line_naming_option_and_value(cli, tmp_path, args):
    result = cli(*args)
    assert result.exit_code == 2
    option, value = args[-2:]
    assert one_line_error(result.output).startswith(f"s2s: error: {option} {value}: "), result.output


@pytest.mark.parametrize("args, expected", [
    (("prepare", "--vocab", "8"), "s2s: error: no such option: --vocab"),
    (("average",), "s2s: error: missing argument 'RUN'"),
    (("train",), "s2s: error: no recipe given: name a recipe file or a bundled recipe (`s2s list`)"),
    (("trian",), "s2s: error: no such command 'trian'"),
    (("translate", "extra"), "s2s: error: got unexpected extra argument"),
])
def test_a_wrong_command_line_is_one_line(cli, args, expected):
    result = cli(*args)
    assert result.exit_code == 2 and one_line_error(result.output).startswith(expected), result.output


# ---- --device ---------------------------------------------------------------------------------------------------

DEVICE_COMMANDS = [("translate",), ("evaluate",), ("compare", "run"), ("train", "recipe.yaml")]


def _no_cuda() -> bool:
    import torch

    return not torch.cuda.is_available()


@pytest.mark.parametrize("command", DEVICE_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("device, why", [
    ("gpu", "not a device name; choose cpu, cuda or cuda:N"),
    ("cuda:x", "not a device name"),
    pytest.param("cuda", "", marks=pytest.mark.skipif(not _no_cuda(), reason="this machine has CUDA")),
])
def test_an_unusable_device_is_one_line_on_every_command(cli, tmp_path, command, device, why):
    result = cli(*command, "--device", device)
    assert result.exit_code == 2
    assert one_line_error(result.output).startswith(f"s2s: error: --device {device}: {why}"), result.output


@pytest.mark.skipif(not _no_cuda(), reason="this machine has CUDA")
def test_a_recipe_asking_for_cuda_without_one_is_one_line(cli, tmp_path, prepared_sample):
    recipe = write_tiny_recipe(tmp_path / "cuda.yaml", train={"device": "cuda"})
    result = cli("train", recipe, "--data", prepared_sample, "--out", tmp_path / "run", "-q")
    assert result.exit_code == 2
    assert one_line_error(result.output).startswith("s2s: error: train.device cuda: "), result.output


def test_a_recipe_device_that_is_no_device_names_the_key(cli, tmp_path, prepared_sample):
    recipe = write_tiny_recipe(tmp_path / "gpu.yaml")
    result = cli("train", recipe, "--data", prepared_sample, "--set", "train.device=gpu")
    assert result.exit_code == 2
    assert "train.device: 'gpu' is not a device name" in one_line_error(result.output)


# ---- quiet, and counted nouns ---------------------------------------------------------------------------------


def test_train_quiet_prints_nothing_and_loud_counts_its_steps(cli, tmp_path, prepared_sample):
    recipe = write_tiny_recipe(tmp_path / "one.yaml", train={"max_steps": 1, "valid_every": 1})
    quiet = cli("train", recipe, "--data", prepared_sample, "--out", tmp_path / "quiet", "-q")
    assert quiet.exit_code == 0 and quiet.output == "", quiet.output
    loud = cli("train", recipe, "--data", prepared_sample, "--out", tmp_path / "loud")
    assert loud.exit_code == 0, loud.output
    assert "trained 1 step," in loud.output or "trained 1 step;" in loud.output, loud.output
    assert "1 process on" in loud.output and "1 steps" not in loud.output


def test_list_titles_are_plurals(cli):
    output = cli("list").output
    assert "decoding strategies (recipe key: strategy)" in output and "strategys" not in output
    assert "architectures (recipe key: arch)" in output


def test_files_of_one_line_are_one_line(cli, tmp_path):
    (tmp_path / "hyp.txt").write_text("a cat\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("a cat\na dog\n", encoding="utf-8")
    result = cli("evaluate", "--hyp", tmp_path / "hyp.txt", "--ref", tmp_path / "ref.txt")
    assert result.exit_code == 2
    assert "hyp.txt has 1 line but" in one_line_error(result.output)


def test_count_and_plural():
    from s2s.wording import count, plural

    assert [count(n, "step") for n in (0, 1, 2, 1200)] == ["0 steps", "1 step", "2 steps", "1,200 steps"]
    assert count(1, "process") == "1 process" and count(2, "process") == "2 processes"
    assert plural("decoding strategy") == "decoding strategies" and plural("day") == "days"


# ---- install ------------------------------------------------------------------------------------------------


def test_the_licence_is_an_spdx_string_for_a_setuptools_that_reads_it():
    """A `{text = "MIT"}` table made setuptools print a deprecation warning at every `pip install`."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to read `license` as SPDX
