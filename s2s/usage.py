"""How the command line itself reads, apart from what the commands do: errors and usage lines.

Every user error ends the same way, whether click found it while reading the command line (`--vocab-size abc`,
an unknown option, a missing argument) or a command raised `S2SError` later: one `s2s: error: ...` line on
stderr that names the option, file or key, and exit code 2. The usage line names arguments as users type them
(`s2s train [OPTIONS] RECIPE`) rather than as Typer's `{recipe}` and `<list[Path]>`.
Kept out of `cli.py` so that file holds only the commands.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

import typer
# Typer 0.29 carries its own copy of click: these are the exceptions it raises, and the classes it builds.
from typer._click.exceptions import BadParameter, MissingParameter, NoArgsIsHelpError, UsageError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from s2s.errors import S2SError


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error on stderr and leave with `code`."""
    typer.echo(f"s2s: error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Usage errors and `S2SError` as one `s2s: error:` line (`s2s` alone still shows the help)."""
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except UsageError as err:
        fail(_usage_message(err))
    except S2SError as err:
        fail(str(err))


def _usage_message(err: UsageError) -> str:
    """`--vocab-size abc: input should be a valid integer` rather than click's "Invalid value for '--vocab-size'"."""
    if not isinstance(err, BadParameter) or isinstance(err, MissingParameter) or err.param is None:
        return _sentence_part(err.format_message())
    param = err.param
    name = max(param.opts, key=len) if isinstance(param, TyperOption) else param.display_name_raw
    value = _bad_value(err)
    return f"{name}{'' if value is None else f' {value}'}: {_sentence_part(err.message)}"


def _sentence_part(message: str) -> str:
    """click's "No such command 'x'." as the rest of our line: "no such command 'x'"."""
    return message[:1].lower() + message[1:].rstrip(".")


def _bad_value(err: BadParameter) -> Optional[str]:
    """The value that failed to convert, which Typer keeps only on the validation error it wraps."""
    errors = err.__cause__.errors() if callable(getattr(err.__cause__, "errors", None)) else []
    found = errors[0].get("input") if errors else None
    return None if found is None else str(found)


class Argument(TyperArgument):
    """A positional argument shown by its name in capitals, `RECIPE`, `[INPUTS]...`, without a type: its help says."""

    @property
    def display_name_raw(self) -> str:
        return self.metavar or self.name.upper()

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> None:
        return None


class Command(TyperCommand):
    """A command whose arguments read as `Argument` does (Typer has no hook to choose the argument class), listed
    in `s2s --help` by its whole first paragraph, wrapped, instead of one cut at 60 characters with "..."."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.short_help is None and self.help:
            self.short_help = " ".join(self.help.strip().split("\n\n")[0].split())
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = Argument


class Group(TyperGroup):
    """The `s2s` group: reading the command line and running a command both end errors in one line."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with one_line_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with one_line_errors():
            return super().invoke(ctx)
