"""`s2s plot`: the training and validation curves of one or more runs, as a PNG or as a table.

Reads each run's `metrics.jsonl` (`s2s.runlog`): "train" records (loss, ppl, lr, tf_ratio...) and "valid"
records (dev_loss, dev_ppl, dev_bleu). A resumed run may log a step twice; the later record wins. The picture
has one panel per quantity with every run on the same axes (train solid, dev dashed); the table has one column
per run, with a sparkline of the training loss, for terminals, CI logs and machines without matplotlib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from s2s.checkpoint import run_dir_of
from s2s.errors import S2SError
from s2s.runlog import read_metrics

Series = list[tuple[int, float]]  # (step, value), sorted by step

# (title, [(record kind, key, style)], y scale): the panels of the picture, in order. "zero": linear from 0,
# so that a constant learning rate or ratio reads as a level, not as noise around it.
PANELS = (
    ("loss (per target token)", [("train", "loss", "train"), ("valid", "dev_loss", "dev")], "linear"),
    ("perplexity", [("train", "ppl", "train"), ("valid", "dev_ppl", "dev")], "log"),
    ("dev BLEU", [("valid", "dev_bleu", "dev")], "zero"),
    ("learning rate", [("train", "lr", "train")], "zero"),
    ("teacher-forcing ratio", [("train", "tf_ratio", "train")], "zero"),
)


@dataclass
class RunCurves:
    name: str  # label in legends and table headers
    path: Path
    arch: Optional[str]  # from the run's recipe.yaml, if readable
    series: dict[tuple[str, str], Series] = field(default_factory=dict)  # (kind, key) -> points

    def get(self, kind: str, key: str) -> Series:
        return self.series.get((kind, key), [])


def load_runs(paths: list[Path]) -> list[RunCurves]:
    if not paths:
        raise S2SError("no runs given: name one or more run directories (runs/<name>)")
    dirs = [run_dir_of(p) if Path(p).is_file() else Path(p) for p in paths]
    names = [d.resolve().name if d.name in ("", ".", "latest") else d.name for d in dirs]
    if len(set(names)) < len(names):  # two runs called the same in different folders: show their paths
        names = [str(d) for d in dirs]
    return [load_run(d, name) for d, name in zip(dirs, names)]


def load_run(run_dir: Path, name: str) -> RunCurves:
    if not run_dir.is_dir():
        raise S2SError(f"{run_dir}: no such run directory")
    by_step: dict[tuple[str, str], dict[int, float]] = {}
    for record in read_metrics(run_dir):
        kind, step = record.get("kind", "train"), record.get("step")
        if not isinstance(step, int):
            continue
        for key, value in record.items():
            if key not in ("kind", "step", "time") and isinstance(value, (int, float)) and math.isfinite(value):
                by_step.setdefault((kind, key), {})[step] = float(value)
    arch = None
    try:
        arch = (yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8")) or {}).get("model", {}).get("arch")
    except (OSError, yaml.YAMLError, AttributeError):
        pass
    series = {k: sorted(v.items()) for k, v in by_step.items()}
    if not series:
        raise S2SError(f"{run_dir}/metrics.jsonl: no logged steps yet")
    return RunCurves(name, run_dir, arch, series)


def plot_curves(runs: list[RunCurves], out: Path) -> Path:
    """One panel per quantity, every run on shared axes; the sixth panel is the legend."""
    from matplotlib.ticker import MaxNLocator

    from s2s.plots import figure, save

    with figure(13.0, 7.0, [r.name for r in runs]) as fig:
        axes = fig.subplots(2, 3, sharex=True).ravel()
        colours = [f"C{i % 10}" for i in range(len(runs))]
        for ax, (title, lines, scale) in zip(axes, PANELS):
            drawn = False
            for run, colour in zip(runs, colours):
                for kind, key, style in lines:
                    points = run.get(kind, key)
                    if not points:
                        continue
                    steps, values = zip(*points)
                    dev = style == "dev"
                    ax.plot(steps, values, color=colour, linestyle="--" if dev else "-", linewidth=1.4,
                            marker="o" if dev and len(points) <= 40 else None, markersize=3.5)
                    drawn = True
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
            if scale == "log" and drawn:
                ax.set_yscale("log")
            elif scale == "zero" and drawn:
                ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.05 or 1.0)
                ax.ticklabel_format(axis="y", useOffset=False)
            if not drawn:
                ax.text(0.5, 0.5, "not logged", ha="center", va="center", color="grey", transform=ax.transAxes)
        for ax in axes[3:5]:
            ax.set_xlabel("step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        legend = axes[5]
        legend.axis("off")
        handles = [legend.plot([], [], color=c, linewidth=2, label=_label(r))[0] for r, c in zip(runs, colours)]
        handles += [legend.plot([], [], color="black", linestyle="-", label="train (logged steps)")[0],
                    legend.plot([], [], color="black", linestyle="--", marker="o", markersize=3.5,
                                label="dev (validations)")[0]]
        legend.legend(handles=handles, loc="center", frameon=False, fontsize=9)
        return save(fig, out)


def _label(run: RunCurves) -> str:
    return f"{run.name} ({run.arch})" if run.arch and run.arch not in run.name else run.name


def summary_table(runs: list[RunCurves]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the text form: one row per quantity, one column per run."""
    rows: list[list[str]] = [
        ["architecture", *(r.arch or "?" for r in runs)],
        ["steps", *(str(_last_step(r)) for r in runs)],
        ["train loss first → last", *(_first_last(r.get("train", "loss")) for r in runs)],
        ["train loss curve", *(sparkline([v for _, v in r.get("train", "loss")]) for r in runs)],
        ["train ppl (last)", *(_last(r.get("train", "ppl"), "{:.1f}") for r in runs)],
        ["dev loss (best @ step)", *(_best(r.get("valid", "dev_loss"), min) for r in runs)],
        ["dev ppl (best @ step)", *(_best(r.get("valid", "dev_ppl"), min, "{:.1f}") for r in runs)],
        ["dev BLEU (best @ step)", *(_best(r.get("valid", "dev_bleu"), max, "{:.2f}") for r in runs)],
        ["learning rate (last)", *(_last(r.get("train", "lr"), "{:.3g}") for r in runs)],
        ["teacher forcing first → last", *(_first_last(r.get("train", "tf_ratio"), "{:.2f}") for r in runs)],
        ["train time", *(_duration(r.get("train", "train_seconds")) for r in runs)],
    ]
    return ["", *(r.name for r in runs)], rows


