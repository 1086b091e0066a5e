"""How s2s's processes share a CPU with other work: OpenMP's wait policy, set before torch is imported.

torch's CPU kernels run on GNU OpenMP. At the end of every parallel region a thread that finishes first spins for
`GOMP_SPINCOUNT` iterations (300,000 by default, about 3 ms) before it sleeps. On a quiet machine that spin is what
makes small regions cheap; on a machine where another busy process holds one of the cores, the spinning thread
burns the core its partner needs, and a training step of thousands of small regions ran 4-9x slower than with one
thread. A short spin keeps the quiet-machine speed and gives the core back quickly under load
(bench/threads.py measures every set-up; figures in bench/README.md).

OpenMP reads its environment once, when torch loads it, so the CLI calls `configure_openmp()` before any command
imports torch, and child processes (torchrun's workers) inherit it. A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT
always wins.
"""

from __future__ import annotations

import os
from typing import MutableMapping

SPIN_COUNT = "10000"  # iterations a waiting OpenMP thread spins before it sleeps (GNU's default: 300,000)


def configure_openmp(environ: MutableMapping[str, str] = os.environ) -> None:
    """Shorten OpenMP's spin-wait unless the user chose a wait policy or spin count."""
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        environ["GOMP_SPINCOUNT"] = SPIN_COUNT
