"""`s2s evaluate`: a run scored on a split or on files, with BLEU, chrF and TER."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from s2s.commands import AlphaOpt, BeamOpt, DecoderOpt, DeviceOpt, ModelOpt, command, stdout_console
from s2s.errors import S2SError
from s2s.wording import count


@command("evaluate", computes=True)
def evaluate_command(
    model: ModelOpt = None,
    bleu: Annotated[bool, typer.Option("--bleu", help="BLEU (the default when no metric is named).")] = False,
    chrf: Annotated[bool, typer.Option("--chrf", help="chrF2: character n-grams, needs no tokenizer.")] = False,
    ter: Annotated[bool, typer.Option("--ter", help="Translation edit rate.")] = False,
    split: Annotated[str, typer.Option("--split", help="dev or test split of the run's data directory.")] = "test",
    src: Annotated[Optional[Path], typer.Option("--src", help="Translate this file instead of a split (needs --ref).")] = None,
    ref: Annotated[Optional[Path], typer.Option("--ref", help="References for --src or --hyp.")] = None,
    hyp: Annotated[Optional[Path], typer.Option("--hyp", help="Score these existing translations (needs --ref).")] = None,
    tgt_lang: Annotated[Optional[str], typer.Option("--tgt-lang", help="Target language for BLEU tokenisation (default: the run's; with --hyp and no -m, guessed from the references' script). ko uses ko-mecab when sacrebleu[ko] is installed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    save_hyp: Annotated[Optional[Path], typer.Option("--save-hyp", help="Also write the translations to this file.")] = None,
    decoder: DecoderOpt = None,
    beam: BeamOpt = None,
    alpha: AlphaOpt = None,
    device: DeviceOpt = "cpu",
) -> None:
    """Score a run on its test split (or any files) with BLEU, chrF and TER through sacrebleu.

    Korean targets: BLEU uses sacrebleu's ko-mecab tokenizer once `pip install "sacrebleu[ko]"` is done; without
    it BLEU falls back to 13a and the output says so. chrF (--chrf) needs no tokenizer.
    """
    import json

    from rich.console import Console

    from s2s.decoding.options import DecodeOptions
    from s2s.evaluate import EvaluationRequest, evaluate

    if split not in ("dev", "test"):
        raise S2SError(f"--split: {split!r} is not a split; choose one of: dev, test")
    metrics = tuple(m for m, on in (("bleu", bleu), ("chrf", chrf), ("ter", ter)) if on) or ("bleu",)
    request = EvaluationRequest(model, split, src, ref, hyp, metrics, device=device, save_hyp=save_hyp,
                                tgt_lang=tgt_lang, decode=DecodeOptions(strategy=decoder, beam_size=beam,
                                                                        length_penalty=alpha))
    with _translation_progress(Console(stderr=True)) as progress:
        result = evaluate(request, progress)
    if as_json:
        scores = {s.name: {"score": round(s.value, 4), "signature": s.signature} for s in result.scores}
        if "BLEU" in scores:
            scores["BLEU"]["tokenizer"] = result.tokenizer
        typer.echo(json.dumps({"source": result.source, "sentences": result.sentences, "tgt_lang": result.tgt_lang,
                               **scores, "notes": result.notes}, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=f"{result.source} ({count(result.sentences, 'sentence')}, target {result.tgt_lang})",
                  title_justify="left")
    table.add_column("metric", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("sacrebleu signature", overflow="fold")  # never cut: the signature is what makes it citable
    for score in result.scores:
        fallback = score.name == "BLEU" and result.notes and result.tokenizer == "13a"
        table.add_row(score.name + (" (13a fallback)" if fallback else ""), f"{score.value:.2f}", score.signature)
    console = stdout_console()
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)  # one line: greppable
    if save_hyp is not None:
        typer.echo(f"translations written to {save_hyp}", err=True)


class _translation_progress:
    """`with _translation_progress(console) as progress:` a transient bar fed by `progress(done, total)`,
    shown only on a terminal so that scripts and logs see nothing of it."""

    def __init__(self, console) -> None:
        self.console, self.bar, self.task = console, None, None

    def __enter__(self) -> Callable[[int, int], None]:
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("translating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.start()
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task("translate", total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
