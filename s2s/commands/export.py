"""`s2s export`: a Transformer run to a CTranslate2 model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from s2s.commands import QuietOpt, command, say_next
from s2s.errors import S2SError


@command("export")
def export_command(
    run: Annotated[Optional[Path], typer.Argument(metavar="RUN", help="A transformer run directory or checkpoint file (default: runs/latest).", show_default=False)] = None,
    to: Annotated[str, typer.Option("--to", help="What to export to: ctranslate2, the C++ engine OpenNMT-py and fairseq serve with.")] = "ctranslate2",
    quantize: Annotated[str, typer.Option("--quantize", help="Weight type: float32 (none), int8, int8_float32, int16, float16, bfloat16, int8_float16, int8_bfloat16. int8 is the smallest and fastest on a CPU.")] = "float32",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Directory to write [default: RUN/ct2-<type>].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing directory.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Export a Transformer run to a CTranslate2 model directory: `s2s translate -m DIR` then decodes it faster."""
    from s2s.ct2.export import export_ctranslate2

    if to != "ctranslate2":
        raise S2SError(f"--to {to}: choose one of: ctranslate2")
    result = export_ctranslate2(run, out, quantize, force)
    if not quiet:
        mib = 1024 * 1024
        typer.echo(f"exported {result.export.checkpoint} ({result.checkpoint_bytes / mib:.1f} MiB) to "
                   f"{result.directory}: {result.export.quantization}, model.bin {result.model_bytes / mib:.1f} MiB",
                   err=True)
        say_next("s2s", "translate", "-m", result.directory)
