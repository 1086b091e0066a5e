"""Build a directory beside its target and rename it into place, so no run ever leaves a half-written target.

`staged(target, force)` yields `.{name}.tmp-{pid}` in the target's parent: the same filesystem, so the final
rename is atomic. When the body succeeds, the staging directory replaces an absent or empty target; a
non-empty target is refused up front unless `force`, which moves the old one to `.{name}.old-{pid}`, moves the
new one in, then deletes the old. When the body raises (Ctrl-C included) the staging directory is removed.

A SIGKILL can't be caught, so it leaves the staging directory behind but never touches the target. The next
run for the same target removes `.{name}.tmp-<pid>` siblings whose process is gone (a marker file inside
shows they are s2s's), and puts back a `.{name}.old-<pid>` in the rare case a killed `--force` run had moved
the target away but not yet moved the new one in. Siblings of other targets are left alone.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from s2s.atomic import pid_alive
from s2s.errors import S2SError

MARKER = ".s2s-staging"


def clean_stale(target: Path) -> None:
    """Remove what killed runs for `target` left beside it; restore a target a killed --force run moved away."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(tmp|old)-(\d+)")
    if not target.parent.is_dir():
        return
    for path in sorted(target.parent.iterdir()):
        match = pattern.fullmatch(path.name)
        if not match or not path.is_dir() or pid_alive(int(match.group(2))):
            continue
        if match.group(1) == "tmp" and (path / MARKER).exists():
            shutil.rmtree(path, ignore_errors=True)
        elif match.group(1) == "old":
            if target.exists():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.rename(target)


def check_target(target: Path, force: bool) -> None:
    """Refuse, before any work, to replace something that isn't an empty directory without --force, or to
    create a directory under a file (`--out /etc/passwd/x`), where mkdir's own words are `File exists`."""
    if target.is_file() or target.is_symlink():
        raise S2SError(f"--out {target}: exists and is not a directory")
    nearest = next((p for p in target.parents if p.exists() or p.is_symlink()), None)
    if nearest is not None and not nearest.is_dir():
        raise S2SError(f"--out {target}: {nearest} is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise S2SError(f"{target}: exists and is not empty; use --force to replace it")


@contextmanager
def staged(target: Path, force: bool) -> Iterator[Path]:
    """A fresh directory that becomes `target` when the body finishes without raising."""
    target = Path(target)
    check_target(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    (staging / MARKER).touch()
    try:
        yield staging
        (staging / MARKER).unlink()
        _swap(staging, target, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, target: Path, force: bool) -> None:
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        staging.rename(target)
        return
    check_target(target, force)  # it may have filled up while we worked
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
