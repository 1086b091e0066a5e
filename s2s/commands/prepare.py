"""`s2s prepare`: a corpus file (or the bundled sample) into a prepared data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from s2s.commands import QuietOpt, command, given, say_next, split_list, stdout_console
from s2s.errors import S2SError


@command("prepare")
def prepare_command(
    inputs: Annotated[
        Optional[List[Path]],
        typer.Argument(help="Corpora: .tsv / .csv / .xlsx tables, or aligned text files (corpus.ko corpus.en).",
                       show_default=False),
    ] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Use the bundled Tatoeba ko-en sample (out: data/sample).")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Directory to create [default: data/<input stem>].")] = None,
    src: Annotated[Optional[str], typer.Option("--src", help="Default source language [default: the first language column].")] = None,
    tgt: Annotated[Optional[str], typer.Option("--tgt", help="Default target language [default: the next one].")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, tsv, csv, text or xlsx (auto: by file name).")] = "auto",
    header: Annotated[bool, typer.Option("--header/--no-header", help="Tables: the first row names the columns (ko, en, 원문, 번역문).")] = True,
    columns: Annotated[Optional[str], typer.Option("--columns", help="Tables: language columns by number from 1, e.g. 1,2.")] = None,
    langs: Annotated[Optional[str], typer.Option("--langs", help="Languages of --columns or of the text files, e.g. ko,en.")] = None,
    max_chars: Annotated[Optional[int], typer.Option("--max-chars", help="Drop pairs with a side longer than this [default: 1000].")] = None,
    max_ratio: Annotated[Optional[float], typer.Option("--max-ratio", help="Drop pairs whose length ratio exceeds this [default: 6].")] = None,
    dev: Annotated[Optional[int], typer.Option("--dev", help="Dev pairs taken from the corpus [default: min(1000, 10%)].")] = None,
    test: Annotated[Optional[int], typer.Option("--test", help="Test pairs taken from the corpus [default: min(1000, 10%)].")] = None,
    dev_file: Annotated[Optional[Path], typer.Option("--dev-file", help="Read dev from this file instead (any input format).")] = None,
    test_file: Annotated[Optional[Path], typer.Option("--test-file", help="Read test from this file instead.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the splits and SentencePiece's sample.")] = 1,
    model_type: Annotated[Optional[str], typer.Option("--model-type", help="SentencePiece model: unigram, bpe or word (one piece per whitespace word) [default: unigram].")] = None,
    vocab_size: Annotated[Optional[int], typer.Option("--vocab-size", help="Subword vocabulary size [default: 8000].")] = None,
    joint: Annotated[bool, typer.Option("--joint/--separate", help="One vocabulary for both languages, or one each.")] = True,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first malformed line instead of skipping it.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty output directory.")] = False,
    lang_check: Annotated[bool, typer.Option("--lang-check/--no-lang-check", help="Refuse a corpus whose columns' scripts don't fit their language codes (e.g. English under ko).")] = True,
    quiet: QuietOpt = False,
) -> None:
    """Clean, split and encode parallel corpora into a data directory for train / evaluate / translate."""
    from s2s.data.cleaning import CleaningOptions
    from s2s.data.prepare import PrepareOptions, default_out, prepare, sample_corpus
    from s2s.data.readers import ReadOptions
    from s2s.data.subwords import SubwordOptions

    if sample and inputs:
        raise S2SError("--sample uses the bundled corpus: give no INPUT files with it")
    paths = [sample_corpus()] if sample else list(inputs or [])
    if not paths:
        raise S2SError("no input files: give one or more corpora, or --sample")
    options = PrepareOptions(
        read=ReadOptions(format=fmt, header=header, columns=split_list(columns, "--columns", int),
                         langs=split_list(langs, "--langs")),
        clean=given(CleaningOptions, max_chars=max_chars, max_ratio=max_ratio),
        subwords=given(SubwordOptions, model_type=model_type, vocab_size=vocab_size, joint=joint),
        src=src, tgt=tgt, dev=dev, test=test, dev_file=dev_file, test_file=test_file,
        seed=seed, strict=strict, force=force, lang_check=lang_check,
    )
    target = out or default_out(paths, sample)
    if quiet:
        prepare(paths, options, target)
    else:
        from rich.console import Console

        from s2s.data.display import TerminalProgress, show_summary

        with TerminalProgress(Console(stderr=True)) as progress:
            report = prepare(paths, options, target, progress)
        show_summary(report, stdout_console())
    if out is None:  # the default place: `s2s train` finds the newest data directory as data/latest
        from s2s.runlog import point_latest

        point_latest(target)
    if not quiet:
        found = (Path("data") / "latest").resolve() == target.resolve()  # what `s2s train` takes with no --data
        # The sample is far too small for a full recipe: `tiny` is the one sized for it.
        say_next("s2s", "train", "tiny" if sample else "transformer", *([] if found else ["--data", target]))
