"""Training on several processes with PyTorch's DistributedDataParallel, launched by `torchrun`.

`torchrun --nproc-per-node N -m s2s train RECIPE` (or `s2s train RECIPE --nproc N`) starts N processes; each
calls `World.setup()`, which joins the process group (gloo on CPU, NCCL on GPU). Every rank computes the same
deterministic list of global batches and takes its own share of each (`World.share`), so the global batch is what
the recipe says however many processes there are, and the data position stays in global terms: a run resumes on
any number of processes. Only rank 0 logs, validates and writes checkpoints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as dist

from s2s.devices import resolve_device
from s2s.errors import S2SError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @staticmethod
    def setup(device: str = "cpu") -> "World":
        """Join the process group when started by torchrun (WORLD_SIZE > 1); a single process otherwise.

        `device` is the recipe's train.device, checked here before any process group or GPU is touched."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        wanted = resolve_device(device, "train.device")
        if size <= 1:
            return World(0, 1, wanted)
        if not dist.is_initialized():
            backend = "nccl" if wanted.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)
        rank = dist.get_rank()
        if wanted.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            wanted = torch.device("cuda", local)
        return World(rank, dist.get_world_size(), wanted)

    def share(self, indices: np.ndarray) -> tuple[np.ndarray, bool]:
        """This rank's part of a global batch, and whether it is real (a batch smaller than the world leaves
        some ranks without a sentence: they compute on a stand-in and contribute zero)."""
        mine = indices[self.rank:: self.size]
        return (mine, True) if len(mine) else (indices[:1], False)

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks (a no-op on one process)."""
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        return t.tolist()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank (decisions such as early stopping must agree)."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def wrap(module: torch.nn.Module, world: World) -> torch.nn.Module:
    """DistributedDataParallel around `module` on several processes; the module itself on one."""
    if not world.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [world.device.index] if world.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def launch(nproc: int, argv: list[str], nnodes: int = 1) -> int:
    """Re-run this `s2s train` command under torchrun with `nproc` processes on this machine."""
    if nproc < 1:
        raise S2SError(f"--nproc: must be at least 1, got {nproc}")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nnodes={nnodes}",
               f"--nproc-per-node={nproc}", "-m", "s2s", *argv]
    return subprocess.call(command)


def strip_option(argv: list[str], option: str) -> list[str]:
    """`argv` without `option VALUE` / `option=VALUE`."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def env_rank() -> Optional[int]:
    return int(os.environ["RANK"]) if "RANK" in os.environ else None
