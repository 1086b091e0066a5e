"""How `s2s prepare` looks on a terminal: a progress display on stderr while it works, a summary when done.

Nothing here decides anything: it renders what `prepare.py` reports through its `Progress` protocol and its
`PrepareReport`. Kept apart so the library runs (and is tested) without a terminal.
"""

from __future__ import annotations

from typing import Optional

from rich.columns import Columns
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from s2s.data.report import PrepareReport
from s2s.wording import count


class TerminalProgress:
    """`prepare.Progress` as one rich progress line per stage; a context manager."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self._task: Optional[TaskID] = None

    def start(self, description: str, total: Optional[int] = None) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, amount)

    def __enter__(self) -> "TerminalProgress":
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()


def show_summary(report: PrepareReport, console: Console) -> None:
    """Print the cleaning rules with counts and an example, split sizes, vocabularies, and any notes.

    The free-text lines are printed unwrapped (soft wrap), so a `file:line` in them stays whole for grep.
    """
    head = f"{report.out}: {report.src} -> {report.tgt}, {count(report.rows, 'line')} read, {report.seconds:.1f} s"
    rules = Table()
    rules.add_column("rule")
    rules.add_column("pairs", justify="right")
    rules.add_column("what")
    rules.add_column("first example", overflow="fold")
    for rule in report.rules:
        example = f"{rule.example.where}: {rule.example.text}" if rule.example else ""
        rules.add_row(rule.rule, f"{rule.count:,}", rule.description, Text(example))
    sizes = Table()
    sizes.add_column("split")
    sizes.add_column("pairs", justify="right")
    for name, size in report.splits.items():
        sizes.add_row(name, f"{size:,}")
    vocab = Table()
    vocab.add_column("language")
    vocab.add_column("vocabulary")
    vocab.add_column("size", justify="right")
    for lang, name in report.vocab_files.items():
        vocab.add_row(lang, name, f"{report.vocab_sizes[lang]:,}")
    console.print(head, soft_wrap=True, markup=False, highlight=False)
    console.print(rules)
    console.print(Columns([sizes, vocab]))
    for line in report.malformed:
        console.print(f"skipped {line}", soft_wrap=True, markup=False, highlight=False)
    for note in report.notes:
        console.print(f"note: {note}", soft_wrap=True, markup=False, highlight=False)

