"""The `s2s` command line: each command parses its options, loads what it needs and calls one library function.

Nothing heavy is imported at module level (torch takes over a second), so `s2s --help` starts fast; each
command imports its library module inside its body. User errors (`S2SError`, and bad options found while the
command line is read) become one line on stderr and exit code 2 (`s2s.usage`); Ctrl-C exits with 130 and no
traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Callable, List, Optional

import typer

from s2s.errors import S2SError
from s2s.usage import Command, Group, fail
from s2s.wording import count, plural

app = typer.Typer(
    name="s2s",
    help="Sequence-to-sequence translation: prepare -> train -> evaluate -> translate.",
    cls=Group,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("s2s")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from s2s import __version__ as number
    typer.echo(f"s2s {number}")
    raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Options of `s2s` itself, before the command (its help text is the app's, above)."""


def command(name: Optional[str] = None, computes: bool = False, **kwargs) -> Callable:
    """`app.command` that turns Ctrl-C and a reader that has gone into a clean exit (also under `CliRunner`).

    `computes`: the command runs torch, so OpenMP's wait policy is chosen for the CPU's load first (s2s/cpu.py).
    """

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapped(*args, **kw):
            if computes:
                from s2s.cpu import configure_openmp

                configure_openmp()
            try:
                return fn(*args, **kw)
            except KeyboardInterrupt:
                typer.echo("s2s: interrupted", err=True)
                raise typer.Exit(130)
            except BrokenPipeError:
                _reader_left()

        return app.command(name, cls=Command, **kwargs)(wrapped)

    return register


def _reader_left() -> None:
    """stdout's reader has gone (`s2s translate | head -3`): end with 0 and no traceback.

    stdout is pointed at /dev/null first, so that flushing what is still buffered at exit cannot fail again.
    (Typer turns an uncaught EPIPE into exit code 1, so this is done in `command` rather than left to `main`.)
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # no real descriptor (CliRunner): nothing will be flushed to a closed pipe
    raise typer.Exit(0)


def stdout_console(**options):
    """A rich `Console` on stdout whose closed pipe (`s2s list | head -3`) ends like any other command's.

    rich's own answer to EPIPE is `SystemExit(1)`; this one raises `BrokenPipeError` for `command` to end with 0,
    as `s2s translate` does.
    """
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True  # nothing more to a reader that has gone
            raise BrokenPipeError

    return PipeConsole(**options)


def say_next(*command: str | Path) -> None:
    """One line on stderr with the command to type next, quoted for the shell: the first hour's signpost."""
    import shlex

    typer.echo("next: " + " ".join(shlex.quote(str(word)) for word in command), err=True)


def _usable_device(ctx: typer.Context, value: Optional[str]) -> Optional[str]:
    """`--device` checked as the command line is read: before a model is loaded or a minute is spent."""
    if value is not None and not ctx.resilient_parsing:  # not while the shell completes a word
        from s2s.devices import check_device

        check_device(value, "--device")
    return value