def _last_step(run: RunCurves) -> int:
    return max((s for points in run.series.values() for s, _ in points), default=0)


def _last(points: Series, fmt: str = "{:.3f}") -> str:
    return fmt.format(points[-1][1]) if points else "-"


def _first_last(points: Series, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(points[0][1])} → {fmt.format(points[-1][1])}" if points else "-"


def _best(points: Series, pick, fmt: str = "{:.3f}") -> str:
    if not points:
        return "-"
    step, value = pick(points, key=lambda p: p[1])
    return f"{fmt.format(value)} @ {step}"


def _duration(points: Series) -> str:
    return duration(points[-1][1]) if points else "-"


def duration(seconds: float) -> str:
    """`2m 05s`, `9.5s`."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    return f"{whole // 60}m {whole % 60:02d}s"


def sparkline(values: list[float], width: int = 24) -> str:
    """The shape of a curve in block characters, resampled to at most `width` columns."""
    if not values:
        return "-"
    if len(values) > width:  # mean of each of `width` equal slices
        cuts = [round(i * len(values) / width) for i in range(width + 1)]
        values = [sum(values[a:b]) / (b - a) for a, b in zip(cuts, cuts[1:])]
    low, high = min(values), max(values)
    blocks = "▁▂▃▄▅▆▇█"
    if high - low < 1e-12:
        return blocks[3] * len(values)
    return "".join(blocks[min(7, int((v - low) / (high - low) * 8))] for v in values)
