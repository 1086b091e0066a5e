"""Writing a file so that a crash leaves either the old version or the new one, never a mix.

Checkpoints, recipes written into run directories and saved hypotheses all go through `atomic_write`:
write to a temporary file in the same directory, flush it to disk, then rename it over the target. A failed
write (disk full, read-only or missing directory) removes the temporary file and raises `S2SError` naming the
target; the target itself is untouched. A SIGKILL can't be cleaned up after, so the temporary file's name
carries the writer's pid (`.last.pt.<pid>.<random>.tmp`) and the next write of the same target removes the
ones whose process is gone.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from s2s.errors import S2SError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old file or the new one, never a mix."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """`atomic_write_bytes` for a writer that streams into the file (`torch.save(obj, f)`), so that a large
    file need not be built in memory first: a checkpoint held as bytes would cost its size again at the
    training run's memory peak."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise S2SError(f"{path}: cannot write: {_why(err)}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError):
            state = "the previous version is unchanged" if path.exists() else "nothing was written"
            raise S2SError(f"{path}: cannot write: {_why(err)} ({state})") from None
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def remove_stale_temporaries(path: Path) -> None:
    """Delete `.{name}.<pid>.*.tmp` files beside `path` left by writers that were killed (their pid is gone)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[^/]*\.tmp")
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return
    for sibling in siblings:
        match = pattern.fullmatch(sibling.name)
        if match and not pid_alive(int(match.group(1))):
            try:
                sibling.unlink()
            except OSError:
                pass


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _why(err: OSError) -> str:
    return err.strerror or str(err) or type(err).__name__


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
