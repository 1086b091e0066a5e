"""The `s2s` command line: the commands of `s2s/commands/` (one module each), assembled into one Typer app.

`s2s.commands` holds what they share (the app, the `command` decorator, the option aliases); each module there
registers its command when imported, in the order `s2s --help` lists them.
"""

from __future__ import annotations

from s2s.commands import app
# Each import registers its command; `s2s --help` lists them in this order.
from s2s.commands import prepare, train, translate, evaluate, recipes, plot, compare  # noqa: F401
from s2s.commands import average, export, info  # noqa: F401


def main() -> None:
    # Named outright: under `python -m s2s` click would call it "python -m s2s", and the completion script
    # made from that name would complete nothing.
    app(prog_name="s2s")
