"""`s2s average`: the weights of a run's last checkpoints averaged into one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from s2s.commands import command


@command("average")
def average_command(
    run: Annotated[Path, typer.Argument(help="A run directory trained with train.keep_last.", show_default=False)],
    last: Annotated[int, typer.Option("--last", help="Average this many of the newest step checkpoints.")] = 5,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to write (default: RUN/checkpoints/averaged.pt).")] = None,
) -> None:
    """Average the weights of a run's last checkpoints into one, which usually translates better than any of them."""
    from s2s.average import average_checkpoints

    path, steps = average_checkpoints(run, last, out)
    typer.echo(f"averaged steps {', '.join(map(str, steps))} into {path}", err=True)
    typer.echo(f"next: s2s evaluate -m {path} --bleu", err=True)