# Options shared by several commands, declared once.
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display or summary (for scripts).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Random seed (default: the recipe's).")]
ModelOpt = Annotated[
    Optional[Path],
    typer.Option("--model", "-m", help="Run directory, checkpoint file, or a directory made by `s2s export` (default: runs/latest)."),
]
SetOpt = Annotated[
    Optional[List[str]],
    typer.Option("--set", metavar="KEY=VALUE", help="Override a recipe key: --set train.lr=3e-4 (repeatable)."),
]

# ---- prepare ---------------------------------------------------------------------------------------------


def _named_files(values: list[str]) -> list[tuple[str, Path]]:
    """`--hyp onmt=out.txt` -> [("onmt", Path("out.txt"))]."""
    named = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise S2SError(f"--hyp {value}: expected NAME=FILE, e.g. --hyp onmt=onmt.dev.hyp")
        named.append((name.strip(), Path(path)))
    return named


def _split_list(value: Optional[str], option: str, kind: type = str) -> Optional[tuple]:
    """`--columns 1,2` -> (1, 2); `--langs ko,en` -> ('ko', 'en')."""
    if value is None:
        return None
    try:
        items = tuple(kind(v.strip()) for v in value.split(",") if v.strip())
    except ValueError:
        items = ()
    if not items:
        raise S2SError(f"{option} {value}: expected a comma-separated list like {'1,2' if kind is int else 'ko,en'}")
    return items


def _given(cls: type, **values):
    """`cls` built from the options given on the command line; its own defaults for the rest (one source)."""
    return cls(**{k: v for k, v in values.items() if v is not None})


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
        read=ReadOptions(format=fmt, header=header, columns=_split_list(columns, "--columns", int),
                         langs=_split_list(langs, "--langs")),
        clean=_given(CleaningOptions, max_chars=max_chars, max_ratio=max_ratio),
        subwords=_given(SubwordOptions, model_type=model_type, vocab_size=vocab_size, joint=joint),
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


# ---- train -----------------------------------------------------------------------------------------------


@command("train", computes=True)
def train_command(
    recipe: Annotated[Optional[str], typer.Argument(metavar="RECIPE|RUN", help="A recipe: a YAML file, or the name of a bundled one (`s2s list`), e.g. transformer. With --resume, a run directory: the run to continue.", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Data directory from `s2s prepare` (default: the recipe's data.dir, else data/latest; when resuming, the run's).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default: runs/<recipe>-<timestamp>).")] = None,
    overrides: SetOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue a run where it stopped: `--resume RUN`, or the run in --out, or runs/latest. It goes on with the run's own recipe and data; a RECIPE, --data or --set given too still apply.")] = False,
    seed: SeedOpt = None,
    device: Annotated[Optional[str], typer.Option("--device", callback=_usable_device, help="cpu, cuda or cuda:N (default: the recipe's train.device).")] = None,
    nproc: Annotated[Optional[int], typer.Option("--nproc", help="Train with N processes on this machine (torchrun + DistributedDataParallel).")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a model from a recipe on a prepared data directory, or continue a run (`s2s train --resume RUN`)."""
    from s2s.config import find_recipe, load_recipe, recipe_with_overrides
    from s2s.distributed import World, launch, strip_option
    from s2s.runlog import new_run_dir
    from s2s.train import load_resumable, train

    sets = list(overrides or [])
    if seed is not None:
        sets.append(f"train.seed={seed}")
    if device is not None:
        sets.append(f"train.device={device}")
    if resume:
        out, recipe_file = _run_to_resume(recipe, out)
        ckpt = load_resumable(out)
        loaded = (load_recipe(recipe_file, sets) if recipe_file is not None
                  else recipe_with_overrides(ckpt.recipe, sets, ckpt.source, out.name))
        data_dir = data or Path(loaded.data.dir or ckpt.data_dir)  # the run's own data unless told otherwise
    else:
        if recipe is None:
            raise S2SError("no recipe given: name a recipe file or a bundled recipe (`s2s list`), "
                           "or continue a run with --resume RUN")
        loaded = load_recipe(find_recipe(recipe), sets)
        data_dir = data or (Path(loaded.data.dir) if loaded.data.dir else None)
        if data_dir is None and (Path("data") / "latest").exists():
            data_dir = Path("data") / "latest"  # the newest `s2s prepare` into its default place
        if data_dir is None:
            raise S2SError(f"{recipe}: data.dir is not set and there is no data/latest; pass --data DIR "
                           "(a directory made by `s2s prepare`)")
    if nproc is not None and nproc > 1 and "WORLD_SIZE" not in os.environ:
        argv = strip_option(sys.argv[1:], "--nproc")
        if out is None:  # decided once here, so every process writes to the same run
            argv += ["--out", str(new_run_dir(loaded.name))]
        raise typer.Exit(launch(nproc, argv))
    world = World.setup(loaded.train.device)
    out = out or world.broadcast(new_run_dir(loaded.name))
    result = train(loaded, data_dir, out, resume=resume, quiet=quiet, world=world)
    world.close()
    if not world.is_main or quiet:
        return
    best = "" if result.best is None else f", best {loaded.train.metric} {abs(result.best):.3f}"
    typer.echo(f"trained {count(result.steps, 'step')}{best}; run: {result.run_dir}", err=True)
    say_next("s2s", "evaluate", "-m", result.run_dir, "--bleu")


def _run_to_resume(given: Optional[str], out: Optional[Path]) -> tuple[Path, Optional[Path]]:
    """The run `--resume` continues, and the recipe file given with it (None: the run's own).

    `s2s train --resume RUN` names the run as the argument (a directory is never a recipe);
    `s2s train RECIPE --resume --out RUN` names it with --out; with neither it is runs/latest.
    """
    from s2s.config import find_recipe

    if given is not None and Path(given).is_dir():
        if out is not None and out.resolve() != Path(given).resolve():
            raise S2SError(f"--resume {given} --out {out}: two runs named; give the run to continue once")
        return Path(given), None
    try:
        recipe_file = None if given is None else find_recipe(given)
    except S2SError:
        raise S2SError(f"--resume {given}: no such run directory, and not a recipe file or a bundled recipe") from None
    if out is None:
        out = Path("runs") / "latest"
        if not out.exists():
            raise S2SError("--resume: no run named (`s2s train --resume RUN`) and runs/latest does not exist")
        out = out.resolve()
    return out, recipe_file


# ---- translate -------------------------------------------------------------------------------------------

DecoderOpt = Annotated[Optional[str], typer.Option("--decoder", help="Decoding strategy (default: the recipe's): greedy, beam, sample.")]
BeamOpt = Annotated[Optional[int], typer.Option("--beam", help="Beam size (beam).")]
AlphaOpt = Annotated[Optional[float], typer.Option("--alpha", help="GNMT length penalty alpha (beam).")]
TemperatureOpt = Annotated[Optional[float], typer.Option("--temperature", help="Sampling temperature (sample).")]
TopKOpt = Annotated[Optional[int], typer.Option("--top-k", help="Sample among the k likeliest tokens (sample).")]
TopPOpt = Annotated[Optional[float], typer.Option("--top-p", help="Nucleus sampling threshold (sample).")]
DeviceOpt = Annotated[str, typer.Option("--device", callback=_usable_device, help="cpu, cuda or cuda:N.")]


def decode_overrides(decoder: Optional[str], beam: Optional[int], alpha: Optional[float], temperature: Optional[float],
                     top_k: Optional[int], top_p: Optional[float], **more) -> tuple[Optional[str], dict]:
    """Command-line decoding options as recipe `decode` keys (checked there like any recipe key)."""
    if beam is not None and decoder is None:
        decoder = "beam"
    values = {"beam_size": beam, "length_penalty": alpha, "temperature": temperature, "top_k": top_k,
              "top_p": top_p, **more}
    return decoder, {k: v for k, v in values.items() if v is not None}


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
    from s2s.plots.attention import AttentionReport
    from s2s.translate import translate_stream

    if nbest is not None and nbest < 1:
        raise S2SError(f"--nbest {nbest}: must be at least 1")
    name, values = decode_overrides(decoder, beam, alpha, temperature, top_k, top_p, seed=seed)
    translate_stream(model, name, values, input, output, nbest=nbest or 1, scores=scores, device=device,
                     observe=AttentionReport(attention) if attention else None)


# ---- evaluate --------------------------------------------------------------------------------------------


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

    from s2s.evaluate import evaluate

    if split not in ("dev", "test"):
        raise S2SError(f"--split: {split!r} is not a split; choose one of: dev, test")
    metrics = tuple(m for m, on in (("bleu", bleu), ("chrf", chrf), ("ter", ter)) if on) or ("bleu",)
    name, values = decode_overrides(decoder, beam, alpha, None, None, None)
    with _translation_progress(Console(stderr=True)) as progress:
        result = evaluate(model, split, src, ref, hyp, metrics, name, values, device, save_hyp, tgt_lang, progress)
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

# ---- list ------------------------------------------------------------------------------------------------


@command("list")
def list_command() -> None:
    """List the bundled recipes, the registered architectures, decoding strategies and teacher-forcing schedules."""
    import dataclasses

    from rich.table import Table

    import s2s.decoding  # noqa: F401  (each import fills its registry)
    import s2s.models  # noqa: F401
    import s2s.teacher_forcing  # noqa: F401
    from s2s.config import bundled_recipes, recipe_summary
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


# ---- plot ------------------------------------------------------------------------------------------------


def _print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    console = stdout_console()
    if not console.is_terminal:  # a pipe or a CI log has no width to fit: don't cut run names at 80 columns
        console = stdout_console(width=200)
    console.print(table)


@command("plot")
def plot_command(
    runs: Annotated[List[Path], typer.Argument(help="Run directories (runs/<name>): one, or several to compare.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Picture to write: .png, .svg or .pdf.")] = Path("curves.png"),
    text: Annotated[bool, typer.Option("--text", help="Print a table instead of drawing (needs no matplotlib).")] = False,
) -> None:
    """Training and validation curves of runs on shared axes: loss, perplexity, dev BLEU, learning rate, teacher forcing."""
    from s2s.plots import INSTALL, has_matplotlib
    from s2s.plots.curves import load_runs, plot_curves, summary_table

    curves = load_runs(runs)
    if not text and has_matplotlib():
        typer.echo(f"wrote {plot_curves(curves, out)}", err=True)
        return
    if not text:
        typer.echo(f"s2s: matplotlib is not installed, so a table instead of {out}; for pictures: {INSTALL}", err=True)
    _print_table("training curves", *summary_table(curves))


# ---- compare ---------------------------------------------------------------------------------------------


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
    """Score runs on the same test sentences: BLEU, chrF, size and speed, and BLEU by source-length bucket."""
    import dataclasses
    import json

    from s2s.compare import compare
    from s2s.plots.curves import duration

    if split not in ("dev", "test"):
        raise S2SError(f"--split: {split!r} is not a split; choose one of: dev, test")
    edges = _split_list(buckets, "--buckets", int)
    if out is not None:
        from s2s.plots import require_matplotlib

        require_matplotlib()  # before minutes of translating
    name, values = decode_overrides(decoder, beam, alpha, None, None, None)
    result = compare(runs or [], split, src, ref, name, values, device, edges, by, _named_files(hyp or []))
    if out is not None:
        from s2s.plots.by_length import plot_by_length

        typer.echo(f"wrote {plot_by_length(result, out)}", err=True)
    if as_json:
        typer.echo(json.dumps({**dataclasses.asdict(result), "buckets": [
            {"label": b.label, "low": b.low, "high": b.high, "count": b.count} for b in result.buckets]},
            ensure_ascii=False))
        return
    _print_table(f"{result.source} ({count(result.sentences, 'sentence')})",
                 ["run", "arch", "BLEU", "chrF2", "parameters", "train time", "tokens/s", "step"],
                 [[r.name, r.arch or "?", f"{r.bleu:.2f}", f"{r.chrf:.2f}", _count(r.parameters),
                   "-" if r.train_seconds is None else duration(r.train_seconds), _count(r.tokens_per_s), _count(r.steps)] for r in result.runs])
    rows = [[b.label, str(b.count), *(_bleu(r.bucket_bleu[i]) for r in result.runs)]
            for i, b in enumerate(result.buckets)]
    rows.append(["all", str(result.sentences), *(_bleu(r.bleu) for r in result.runs)])
    _print_table(f"BLEU by source length ({result.unit})", [f"source {result.unit}", "sentences",
                                                           *(r.name for r in result.runs)], rows)


def _count(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _bleu(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


# ---- average ---------------------------------------------------------------------------------------------


@command("average")
def average_command(
    run: Annotated[Path, typer.Argument(help="A run directory trained with train.keep_last.", show_default=False)],
    last: Annotated[int, typer.Option("--last", help="Average this many of the newest step checkpoints.")] = 5,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to write (default: RUN/checkpoints/averaged.pt).")] = None,
) -> None:
    """Average the weights of a run's last checkpoints into one, which usually translates better than any of them."""
    from s2s.average import average_checkpoints

    path, steps = average_checkpoints(run, last, out)
    typer.echo(f"averaged steps {', '.join(map(str, steps))} into {path}", err=True)
    typer.echo(f"next: s2s evaluate -m {path} --bleu", err=True)


# ---- export ----------------------------------------------------------------------------------------------


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


# ---- info ------------------------------------------------------------------------------------------------


@command("info")
def info_command(
    target: Annotated[Path, typer.Argument(help="A run directory or a checkpoint file.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout (for scripts).")] = False,
) -> None:
    """Architecture, size, data and direction, training time, best dev scores and the recipe's non-defaults."""
    import json

    from s2s.info import run_info
    from s2s.plots.curves import duration

    info = run_info(target)
    if as_json:
        typer.echo(json.dumps(info.to_dict(), ensure_ascii=False, default=str))
        return
    rows = [("checkpoint", info.checkpoint), ("architecture", info.arch), ("parameters", _count(info.parameters)),
            ("data", info.data_dir), ("direction", info.direction), ("steps", _count(info.steps)),
            ("trained for", "-" if info.train_seconds is None else duration(info.train_seconds)),
            ("tokens seen", _count(info.tokens_seen))]
    rows += [(f"best {key}", f"{value:.3f}") for key, value in info.best_dev.items()]
    rows += [(f"recipe {key}", repr(value) if isinstance(value, str) else str(value))
             for key, value in info.recipe_changes.items()]
    width = max(len(name) for name, _ in rows)
    typer.echo("\n".join(f"{name:<{width}}  {value}" for name, value in rows))


def main() -> None:
    # Named outright: under `python -m s2s` click would call it "python -m s2s", and the completion script
    # made from that name would complete nothing.
    app(prog_name="s2s")
