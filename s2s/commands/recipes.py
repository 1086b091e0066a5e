"""`s2s list`: the bundled recipes and every registered architecture, decoder and schedule."""

from __future__ import annotations

from s2s.commands import command, stdout_console
from s2s.wording import plural


@command("list")
def list_command() -> None:
    """List the bundled recipes, the registered architectures, decoding strategies and teacher-forcing schedules."""
    import dataclasses

    from rich.table import Table

    import s2s.decoding  # noqa: F401  (each import fills its registry)
    import s2s.models  # noqa: F401
    import s2s.teacher_forcing  # noqa: F401
    from s2s.bundled import bundled_recipes, recipe_summary
    from s2s.registry import ARCHITECTURES, DECODERS, SCHEDULES

    console = stdout_console()
    table = Table(title="recipes (s2s train NAME)", title_justify="left")
    table.add_column("name")
    table.add_column("what it is")
    for name, path in bundled_recipes().items():
        table.add_row(name, recipe_summary(path))
    console.print(table)
    for registry in (ARCHITECTURES, DECODERS, SCHEDULES):
        table = Table(title=f"{plural(registry.kind)} (recipe key: {registry.key})", title_justify="left")
        table.add_column(registry.key)
        table.add_column("what it is")
        table.add_column("parameters (defaults)")
        for entry in registry:
            params = ", ".join(
                f"{f.name}={f.default!r}" if f.default is not dataclasses.MISSING else f.name
                for f in dataclasses.fields(entry.config)
            )
            table.add_row(entry.name, entry.help, params)
        console.print(table)
