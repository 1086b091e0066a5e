"""The commands of `s2s`, one module each, and what they share: the Typer `app`, the `command` decorator, the
option aliases several commands declare, and the helpers that print tables.

A command parses its options, loads what it needs and calls one library function. Nothing heavy is imported at
module level (torch takes over a second), so `s2s --help` starts fast; each command imports its library module
inside its body. User errors (`S2SError`, and bad options found while the command line is read) become one line
on stderr and exit code 2 (`s2s.usage`); Ctrl-C exits with 130 and no traceback. `s2s/cli.py` assembles them.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Callable, List, Optional

import typer

from s2s.errors import S2SError
from s2s.usage import Command, Group

app = typer.Typer(
    name="s2s",
    help="Sequence-to-sequence translation: prepare -> train -> evaluate -> translate.",
    cls=Group,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("s2s")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from s2s import __version__ as number
    typer.echo(f"s2s {number}")
    raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Options of `s2s` itself, before the command (its help text is the app's, above)."""


def command(name: Optional[str] = None, computes: bool = False, **kwargs) -> Callable:
    """`app.command` that turns Ctrl-C and a reader that has gone into a clean exit (also under `CliRunner`).

    `computes`: the command runs torch, so OpenMP's wait policy is chosen for the CPU's load first (s2s/cpu.py).
    """

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapped(*args, **kw):
            if computes:
                from s2s.cpu import configure_openmp

                configure_openmp()
            try:
                return fn(*args, **kw)
            except KeyboardInterrupt:
                typer.echo("s2s: interrupted", err=True)
                raise typer.Exit(130)
            except BrokenPipeError:
                _reader_left()

        return app.command(name, cls=Command, **kwargs)(wrapped)

    return register


def _reader_left() -> None:
    """stdout's reader has gone (`s2s translate | head -3`): end with 0 and no traceback.

    stdout is pointed at /dev/null first, so that flushing what is still buffered at exit cannot fail again.
    (Typer turns an uncaught EPIPE into exit code 1, so this is done in `command` rather than left to `main`.)
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # no real descriptor (CliRunner): nothing will be flushed to a closed pipe
    raise typer.Exit(0)


def stdout_console(**options):
    """A rich `Console` on stdout whose closed pipe (`s2s list | head -3`) ends like any other command's.

    rich's own answer to EPIPE is `SystemExit(1)`; this one raises `BrokenPipeError` for `command` to end with 0,
    as `s2s translate` does.
    """
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more to a reader that has gone
            raise BrokenPipeError

    return PipeConsole(**options)


def say_next(*command: str | Path) -> None:
    """One line on stderr with the command to type next, quoted for the shell: the first hour's signpost."""
    import shlex

    typer.echo("next: " + " ".join(shlex.quote(str(word)) for word in command), err=True)


def usable_device(ctx: typer.Context, value: Optional[str]) -> Optional[str]:
    """`--device` checked as the command line is read: before a model is loaded or a minute is spent."""
    if value is not None and not ctx.resilient_parsing:  # not while the shell completes a word
        from s2s.devices import check_device

        check_device(value, "--device")
    return value


# Options shared by several commands, declared once.
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display or summary (for scripts).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Random seed (default: the recipe's).")]
ModelOpt = Annotated[
    Optional[Path],
    typer.Option("--model", "-m", help="Run directory, checkpoint file, or a directory made by `s2s export` (default: runs/latest)."),
]
SetOpt = Annotated[
    Optional[List[str]],
    typer.Option("--set", metavar="KEY=VALUE", help="Override a recipe key: --set train.lr=3e-4 (repeatable)."),
]


def named_files(values: list[str]) -> list[tuple[str, Path]]:
    """`--hyp onmt=out.txt` -> [("onmt", Path("out.txt"))]."""
    named = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise S2SError(f"--hyp {value}: expected NAME=FILE, e.g. --hyp onmt=onmt.dev.hyp")
        named.append((name.strip(), Path(path)))
    return named


def split_list(value: Optional[str], option: str, kind: type = str) -> Optional[tuple]:
    """`--columns 1,2` -> (1, 2); `--langs ko,en` -> ('ko', 'en')."""
    if value is None:
        return None
    try:
        items = tuple(kind(v.strip()) for v in value.split(",") if v.strip())
    except ValueError:
        items = ()
    if not items:
        raise S2SError(f"{option} {value}: expected a comma-separated list like {'1,2' if kind is int else 'ko,en'}")
    return items


def given(cls: type, **values):
    """`cls` built from the options given on the command line; its own defaults for the rest (one source)."""
    return cls(**{k: v for k, v in values.items() if v is not None})


DecoderOpt = Annotated[Optional[str], typer.Option("--decoder", help="Decoding strategy (default: the recipe's): greedy, beam, sample.")]
BeamOpt = Annotated[Optional[int], typer.Option("--beam", help="Beam size (beam).")]
AlphaOpt = Annotated[Optional[float], typer.Option("--alpha", help="GNMT length penalty alpha (beam).")]
TemperatureOpt = Annotated[Optional[float], typer.Option("--temperature", help="Sampling temperature (sample).")]
TopKOpt = Annotated[Optional[int], typer.Option("--top-k", help="Sample among the k likeliest tokens (sample).")]
TopPOpt = Annotated[Optional[float], typer.Option("--top-p", help="Nucleus sampling threshold (sample).")]
DeviceOpt = Annotated[str, typer.Option("--device", callback=usable_device, help="cpu, cuda or cuda:N.")]


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    console = stdout_console()
    if not console.is_terminal:  # a pipe or a CI log has no width to fit: don't cut run names at 80 columns
        console = stdout_console(width=200)
    console.print(table)


def count_or_dash(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.0f}"


def bleu_or_dash(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"
