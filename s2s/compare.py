"""`s2s compare`: several runs scored on the same sentences, overall and by source length.

Each run translates the same source file through `s2s.translator.Translator` (the one translation loop) and is
scored with `s2s.metrics` (corpus BLEU and chrF through sacrebleu). The sentences are also split into buckets by
source length (by default words, i.e. spaces + 1, so that every run gets the same buckets whatever its
vocabulary; or subwords when all runs share one source vocabulary) and BLEU, chrF and the output's length
against the reference's are computed inside each bucket: the comparison that shows a context-vector RNN falling
behind attention as sentences grow, and whether it falls by saying less (a length ratio that drops) or by saying
the wrong thing. The bucket counts always add up to the corpus (an empty line counts as length 1).

The runs must translate the same data: by default each run's own split (`test.<src>` in its checkpoint's data
directory), refused if they are not the same sentences; or `--src FILE --ref FILE` for all of them. Translations
made elsewhere -- another toolkit, an earlier session's run -- join the comparison as `--hyp NAME=FILE`, one line
per source line, scored and bucketed exactly as the runs are.
Not here: the picture (`s2s/plots/by_length.py`) and the tables (`s2s/commands/compare.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from s2s.checkpoint import Checkpoint, load_checkpoint, resolve_checkpoint, run_dir_of
from s2s.decoding.options import DecodeOptions
from s2s.errors import S2SError
from s2s.evalset import EvalSet, from_files, from_split, read_text
from s2s.evaluate import guess_lang
from s2s.metrics import bleu, chrf
from s2s.wording import count

DEFAULT_EDGES = (5, 10, 20, 40)  # buckets 1-5, 6-10, 11-20, 21-40, 41+
UNITS = ("words", "subwords")


@dataclass(frozen=True)
class Bucket:
    low: int  # shortest source length in the bucket
    high: Optional[int]  # longest, None: no upper limit
    count: int  # sentences that fall in it

    @property
    def label(self) -> str:
        if self.high is None:
            return f"{self.low}+"
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"

    def holds(self, length: int) -> bool:
        return self.low <= length and (self.high is None or length <= self.high)


@dataclass
class RunScore:
    name: str
    arch: Optional[str]  # None for translations made elsewhere (--hyp): their model is unknown
    bleu: float
    chrf: float
    parameters: Optional[int]
    train_seconds: Optional[float]
    tokens_per_s: Optional[float]  # training throughput: tokens seen / training seconds
    steps: Optional[int]
    length_ratio: Optional[float]  # output tokens / reference tokens (BLEU's tokens), over the whole set
    bucket_bleu: list[Optional[float]]  # BLEU inside each bucket; None for an empty bucket
    bucket_chrf: list[Optional[float]]  # chrF2 inside each bucket
    bucket_length_ratio: list[Optional[float]]  # output / reference length inside each bucket


@dataclass
class Comparison:
    source: str  # what was translated, for the table title
    sentences: int
    unit: str  # "words" or "subwords"
    buckets: list[Bucket]
    runs: list[RunScore]


def make_buckets(lengths: Sequence[int], edges: Sequence[int] = DEFAULT_EDGES) -> list[Bucket]:
    """Buckets 1..e1, e1+1..e2, ..., last+1.. with their counts; `edges` are increasing upper bounds."""
    if not edges or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 1:
        raise S2SError(f"--buckets {','.join(map(str, edges))}: give increasing upper bounds >= 1, e.g. 5,10,20,40")
    bounds = [(1, edges[0])] + [(a + 1, b) for a, b in zip(edges, edges[1:])] + [(edges[-1] + 1, None)]
    return [Bucket(low, high, sum(1 for n in lengths if Bucket(low, high, 0).holds(max(1, n))))
            for low, high in bounds]


def compare(runs: Sequence[Path], split: str = "test", src: Optional[Path] = None, ref: Optional[Path] = None,
            decode: DecodeOptions = DecodeOptions(), device: str = "cpu", edges: Sequence[int] = DEFAULT_EDGES,
            unit: str = "words", hyps: Sequence[tuple[str, Path]] = ()) -> Comparison:
    """Each run (and each `hyps` file) scored on the same sentences: overall and by source-length bucket."""
    from s2s.data.subwords import Vocab
    from s2s.translator import Translator

    if not runs and not hyps:
        raise S2SError("nothing to compare: name run directories (or checkpoint files), or --hyp NAME=FILE with --src and --ref")
    if hyps and (src is None or ref is None):
        raise S2SError("--hyp needs --src and --ref: the source the translations were made from and its references")
    if unit == "subwords" and not runs:
        raise S2SError("--by subwords needs a run, for its source vocabulary; use --by words")
    if unit not in UNITS:
        raise S2SError(f"--by {unit!r}: choose one of: {', '.join(UNITS)}")
    if (src is None) != (ref is None):
        raise S2SError("--src and --ref go together: a source file to translate and its references")
    paths = [resolve_checkpoint(Path(r)) for r in runs]
    ckpts = [load_checkpoint(p) for p in paths]
    names = _names(paths)
    if ckpts:
        _same_direction(ckpts, names)
    data = from_files(src, ref) if src is not None and ref is not None else _shared_split(ckpts, names, split)
    sources, references, described = data.sources, data.references, data.described
    given = [(name, read_text(path, "translation")) for name, path in hyps]
    for (name, lines), (_, path) in zip(given, hyps):
        if len(lines) != len(sources):
            raise S2SError(f"{path}: {count(len(lines), 'line')} for {count(len(sources), 'source line')}: "
                           f"--hyp {name} must hold one translation per source line")
    if not references:
        raise S2SError("nothing to score: the reference file is empty")
    if unit == "words":
        lengths = [len(line.split()) for line in sources]
    else:
        if len({c.src_vocab for c in ckpts}) > 1:
            raise S2SError("--by subwords: the runs use different source vocabularies, so their subword lengths "
                           "differ; use --by words")
        vocab = Vocab.from_bytes(ckpts[0].src_vocab)
        lengths = [len(vocab.encode(line)) for line in sources]
    buckets = make_buckets(lengths, edges)
    members = [[i for i, n in enumerate(lengths) if b.holds(max(1, n))] for b in buckets]
    lang = ckpts[0].tgt_lang if ckpts else guess_lang(references)

    def scored(name: str, translations: list[str], **about) -> RunScore:
        overall = bleu(translations, references, lang)
        per_bucket = [([translations[i] for i in idx], [references[i] for i in idx]) if idx else None
                      for idx in members]
        bleus = [bleu(*pair, lang) if pair else None for pair in per_bucket]
        return RunScore(name=name, bleu=overall.value, chrf=chrf(translations, references).value,
                        length_ratio=overall.length_ratio, bucket_bleu=[None if b is None else b.value for b in bleus],
                        bucket_chrf=[chrf(*pair).value if pair else None for pair in per_bucket],
                        bucket_length_ratio=[None if b is None else b.length_ratio for b in bleus], **about)

    scores = []
    for name, ckpt in zip(names, ckpts):
        translator = Translator.load(ckpt, decode, device)
        info = ckpt.info
        seconds, tokens = info.train_seconds, info.tokens_seen
        scores.append(scored(name, [t.text for t in translator.translate(sources)], arch=ckpt.recipe.model.name,
                             parameters=info.parameters, train_seconds=seconds,
                             tokens_per_s=tokens / seconds if tokens and seconds else None, steps=info.step))
    for name, lines in given:
        scores.append(scored(name, lines, arch=None, parameters=None, train_seconds=None, tokens_per_s=None,
                             steps=None))
    return Comparison(described, len(references), unit, buckets, scores)


def _names(paths: list[Path]) -> list[str]:
    """Each checkpoint's run directory name; the full path where two runs share a name."""
    dirs = [run_dir_of(p) for p in paths]
    names = [d.name for d in dirs]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return names


def _same_direction(ckpts: list[Checkpoint], names: list[str]) -> None:
    first = f"{ckpts[0].src_lang}→{ckpts[0].tgt_lang}"
    for name, ckpt in zip(names[1:], ckpts[1:]):
        if f"{ckpt.src_lang}→{ckpt.tgt_lang}" != first:
            raise S2SError(f"{names[0]} translates {first} but {name} translates {ckpt.src_lang}→{ckpt.tgt_lang}: "
                           "runs compared must translate the same way")


def _shared_split(ckpts: list[Checkpoint], names: list[str], split: str) -> EvalSet:
    """The split every run was trained next to; refused unless all runs hold the same sentences."""
    found = [from_split(Path(ckpt.data_dir), split, ckpt.src_lang, ckpt.tgt_lang, owner=name)
             for name, ckpt in zip(names, ckpts)]
    for name, ckpt, other in zip(names[1:], ckpts[1:], found[1:]):
        if (other.sources, other.references) != (found[0].sources, found[0].references):
            raise S2SError(f"{names[0]} and {name} have different {split} splits ({ckpts[0].data_dir} and "
                           f"{ckpt.data_dir}): scores would not be comparable; give the same files to all with "
                           "--src FILE --ref FILE")
    return found[0]
