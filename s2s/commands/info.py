"""`s2s info`: what a run or a checkpoint is, in a few lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from s2s.commands import command, count_or_dash


@command("info")
def info_command(
    target: Annotated[Path, typer.Argument(help="A run directory or a checkpoint file.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout (for scripts).")] = False,
) -> None:
    """Architecture, size, data and direction, training time, best dev scores and the recipe's non-defaults."""
    import json

    from s2s.info import run_info
    from s2s.plots.curves import duration

    info = run_info(target)
    if as_json:
        typer.echo(json.dumps(info.to_dict(), ensure_ascii=False, default=str))
        return
    rows = [("checkpoint", info.checkpoint), ("architecture", info.arch), ("parameters", count_or_dash(info.parameters)),
            ("data", info.data_dir), ("direction", info.direction), ("steps", count_or_dash(info.steps)),
            ("trained for", "-" if info.train_seconds is None else duration(info.train_seconds)),
            ("tokens seen", count_or_dash(info.tokens_seen))]
    rows += [(f"best {key}", f"{value:.3f}") for key, value in info.best_dev.items()]
    rows += [(f"recipe {key}", repr(value) if isinstance(value, str) else str(value))
             for key, value in info.recipe_changes.items()]
    width = max(len(name) for name, _ in rows)
    typer.echo("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
