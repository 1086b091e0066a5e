"""What `prepare` tells the outside: progress as it goes (`Progress`), and a report when done (`PrepareReport`).

`s2s/data/display.py` renders both on a terminal; `Silent` is the display of a library call or a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

from s2s.data.cleaning import Example


class Progress(Protocol):
    """What `prepare` tells a display: a stage begins (with a total, if known), and work gets done."""

    def start(self, description: str, total: Optional[int] = None) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class Silent:
    def start(self, description: str, total: Optional[int] = None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


@dataclass(frozen=True)
class RuleCount:
    rule: str
    description: str
    count: int
    example: Optional[Example]


@dataclass(frozen=True)
class PrepareReport:
    """What `prepare` did, for the summary table (the manifest holds the durable part)."""

    out: Path
    src: str
    tgt: str
    rows: int  # lines (rows) read from the inputs, malformed ones included
    rules: tuple[RuleCount, ...]
    malformed: tuple[str, ...]  # the first few, as `file:line: problem`
    splits: dict[str, int]
    vocab_files: dict[str, str]
    vocab_sizes: dict[str, int]
    notes: tuple[str, ...]
    seconds: float
