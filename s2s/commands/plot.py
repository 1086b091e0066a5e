"""`s2s plot`: training and validation curves of one run or several."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List

import typer

from s2s.commands import command, print_table


@command("plot")
def plot_command(
    runs: Annotated[List[Path], typer.Argument(help="Run directories (runs/<name>): one, or several to compare.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Picture to write: .png, .svg or .pdf.")] = Path("curves.png"),
    text: Annotated[bool, typer.Option("--text", help="Print a table instead of drawing (needs no matplotlib).")] = False,
) -> None:
    """Training and validation curves of runs on shared axes: loss, perplexity, dev BLEU, learning rate, teacher forcing."""
    from s2s.plots import INSTALL, has_matplotlib
    from s2s.plots.curves import load_runs, plot_curves, summary_table

    curves = load_runs(runs)
    if not text and has_matplotlib():
        typer.echo(f"wrote {plot_curves(curves, out)}", err=True)
        return
    if not text:
        typer.echo(f"s2s: matplotlib is not installed, so a table instead of {out}; for pictures: {INSTALL}", err=True)
    print_table("training curves", *summary_table(curves))
