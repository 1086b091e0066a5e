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
