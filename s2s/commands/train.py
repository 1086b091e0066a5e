"""`s2s train`: a recipe on a prepared data directory, or `--resume` a run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from s2s.commands import QuietOpt, SeedOpt, SetOpt, command, say_next, usable_device
from s2s.errors import S2SError
from s2s.wording import count


@command("train", computes=True)
def train_command(
    recipe: Annotated[Optional[str], typer.Argument(metavar="RECIPE|RUN", help="A recipe: a YAML file, or the name of a bundled one (`s2s list`), e.g. transformer. With --resume, a run directory: the run to continue.", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Data directory from `s2s prepare` (default: the recipe's data.dir, else data/latest; when resuming, the run's).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default: runs/<recipe>-<timestamp>).")] = None,
    overrides: SetOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue a run where it stopped: `--resume RUN`, or the run in --out, or runs/latest. It goes on with the run's own recipe and data; a RECIPE, --data or --set given too still apply.")] = False,
    seed: SeedOpt = None,
    device: Annotated[Optional[str], typer.Option("--device", callback=usable_device, help="cpu, cuda or cuda:N (default: the recipe's train.device).")] = None,
    nproc: Annotated[Optional[int], typer.Option("--nproc", help="Train with N processes on this machine (torchrun + DistributedDataParallel).")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a model from a recipe on a prepared data directory, or continue a run (`s2s train --resume RUN`)."""
    from s2s.bundled import find_recipe
    from s2s.config import load_recipe, recipe_to_dict, recipe_with_overrides
    from s2s.distributed import World, launch, strip_option
    from s2s.runlog import new_run_dir
    from s2s.train import train
    from s2s.checkpointer import load_resumable

    sets = list(overrides or [])
    if seed is not None:
        sets.append(f"train.seed={seed}")
    if device is not None:
        sets.append(f"train.device={device}")
    if resume:
        out, recipe_file = _run_to_resume(recipe, out)
        ckpt = load_resumable(out)
        loaded = (load_recipe(recipe_file, sets) if recipe_file is not None
                  else recipe_with_overrides(recipe_to_dict(ckpt.recipe), sets, ckpt.source, out.name))
        data_dir = data or Path(loaded.data.dir or ckpt.data_dir)  # the run's own data unless told otherwise
    else:
        if recipe is None:
            raise S2SError("no recipe given: name a recipe file or a bundled recipe (`s2s list`), "
                           "or continue a run with --resume RUN")
        loaded = load_recipe(find_recipe(recipe), sets)
        data_dir = data or (Path(loaded.data.dir) if loaded.data.dir else None)
        if data_dir is None and (Path("data") / "latest").exists():
            data_dir = Path("data") / "latest"  # the newest `s2s prepare` into its default place
        if data_dir is None:
            raise S2SError(f"{recipe}: data.dir is not set and there is no data/latest; pass --data DIR "
                           "(a directory made by `s2s prepare`)")
    if nproc is not None and nproc > 1 and "WORLD_SIZE" not in os.environ:
        argv = strip_option(sys.argv[1:], "--nproc")
        if out is None:  # decided once here, so every process writes to the same run
            argv += ["--out", str(new_run_dir(loaded.name))]
        raise typer.Exit(launch(nproc, argv))
    world = World.setup(loaded.train.device)
    out = out or world.broadcast(new_run_dir(loaded.name))
    result = train(loaded, data_dir, out, resume=resume, quiet=quiet, world=world)
    world.close()
    if not world.is_main or quiet:
        return
    best = "" if result.best is None else f", best {loaded.train.metric} {abs(result.best):.3f}"
    typer.echo(f"trained {count(result.steps, 'step')}{best}; run: {result.run_dir}", err=True)
    say_next("s2s", "evaluate", "-m", result.run_dir, "--bleu")


def _run_to_resume(given: Optional[str], out: Optional[Path]) -> tuple[Path, Optional[Path]]:
    """The run `--resume` continues, and the recipe file given with it (None: the run's own).

    `s2s train --resume RUN` names the run as the argument (a directory is never a recipe);
    `s2s train RECIPE --resume --out RUN` names it with --out; with neither it is runs/latest.
    """
    from s2s.bundled import find_recipe

    if given is not None and Path(given).is_dir():
        if out is not None and out.resolve() != Path(given).resolve():
            raise S2SError(f"--resume {given} --out {out}: two runs named; give the run to continue once")
        return Path(given), None
    try:
        recipe_file = None if given is None else find_recipe(given)
    except S2SError:
        raise S2SError(f"--resume {given}: no such run directory, and not a recipe file or a bundled recipe") from None
    if out is None:
        out = Path("runs") / "latest"
        if not out.exists():
            raise S2SError("--resume: no run named (`s2s train --resume RUN`) and runs/latest does not exist")
        out = out.resolve()
    return out, recipe_file
