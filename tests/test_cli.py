"""The command line as a whole: help, the listing of recipes and registries, the wheel holding the recipes, the
`next:` signposts, and that importing the CLI stays light."""

import subprocess
import sys
from pathlib import Path

import pytest

from s2s.registry import ARCHITECTURES, DECODERS, SCHEDULES

from reliability import tiny_corpus

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


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for name in ("prepare", "train", "evaluate", "translate", "list", "plot", "compare"):
        assert name in result.output


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
