"""The command line as a whole: help, the listing of recipes and registries, the wheel holding the recipes, the
`next:` signposts, and that importing the CLI stays light; the first hour: -h, --version, shell completion, and
a bad option, value or device as one line on every command."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from reliability import one_line_error, tiny_corpus, write_tiny_recipe
from s2s.cli import app
from s2s.registry import ARCHITECTURES, DECODERS, SCHEDULES


ROOT = Path(__file__).resolve().parents[1]


def test_list_shows_every_registered_entry_with_its_parameters(cli):
    result = cli("list")
    assert result.exit_code == 0, result.output
    import s2s.decoding  # noqa: F401
    import s2s.models  # noqa: F401

    for registry in (ARCHITECTURES, DECODERS, SCHEDULES):
        for name in registry.names():
            assert name in result.output
    assert "beam_size=5" in result.output and "inverse_sigmoid" in result.output and "k=1000.0" in result.output


def test_help_lists_the_commands_in_the_order_of_the_pipeline(cli):
    """prepare -> train -> translate -> evaluate first, then the tools that look at runs: as a user meets them."""
    result = cli("--help")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]
    assert listed == ["prepare", "train", "translate", "evaluate", "list", "plot", "compare", "average", "export",
                      "info"]


def test_the_cli_module_does_not_import_torch():
    """`s2s --help` must start fast: torch (over a second to import) is loaded only by commands that need it."""
    code = "import sys, s2s.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_list_into_a_reader_that_leaves_ends_quietly_with_0():
    """`s2s list | head -1`: the reader closes the pipe after one line; s2s ends with 0 and no traceback, as
    `s2s translate` does (rich's own answer to a closed pipe is exit status 1)."""
    import os

    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # a reader that has already gone: every write meets EPIPE
    proc = subprocess.run([sys.executable, "-m", "s2s", "list"], stdout=write_fd, stderr=subprocess.PIPE, text=True)
    os.close(write_fd)
    assert proc.returncode == 0 and proc.stderr == ""


def test_list_shows_the_bundled_recipes_by_name_with_their_first_comment_line(cli):
    result = cli("list")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # whatever the table's wrapping
    assert "recipes (s2s train NAME)" in text
    for name in ("rnn", "lstm", "gru", "attention", "transformer", "tiny"):
        assert f"│ {name} " in result.output
    assert "recurrent seq2seq with Bahdanau (additive) attention" in text  # attention.yaml's first line, less "attention:"


def test_a_built_wheel_holds_the_recipes(tmp_path):
    """Recipes found by name must ship in the package: build a wheel from a copy of the sources and look in it."""
    import shutil
    import zipfile

    pytest.importorskip("setuptools", reason="building a wheel without network needs setuptools in the environment")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "s2s", src / "s2s", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("s2s-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"s2s/recipes/{p.name}" for p in (ROOT / "s2s" / "recipes").glob("*.yaml")}
    assert {"s2s/recipes/tiny.yaml", "s2s/recipes/transformer.yaml"} <= shipped <= names


def next_line(output: str) -> list[str]:
    """The words of the one `next: ...` line a command printed, as a shell would split them."""
    import shlex

    lines = [line for line in output.splitlines() if line.startswith("next: ")]
    assert len(lines) == 1, output
    return shlex.split(lines[0].removeprefix("next: "))


def test_prepare_and_train_say_what_to_type_next_and_it_works(cli, tmp_path, monkeypatch):
    """Following the signposts as typed: prepare -> the train it names -> the evaluate that names."""
    monkeypatch.chdir(tmp_path)
    result = cli("prepare", "--sample", "--vocab-size", "600", "--dev", "30", "--test", "30")
    assert result.exit_code == 0, result.output
    words = next_line(result.output)
    assert words == ["s2s", "train", "tiny"]  # data/sample is data/latest, which train takes with no --data
    result = cli(*words[1:], "--set", "train.max_steps=2", "--set", "train.valid_bleu=false")
    assert result.exit_code == 0, result.output
    run = (tmp_path / "runs" / "latest").resolve()
    words = next_line(result.output)
    assert words[:3] == ["s2s", "evaluate", "-m"] and Path(words[3]).resolve() == run and words[4:] == ["--bleu"]
    result = cli(*words[1:])
    assert result.exit_code == 0 and "BLEU" in result.output, result.output


def test_the_next_line_names_the_real_directories_and_quiet_has_none(cli, tmp_path, monkeypatch, prepared_sample):
    monkeypatch.chdir(tmp_path)
    corpus = tiny_corpus(tmp_path / "c.tsv")
    result = cli("prepare", corpus, "--vocab-size", "100", "--out", "my data")
    assert result.exit_code == 0, result.output
    assert next_line(result.output) == ["s2s", "train", "transformer", "--data", "my data"]
    result = cli("prepare", corpus, "--vocab-size", "100", "--out", "quiet", "-q")
    assert result.exit_code == 0 and "next:" not in result.output
    args = ("train", ROOT / "recipes" / "tiny.yaml", "--data", prepared_sample, "--set", "train.max_steps=1",
            "--set", "train.valid_bleu=false")
    result = cli(*args, "--out", "elsewhere/run one")
    assert result.exit_code == 0, result.output
    assert next_line(result.output) == ["s2s", "evaluate", "-m", "elsewhere/run one", "--bleu"]
    result = cli(*args, "--out", "elsewhere/run two", "-q")
    assert result.exit_code == 0 and "next:" not in result.output


# ---- the first hour: help, versions, one-line errors ------------------------------------------------------------

COMMANDS = sorted(typer.main.get_command(app).commands)


def s2s(*args: str, env: dict | None = None, from_bash: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """`s2s ARGS` as a user runs it: a separate process; with `from_bash`, typed at a bash prompt.

    typer finds the shell to complete for among the process's ancestors (shellingham), not in $SHELL, so the
    completion tests run s2s under bash: a suite with no shell above it (started by a service, or orphaned) would
    otherwise fail for want of one. `; exit` keeps bash from replacing itself with the command.
    """
    command = [sys.executable, "-m", "s2s", *args]
    if from_bash:
        command = ["bash", "-c", '"$@"; exit $?', "bash", *command]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, **kwargs)


# ---- --version, -h, completion ----------------------------------------------------------------------------------


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
    proc = s2s("--show-completion", env={"SHELL": "/bin/bash"}, from_bash=True, cwd=tmp_path)
    assert proc.returncode == 0 and "_S2S_COMPLETE" in proc.stdout, proc.stdout + proc.stderr
    # What the script asks s2s for when the user presses TAB after `s2s tr`:
    done = subprocess.run([sys.executable, "-c", "from s2s.cli import main; main()"], capture_output=True, text=True,
                          env={**os.environ, "_S2S_COMPLETE": "complete_bash", "COMP_WORDS": "s2s tr",
                               "COMP_CWORD": "1"}, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.split() == ["train", "translate"], done.stdout + done.stderr


def test_install_completion_writes_the_script_into_the_users_shell_set_up(tmp_path):
    proc = s2s("--install-completion", env={"SHELL": "/bin/bash", "HOME": str(tmp_path)}, from_bash=True,
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "_S2S_COMPLETE" in p.read_text(errors="replace")]
    assert written, sorted(tmp_path.rglob("*"))


def test_the_app_alone_still_shows_its_help(cli):
    result = cli()
    assert "Usage: s2s [OPTIONS] COMMAND" in result.output and "s2s: error" not in result.output


# ---- bad command lines: one line naming the option --------------------------------------------------------------

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


# ---- quiet, and counted nouns -----------------------------------------------------------------------------------


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


# ---- install ----------------------------------------------------------------------------------------------------


def test_the_licence_is_an_spdx_string_for_a_setuptools_that_reads_it():
    """A `{text = "MIT"}` table made setuptools print a deprecation warning at every `pip install`."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to read `license` as SPDX
