"""What the benchmarks share: where the data is, a ko-en data directory prepared once, child processes measured.

The ko-en data directory is prepared once (train from `../shared/data/ko-en/train.tsv`, dev from its `dev.tsv`,
an 8,000-piece joint vocabulary) into `$S2S_BENCH_CACHE` (default `~/.cache/s2s-bench`, or under
`$XDG_CACHE_HOME`) and reused by every benchmark. Not /tmp: a quality run trains for an hour and Joey NMT's
scoring decodes take longer, so the runs must outlive a reboot (or a session) that empties /tmp. Each measured
run happens in a child process so its peak memory (`ru_maxrss`) is its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
KO_EN = SHARED_DATA / "ko-en"
CACHE = Path(os.environ.get("S2S_BENCH_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "s2s-bench")


def have_shared(name: str) -> bool:
    """True when ../shared/data is there; otherwise says why the benchmark is skipped."""
    if (KO_EN / "train.tsv").is_file():
        return True
    print(f"{name}: skipped: needs {KO_EN} (the shared data beside the repository)")
    return False


@dataclass
class ChildRun:
    seconds: float
    peak_mib: float
    stdout: str
    stderr: str


def run_child(args: list[str], cwd: Path = REPO, env: dict | None = None, check: bool = True) -> ChildRun:
    """Run `python ARGS` (e.g. `-m s2s train ...`) and measure its wall time and its own peak RSS."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=out, stderr=err,
                                 env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if check and child.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{stderr[-3000:]}")
    return ChildRun(seconds, usage.ru_maxrss / 1024, stdout, stderr)  # ru_maxrss is KiB on Linux


def prepared_koen() -> Path:
    out = CACHE / "ko-en"
    if not (out / "manifest.json").is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"preparing ko-en into {out} (once) ...", file=sys.stderr, flush=True)
        run_child(["-m", "s2s", "prepare", str(KO_EN / "train.tsv"), "--dev-file", str(KO_EN / "dev.tsv"),
                   "--test", "1000", "--vocab-size", "8000", "--out", str(out), "--force", "--quiet"])
    return out


def table(title: str, columns: list[str], rows: list[list]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, justify="right" if c != columns[0] else "left")
    for r in rows:
        t.add_row(*[f"{v:,.1f}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else str(v)) for v in r])
    console = Console()
    if not console.is_terminal:  # a file or a pipe (a background run's log): rich's 80 columns would cut the cells
        console.width = max(console.width, 200)
    console.print(t)


class LoadSampler(threading.Thread):
    """Appends the 1-minute load average to `path` every `every` seconds while a run trains.

    The file lives in the run directory, so a run continued over several sessions keeps the samples of each.
    """

    def __init__(self, path: Path, every: float = 30.0) -> None:
        super().__init__(daemon=True)
        self.path, self.every, self.done = path, every, threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            with self.path.open("a") as f:
                f.write(f"{os.getloadavg()[0]:.2f}\n")

    def stop(self) -> None:
        self.done.set()


def load_figures(run: Path) -> dict:
    """The load before the run first started, and the mean and maximum sampled while it trained."""
    before = float((run / "load-before.txt").read_text())
    samples = [float(x) for x in (run / "load-during.txt").read_text().split()] or [before]
    return {"load_before": before, "load_mean": sum(samples) / len(samples), "load_max": max(samples)}
