"""`s2s compare`: runs (and other translations) scored on the same sentences, by source length."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from s2s.commands import AlphaOpt, BeamOpt, DecoderOpt, DeviceOpt, bleu_or_dash, command, count_or_dash, named_files, print_table, split_list
from s2s.errors import S2SError
from s2s.wording import count


@command("compare", computes=True)
def compare_command(
    runs: Annotated[Optional[List[Path]], typer.Argument(help="Run directories or checkpoint files to score on the same sentences.", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also draw BLEU by source length to this picture (.png, .svg, .pdf).")] = None,
    split: Annotated[str, typer.Option("--split", help="dev or test split of the runs' (shared) data directory.")] = "test",
    src: Annotated[Optional[Path], typer.Option("--src", help="Translate this file instead of a split (needs --ref).")] = None,
    ref: Annotated[Optional[Path], typer.Option("--ref", help="References for --src.")] = None,
    hyp: Annotated[Optional[List[str]], typer.Option("--hyp", metavar="NAME=FILE", help="Also score translations made elsewhere (another toolkit, an earlier run), one line per --src line; repeatable.")] = None,
    by: Annotated[str, typer.Option("--by", help="Source length in words (any vocabulary) or subwords (runs sharing one vocabulary).")] = "words",
    buckets: Annotated[str, typer.Option("--buckets", help="Upper bounds of the length buckets: 5,10,20,40 is 1-5, 6-10, 11-20, 21-40, 41+.")] = "5,10,20,40",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    decoder: DecoderOpt = None,
    beam: BeamOpt = None,
    alpha: AlphaOpt = None,
    device: DeviceOpt = "cpu",
) -> None:
    """Score runs on the same test sentences: BLEU, chrF, size and speed; then BLEU, chrF and output length
    against the reference's, by source-length bucket."""
    import dataclasses
    import json

    from s2s.compare import compare
    from s2s.plots.curves import duration

    if split not in ("dev", "test"):
        raise S2SError(f"--split: {split!r} is not a split; choose one of: dev, test")
    edges = split_list(buckets, "--buckets", int)
    if out is not None:
        from s2s.plots import require_matplotlib

        require_matplotlib()  # before minutes of translating
    from s2s.decoding.options import DecodeOptions

    decode = DecodeOptions(strategy=decoder, beam_size=beam, length_penalty=alpha)
    result = compare(runs or [], split, src, ref, decode, device, edges, by, named_files(hyp or []))
    if out is not None:
        from s2s.plots.by_length import plot_by_length

        typer.echo(f"wrote {plot_by_length(result, out)}", err=True)
    if as_json:
        typer.echo(json.dumps({**dataclasses.asdict(result), "buckets": [
            {"label": b.label, "low": b.low, "high": b.high, "count": b.count} for b in result.buckets]},
            ensure_ascii=False))
        return
    print_table(f"{result.source} ({count(result.sentences, 'sentence')})",
                 ["run", "arch", "BLEU", "chrF2", "parameters", "train time", "tokens/s", "step"],
                 [[r.name, r.arch or "-", f"{r.bleu:.2f}", f"{r.chrf:.2f}", count_or_dash(r.parameters),
                   "-" if r.train_seconds is None else duration(r.train_seconds), count_or_dash(r.tokens_per_s), count_or_dash(r.steps)] for r in result.runs])
    header = [f"source {result.unit}", "sentences", *(r.name for r in result.runs)]
    for title, per_bucket, overall in (("BLEU", "bucket_bleu", "bleu"), ("chrF2", "bucket_chrf", "chrf"),
                                       ("output length / reference length", "bucket_length_ratio", "length_ratio")):
        rows = [[b.label, str(b.count), *(bleu_or_dash(getattr(r, per_bucket)[i]) for r in result.runs)]
                for i, b in enumerate(result.buckets)]
        rows.append(["all", str(result.sentences), *(bleu_or_dash(getattr(r, overall)) for r in result.runs)])
        print_table(f"{title} by source length ({result.unit})", header, rows)
