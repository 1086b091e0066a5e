"""Which torch device s2s runs on: the one check behind every command's `--device` and the recipe's `train.device`.

A device that cannot be named (`gpu`) or used (`cuda` with a CPU-only PyTorch, `cuda:3` on a one-GPU machine)
is one line naming where it was given, before any model is loaded; never torch's own traceback.
torch is imported only when a device is resolved, so the recipe check and `s2s --help` stay light.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from s2s.errors import S2SError

if TYPE_CHECKING:
    import torch

_NAME = re.compile(r"cpu|cuda(:\d+)?")


def device_problem(name: str) -> Optional[str]:
    """Why `name` is not a device name s2s accepts (cpu, cuda, cuda:N), or None. Needs no torch."""
    if _NAME.fullmatch(name):
        return None
    return "not a device name; choose cpu, cuda or cuda:N (a GPU is cuda)"


def check_device(name: str, where: str = "--device") -> None:
    """An `S2SError` "`where` `name`: why" when `name` cannot be used on this machine. Loads torch only for a GPU
    name: a command checks `--device cpu` before its OpenMP set-up (s2s/cpu.py), which must precede torch."""
    why = device_problem(name)
    if why is None and name.startswith("cuda"):
        why = _cuda_problem(int(name.partition(":")[2] or 0))
    if why is not None:
        raise S2SError(f"{where} {name}: {why}")


def resolve_device(name: str, where: str = "--device") -> "torch.device":
    """The torch device `name`, checked by `check_device`."""
    check_device(name, where)
    import torch

    return torch.device(name)


def _cuda_problem(index: int) -> Optional[str]:
    import torch

    if not torch.cuda.is_available():
        if torch.version.cuda is None and torch.version.hip is None:
            return "this PyTorch is a CPU-only build; install a CUDA build of torch to use a GPU, or use cpu"
        return "no CUDA device is visible (see nvidia-smi and CUDA_VISIBLE_DEVICES); use cpu"
    count = torch.cuda.device_count()
    if index >= count:
        from s2s.wording import count as counted

        return f"this machine has {counted(count, 'CUDA device')} (cuda:0 to cuda:{count - 1})"
    return None
