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
