"""A run directory and what training writes into it: the recipe, `metrics.jsonl`, the progress display.

Layout of `runs/<recipe>-<timestamp>/`: `recipe.yaml` (the resolved recipe), `metrics.jsonl` (one JSON object
per logged step or validation, for scripts and `s2s plot`), `checkpoints/{last,best}.pt`, and TensorBoard
events under `tb/` when tensorboard is installed. A `latest` link beside the run points at the newest one, so
`s2s evaluate` and `s2s translate` find it with no flags.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Optional

from s2s.errors import S2SError


def new_run_dir(recipe_name: str, root: Path = Path("runs")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{recipe_name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{recipe_name}-{stamp}-{n}"
    return path


def point_latest(run_dir: Path) -> None:
    """Make `<parent>/latest` a relative link to `run_dir`, replaced atomically."""
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(run_dir.name, tmp)
        os.replace(tmp, link)
    except OSError:
        pass  # a filesystem without links: `-m RUN` still works


def resolve_run_dir(target: Optional[Path]) -> Path:
    if target is None:
        target = Path("runs") / "latest"
    if not Path(target).is_dir():
        raise S2SError(f"{target}: no such run directory")
    return Path(target)


class RunLog:
    """Writes metrics to `metrics.jsonl` (+ TensorBoard) and shows progress on stderr unless quiet.

    On a terminal, a live bar at the bottom and, at each log interval, one line left in the scrollback above it
    (the figures would vanish with the next frame if they lived only in the bar). In a file or a pipe, no bar
    (a log must not hold cut-off frames) and one plain, unwrapped line per interval and message.
    """

    def __init__(self, run_dir: Optional[Path], total_steps: int, start_step: int, quiet: bool = False,
                 terminal: Optional[bool] = None, budget: Optional[float] = None, start_seconds: float = 0.0):
        """`run_dir` None: log nothing to files (the other ranks of a distributed run). `terminal` None: ask
        whether stderr is one. `budget`: `train.max_time` in seconds, which then drives the bar and the ETA
        (a run of `max_time: 1h` and `max_steps: 100000` ends with the hour, not at step 100,000)."""
        self.budget = budget
        self.file = open(run_dir / "metrics.jsonl", "a", encoding="utf-8") if run_dir is not None else None
        self.quiet = quiet
        self.total_steps = total_steps
        self.width = len(str(total_steps))
        self.started = (time.perf_counter(), start_step)  # for the ETA: steps done in this process's time
        self.tb = None
        if run_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter  # optional: needs the tensorboard package

                self.tb = SummaryWriter(str(run_dir / "tb"))
            except Exception:
                self.tb = None
        self.progress = None
        if terminal is None:
            terminal = sys.stderr.isatty()
        if not quiet and terminal:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            # With a budget the bar measures training time (its end is the budget's), and counts steps beside it.
            counter = TextColumn("step {task.fields[step]}") if budget else MofNCompleteColumn()
            self.progress = Progress(
                TextColumn("[bold]train"), BarColumn(), counter, TimeRemainingColumn(),
                console=Console(file=sys.stderr), transient=True,
            )
            self.task = self.progress.add_task("train", total=budget or total_steps,
                                               completed=start_seconds if budget else start_step, step=start_step)
            self.progress.start()

    def log(self, record: dict) -> None:
        if self.file is None:
            return
        record = {"time": round(time.time(), 3), **record}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb is not None:
            for key, value in record.items():
                if key not in ("step", "time", "kind") and isinstance(value, (int, float)):
                    self.tb.add_scalar(f"{record.get('kind', 'train')}/{key}", value, record.get("step", 0))

    def show(self, step: int, status: str, train_seconds: float = 0.0) -> None:
        """Advance the bar to `step` (with a budget: to `train_seconds`); a non-empty `status` is a log interval's
        figures and stays as a line."""
        if self.progress is not None:
            self.progress.update(self.task, completed=train_seconds if self.budget else step, step=step)
        if status and not self.quiet:
            self.message(f"step {step:>{self.width}}/{self.total_steps}  {status}  eta {self._eta(step, train_seconds)}")

    def _eta(self, step: int, train_seconds: float) -> str:
        """Training time left to `max_steps` at this process's pace, or to the budget when that comes first."""
        began, first = self.started
        done = step - first
        left = (time.perf_counter() - began) / done * (self.total_steps - step) if 0 < done else 0.0
        if step >= self.total_steps:
            left = 0.0
        elif self.budget is not None:
            left = min(left, self.budget - train_seconds) if done > 0 else self.budget - train_seconds
        left = max(left, 0.0)
        return f"{int(left // 3600)}:{int(left % 3600 // 60):02d}:{int(left % 60):02d}"

    def message(self, text: str, always: bool = False) -> None:
        """A line on stderr; `always` for what a script must see too (interruption, errors)."""
        if self.progress is not None:
            self.progress.console.print(text, soft_wrap=True, highlight=False, markup=False)
        elif always or not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.tb is not None:
            self.tb.close()
        if self.file is not None:
            self.file.close()


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise S2SError(f"{run_dir}: no metrics.jsonl (not a training run directory?)")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise S2SError(f"{path}:{number}: not a JSON line") from None
    return out
