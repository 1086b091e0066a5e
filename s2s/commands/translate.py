"""`s2s translate`: stdin (or a file) to stdout, one line out per line in, streamed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from s2s.commands import AlphaOpt, BeamOpt, DecoderOpt, DeviceOpt, ModelOpt, SeedOpt, TemperatureOpt, TopKOpt, TopPOpt, command
from s2s.errors import S2SError


@command("translate", computes=True)
def translate_command(
    model: ModelOpt = None,
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="Read this file instead of stdin.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    decoder: DecoderOpt = None,
    beam: BeamOpt = None,
    alpha: AlphaOpt = None,
    temperature: TemperatureOpt = None,
    top_k: TopKOpt = None,
    top_p: TopPOpt = None,
    seed: SeedOpt = None,
    nbest: Annotated[Optional[int], typer.Option("--nbest", help="Write N tab-separated candidates, each followed by a tab and its score (beam: N at most --beam; sample: N draws).")] = None,
    scores: Annotated[bool, typer.Option("--scores", help="Follow each translation with a tab and its model log-probability.")] = False,
    device: DeviceOpt = "cpu",
    attention: Annotated[Optional[str], typer.Option("--attention", metavar="FILE.png|-", help="Attention and Transformer models: a heatmap per sentence, FILE-1.png, FILE-2.png... (for input lines 1, 2...); '-': each output subword's most-attended source subword, on stderr.")] = None,
) -> None:
    """Translate lines from stdin (or -i) to stdout (or -o): one output line per input line, streamed."""
    from s2s.decoding.options import DecodeOptions
    from s2s.plots.attention import AttentionReport
    from s2s.translate import translate_stream

    if nbest is not None and nbest < 1:
        raise S2SError(f"--nbest {nbest}: must be at least 1")
    options = DecodeOptions(strategy=decoder, beam_size=beam, length_penalty=alpha, temperature=temperature, top_k=top_k,
                            top_p=top_p, seed=seed, nbest=nbest if nbest and nbest > 1 else None)
    translate_stream(model, options, input, output, scores=scores, device=device,
                     observe=AttentionReport(attention) if attention else None)
