"""What test files share: a tiny recipe, training a run quietly, planted payloads, and the one-line check.

Not a test module (pytest collects only `test_*.py`); test files and conftest.py build their fixtures from
these helpers.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Callable

import torch

from s2s.config import Recipe, recipe_from_dict

# A model that trains a step in milliseconds; greedy decoding capped at 0.5 * source + 4 tokens, so that an
# untrained model translating a 5,000-character line still answers at once.
TINY = {
    "data": {"max_tokens": 600, "max_len": 40},
    "model": {"arch": "attention", "cell": "gru", "embed": 16, "encoder_hidden": 16, "encoder_layers": 1,
              "hidden": 16, "decoder_layers": 1, "dropout": 0.1},
    "train": {"seed": 5, "max_steps": 2, "lr": 0.003, "log_every": 1, "valid_every": 2, "valid_bleu": False,
              "metric": "loss"},
    "decode": {"strategy": "greedy", "max_len_a": 0.5, "max_len_b": 4},
}


def tiny_recipe(**sections: dict) -> Recipe:
    """TINY with some keys of some sections replaced: `tiny_recipe(train={"max_steps": 4})`."""
    raw = json.loads(json.dumps(TINY))
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return recipe_from_dict(raw, name="tiny")


def train_quietly(recipe: Recipe, data: Path, run: Path, resume: bool = False) -> Path:
    """Train `recipe` on one torch thread into `run`, printing nothing; returns the run directory."""
    from s2s.train import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # session and module fixtures start before conftest's autouse `one_thread`
    try:
        train(recipe, data, run, resume=resume, quiet=True)
    finally:
        torch.set_num_threads(threads)
    return run


def train_tiny(data: Path, run: Path, resume: bool = False, **train_keys) -> Path:
    """Train TINY (with these `train` keys) into `run`; returns the run directory."""
    return train_quietly(tiny_recipe(train=train_keys), data, run, resume)


def write_tiny_recipe(path: Path, **sections: dict) -> Path:
    """TINY (with replacements) as a YAML recipe file, for the CLI."""
    import yaml

    raw = json.loads(json.dumps(TINY))
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def tiny_corpus(path: Path, n: int = 40, langs: tuple[str, str] = ("ko", "en"), offset: int = 0) -> Path:
    """A small clean table: enough for `prepare --vocab-size 100`."""
    other = {"en": "I ate {} apples.", "ja": "私はりんごを{}個食べた。", "ko": "나는 사과를 {}개 먹었다."}
    rows = [f"{other[langs[0]].format(i)}\t{other[langs[1]].format(i)}" for i in range(offset, offset + n)]
    path.write_text("\t".join(langs) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


class CutShort:
    """Stands in for the file `s2s.atomic` writes through: each write lands only `keep(data)`, then `then()` runs.

    `then` raises (a disk that fills up) or never returns (a process killed in the middle of a write).
    """

    def __init__(self, f, keep: Callable[[bytes], bytes], then: Callable[[], None]):
        self.f, self.keep, self.then = f, keep, then

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data: bytes) -> None:
        self.f.write(self.keep(data))
        self.f.flush()
        self.then()


class Payload:
    """Pickles as a call to `function(*args)`: what a planted checkpoint would run when unpickled."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def planted(marker: Path) -> list[tuple[str, object]]:
    """Payloads that would each create `marker` if they ever ran."""
    return [
        ("os.system", Payload(os.system, f"touch {marker}")),
        ("builtins.exec", Payload(exec, f"open({str(marker)!r}, 'w').close()")),
        ("pathlib.Path.touch", Payload(Path.touch, marker)),
    ]


def one_line_error(output: str) -> str:
    """The single `s2s: error: ...` line of a failed command; fails the test on a traceback or extra lines."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output, output
    assert len(lines) == 1 and lines[0].startswith("s2s: error: "), output
    return lines[0]


def leftovers(directory: Path) -> list[str]:
    """Temporary and staging files a crashed or failed write could leave behind in `directory` (recursively)."""
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")
                  if p.name.endswith(".tmp") or ".tmp-" in p.name or ".old-" in p.name)


# ---- a disk that fills up ---------------------------------------------------------------------------------------


def disk_full(monkeypatch, after_bytes: int = 0, when=lambda path: True, code: int = errno.ENOSPC) -> list[str]:
    """Make `atomic_write_bytes` hit a full disk (or another `code`) once `after_bytes` are written to a file
    for which `when(target path)` holds. Returns the list of targets that failed."""
    import s2s.atomic as atomic

    real_mkstemp, real_fdopen, failed = atomic.tempfile.mkstemp, os.fdopen, []
    doomed: set[int] = set()

    def mkstemp(prefix: str, suffix: str, dir):
        fd, name = real_mkstemp(prefix=prefix, suffix=suffix, dir=dir)
        target = Path(dir) / prefix[1:].rsplit(".", 2)[0]
        if when(target):
            doomed.add(fd)
            failed.append(str(target))
        return fd, name

    def full() -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: CutShort(real_fdopen(fd, mode),
                                                                       lambda data: data[:after_bytes], full)
                        if fd in doomed else real_fdopen(fd, mode))
    return failed
