"""How s2s's processes share a CPU with other work: OpenMP's wait policy, chosen before torch is imported.

torch's CPU kernels run on GNU OpenMP, whose threads spin for up to about 3 ms between parallel regions before
they sleep. On a quiet machine the spin is what makes a step's thousands of small regions cheap. When another
busy process holds a core, it is what makes training crawl: a spinning thread never sleeps, so the scheduler
treats it as the hog and lets it wait behind the other process for whole time slices, and every region waits for
it: on 2 cores beside one busy process, the tiny recipe trained several times slower with torch's set-up than
with `OMP_WAIT_POLICY=passive` (threads sleep at once, and a woken sleeper runs at once), while passive is the
slower one on a quiet machine, and no spin count between the two is good at both. bench/threads.py measures
every set-up; the figures are in bench/README.md ("bench.threads").

So the choice is made per process, from what the CPU is doing when the command starts: if other processes keep
at least half a core busy over a tenth of a second, threads sleep (passive); otherwise OpenMP keeps its spin.
The thread count is not changed: it changes the order of floating-point sums, and a run must compute the same
numbers whatever else the machine is doing. A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT always wins, and
child processes (torchrun's workers) inherit the choice.
"""

from __future__ import annotations

import os
import sys
import time
from typing import MutableMapping, Optional

BUSY_CORES = 0.5  # other processes' CPU use, in cores, from which OpenMP threads sleep instead of spinning
SAMPLE_SECONDS = 0.1


def busy_cores(seconds: float = SAMPLE_SECONDS) -> Optional[float]:
    """Cores kept busy by all processes over `seconds` (this one sleeps meanwhile); None without /proc/stat."""

    def times() -> Optional[tuple[int, int]]:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])  # (busy, total) jiffies, guest time excluded

    before = times()
    if before is None:
        return None
    time.sleep(seconds)
    after = times()
    if after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)


def configure_openmp(environ: MutableMapping[str, str] = os.environ, busy: Optional[float] = None) -> Optional[str]:
    """Set OMP_WAIT_POLICY=passive when the CPU is busy; returns the policy set, or None when left alone.

    Must run before torch is imported (OpenMP reads its environment once, when torch loads it)."""
    if "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ or "torch" in sys.modules:
        return None
    busy = busy_cores() if busy is None else busy
    if busy is None or busy < BUSY_CORES:
        return None
    environ["OMP_WAIT_POLICY"] = "passive"
    return "passive"
