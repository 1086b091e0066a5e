"""The command line as a whole: help, the registry listing, and that importing the CLI stays light."""

import subprocess
import sys

from s2s.registry import ARCHITECTURES, DECODERS, SCHEDULES


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
    from pathlib import Path

    import pytest

    pytest.importorskip("setuptools", reason="building a wheel without network needs setuptools in the environment")
    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    shutil.copytree(root / "s2s", src / "s2s", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("s2s-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"s2s/recipes/{p.name}" for p in (root / "s2s" / "recipes").glob("*.yaml")}
    assert {"s2s/recipes/tiny.yaml", "s2s/recipes/transformer.yaml"} <= shipped <= names
