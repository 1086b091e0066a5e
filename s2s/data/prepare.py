"""`prepare(inputs, options, out)`: parallel corpora in, a data directory that training memory-maps out.

The pipeline, streaming so memory stays bounded whatever the corpus size:
1. read every input row by row (`readers`), normalise and filter it (`cleaning`), drop exact duplicates (a set
   of 8-byte hashes, not the strings) and append it to a pool file inside the staging directory;
2. choose dev and test by index from the seed (`splits`), write `{dev,test}.{src,tgt}` in one pass over the pool
   and `train.*` in a second, dropping train pairs that leak dev/test sentences;
3. train SentencePiece on a seeded sample of at most `max_sentences` train sentences (`subwords`);
4. encode every split to `{split}.{lang}.bin/.idx` (`binary`) and write `manifest.json` (`manifest`).
Everything happens in `.{out}.tmp-{pid}` beside `out`, renamed into place at the end (`staging`).

The directory holds both languages in full; `--src/--tgt` only record the default direction in the manifest,
and `train` can read the data the other way round (recipe keys `data.src` / `data.tgt`). The raw-text splits
are kept exactly as cleaned: they are the references `evaluate` scores against, never tokenised text.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from s2s.data.binary import IdsWriter, dtype_for
from s2s.data.cleaning import RULES, Cleaner, CleaningOptions, Tally
from s2s.data.langcheck import check_languages
from s2s.data.manifest import build_manifest, write_manifest
from s2s.data.readers import ReadOptions, Row, Source, open_sources
from s2s.data.report import Progress, PrepareReport, RuleCount, Silent
from s2s.data.rows import read_rows
from s2s.data.splits import SPLITS, write_splits
from s2s.data.staging import check_target, staged
from s2s.data.subwords import SubwordOptions, Vocab, train_vocab
from s2s.errors import S2SError
from s2s.wording import count

POOL = ".pool.tsv"  # cleaned, de-duplicated pairs before splitting; deleted before the rename
MALFORMED_SHOWN = 5
ENCODE_CHUNK = 8192


def sample_corpus() -> Path:
    """The Tatoeba sample shipped inside the package (`s2s prepare --sample`)."""
    return Path(str(resources.files("s2s").joinpath("sample", "kor-eng.tsv")))


def default_out(inputs: list[Path], sample: bool = False) -> Path:
    """`data/<stem of the first input>` (`data/sample` for --sample): `corpus.ko` -> data/corpus."""
    return Path("data") / ("sample" if sample else inputs[0].with_suffix("").name)


@dataclass(frozen=True)
class PrepareOptions:
    """Everything `s2s prepare` can be told; each part is configured beside the code that uses it."""

    read: ReadOptions = field(default_factory=ReadOptions)
    clean: CleaningOptions = field(default_factory=CleaningOptions)
    subwords: SubwordOptions = field(default_factory=SubwordOptions)
    src: Optional[str] = None  # default: the first language column of the first input
    tgt: Optional[str] = None  # default: the next one
    dev: Optional[int] = None  # pairs; None: min(1000, pool // 10) (see splits.py)
    test: Optional[int] = None
    dev_file: Optional[Path] = None  # read like an input; normalised, only empty pairs dropped
    test_file: Optional[Path] = None
    seed: int = 1
    strict: bool = False  # the first malformed line is an error instead of a skipped, counted line
    force: bool = False  # replace a non-empty output directory
    lang_check: bool = True  # refuse sides whose script doesn't fit their language code (langcheck.py)

    def check(self) -> None:
        self.clean.check()
        self.subwords.check()
        for name, size, path in (("dev", self.dev, self.dev_file), ("test", self.test, self.test_file)):
            if size is not None and path is not None:
                raise S2SError(f"--{name} {size} and --{name}-file {path}: give one or the other")


class _Reader:
    """Rows of several sources, cleaned, with malformed lines counted (or fatal with --strict)."""

    def __init__(self, langs: tuple[str, str], cleaner: Cleaner, strict: bool, progress: Progress) -> None:
        self.langs, self.cleaner, self.strict, self.progress = langs, cleaner, strict, progress
        self.rows = 0
        self.malformed: list[str] = []

    def pairs(self, sources: list[Source], filters: bool = True) -> Iterator[Row]:
        """Rows whose `texts` are cleaned (src, tgt); dropped and malformed rows are counted, not yielded."""
        tally = self.cleaner.tally
        for source in sources:
            size = None if source.format == "xlsx" else sum(p.stat().st_size for p in source.paths)  # in bytes
            self.progress.start(f"reading {source.name}", size)
            for row in read_rows(source, self.langs, self.progress.advance):
                self.rows += 1
                if row.problem is not None:
                    where = f"{row.path}:{row.line}: {row.problem}"
                    if self.strict:
                        raise S2SError(f"{where} (--strict)")
                    tally.add("malformed", row.path, row.line, row.problem)
                    if len(self.malformed) < MALFORMED_SHOWN:
                        self.malformed.append(where)
                    continue
                texts = self.cleaner.clean(row.texts, row.path, row.line, filters)
                if texts is not None:
                    yield row._replace(texts=texts)


def prepare(
    inputs: list[Path], options: PrepareOptions, out: Path, progress: Optional[Progress] = None
) -> PrepareReport:
    """Build the data directory `out` from `inputs` (see the module docstring); S2SError for user mistakes."""
    started = time.perf_counter()
    progress = progress or Silent()
    options.check()
    if not inputs:
        raise S2SError("no input files: give one or more corpora, or --sample")
    sources = open_sources(list(inputs), options.read)
    given = {
        split: open_sources([path], options.read)
        for split, path in (("dev", options.dev_file), ("test", options.test_file))
        if path is not None
    }
    every = sources + [s for group in given.values() for s in group]
    langs = _direction(every, options.src, options.tgt)
    check_target(out, options.force)  # refuse before the work, not after it
    if options.lang_check:
        check_languages(every, langs)
    tally = Tally()
    reader = _Reader(langs, Cleaner(options.clean, tally), options.strict, progress)
    notes: list[str] = []
    try:
        with staged(out, options.force) as work:
            origins, pool = _write_pool(reader.pairs(sources), work / POOL, tally)
            if pool == 0:
                raise S2SError(_nothing_left(sources, reader, tally))
            held = {split: [row.texts for row in reader.pairs(group, filters=False)] for split, group in given.items()}
            for split, rows in held.items():
                if not rows:
                    raise S2SError(f"--{split}-file {getattr(options, f'{split}_file')}: no sentence pairs in it")
            sizes = write_splits(
                work, work / POOL, origins, pool, held, langs, (options.dev, options.test), options.seed, tally,
                progress, notes, ", ".join(s.name for s in sources),
            )
            (work / POOL).unlink()
            vocab_files, vocabs = _train_vocabs(work, langs, sizes["train"], options, progress, notes)
            dtype = dtype_for(max(v.size for v in vocabs.values()))
            tokens = _encode(work, langs, vocabs, dtype, sizes, progress)
            record = build_manifest(sources, given, options, langs, tally, sizes, tokens, vocab_files, vocabs, dtype)
            write_manifest(work, record)
    except OSError as err:  # disk full, read-only filesystem, an input that vanished: staged() removed the work
        where = f"{err.filename}: " if err.filename else ""
        state = "left as it was" if out.exists() else "not created"
        raise S2SError(f"{out}: cannot prepare: {where}{err.strerror or err} ({out} {state})") from None
    rules = tuple(RuleCount(r, d, tally.counts[r], tally.examples.get(r)) for r, d in RULES.items())
    return PrepareReport(
        out=out, src=langs[0], tgt=langs[1], rows=reader.rows, rules=rules, malformed=tuple(reader.malformed),
        splits=sizes, vocab_files=vocab_files, vocab_sizes={k: v.size for k, v in vocabs.items()},
        notes=tuple(notes), seconds=time.perf_counter() - started,
    )


def _nothing_left(sources: list[Source], reader: _Reader, tally: Tally) -> str:
    """Why no pair survived, in one line: how many rows each rule dropped and where the first one was."""
    names = ", ".join(s.name for s in sources)
    if reader.rows == 0:
        return f"{names}: no sentence pairs (no rows after the header)"
    why = {"malformed": "unreadable", "empty": "with an empty side", "too_long": "over --max-chars",
           "ratio": "over --max-ratio"}
    dropped = {rule: n for rule, n in tally.counts.items() if n and rule in why}
    counts = ", ".join(f"{n} {why[rule]}" for rule, n in dropped.items())
    rule = max(dropped, key=dropped.get) if dropped else None
    first = reader.malformed[0] if rule == "malformed" and reader.malformed else (
        f"{tally.examples[rule].where}" if rule in tally.examples else "")
    return f"{names}: no sentence pairs left of {count(reader.rows, 'row')} ({counts}){f'; first: {first}' if first else ''}"


def _direction(sources: list[Source], src: Optional[str], tgt: Optional[str]) -> tuple[str, str]:
    first = sources[0].languages
    if src is None:
        src = next((lang for lang in first if lang != tgt), None)
    if tgt is None:
        tgt = next((lang for lang in first if lang != src), None)
    if src is None or tgt is None or src == tgt:
        raise S2SError(f"--src {src} --tgt {tgt}: need two different languages ({sources[0].name} has {', '.join(first)})")
    for source in sources:
        for opt, lang in (("--src", src), ("--tgt", tgt)):
            if lang not in source.languages:
                raise S2SError(f"{opt} {lang}: {source.name} has no {lang!r} column (it has {', '.join(source.languages)})")
    return src, tgt


def _write_pool(rows: Iterator[Row], path: Path, tally: Tally) -> tuple[list[Path], int]:
    """Write de-duplicated pairs as `src<TAB>tgt<TAB>origin` lines; the origin files and the count.

    The origin (`file number:line`) lets the leak rule name a line in the summary; it costs a few bytes a line.
    """
    seen: set[bytes] = set()
    origins: dict[Path, int] = {}
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            src, tgt = row.texts
            pair = f"{src}\t{tgt}"
            key = hashlib.blake2b(pair.encode(), digest_size=8).digest()  # 8 bytes: no collision in 10^8 pairs, in practice
            if key in seen:
                tally.add("duplicate", row.path, row.line, f"{src} ||| {tgt}")
                continue
            seen.add(key)
            f.write(f"{pair}\t{origins.setdefault(row.path, len(origins))}:{row.line}\n")
            count += 1
    return list(origins), count


def _sentences(files: list[Path], keep: Optional[np.ndarray]) -> Iterator[str]:
    """The lines of aligned `files`, pair by pair, only where `keep` is True (all when None)."""
    handles = [open(f, encoding="utf-8", newline="\n") for f in files]
    try:
        for i, lines in enumerate(zip(*handles)):
            if keep is None or keep[i]:
                for line in lines:
                    yield line[:-1]
    finally:
        for h in handles:
            h.close()


def _train_vocabs(
    work: Path, langs: tuple[str, str], n_train: int, options: PrepareOptions, progress: Progress, notes: list[str]
) -> tuple[dict[str, str], dict[str, Vocab]]:
    """Train the joint model or one per language on a seeded sample of train; file and Vocab per language."""
    sub = options.subwords
    rng = np.random.default_rng([options.seed, 0x5B])  # SentencePiece's sample: its own stream
    groups = [(langs, "spm.model")] if sub.joint else [((lang,), f"spm.{lang}.model") for lang in langs]
    files: dict[str, str] = {}
    vocabs: dict[str, Vocab] = {}
    for group, name in groups:
        limit = max(1, sub.max_sentences // len(group))  # pairs; each gives len(group) sentences
        keep = None
        if n_train > limit:
            keep = np.zeros(n_train, dtype=bool)
            keep[rng.choice(n_train, size=limit, replace=False)] = True
            notes.append(f"{name}: trained on a seeded sample of {limit * len(group):,} of {count(n_train * len(group), 'sentence')}")
        progress.start(f"training SentencePiece {name}")
        paths = [work / f"train.{lang}" for lang in group]
        model, note = train_vocab(
            lambda: _sentences(paths, keep), sub, max_sentence_bytes=max(4192, 4 * options.clean.max_chars + 4)
        )
        if note:
            notes.append(f"{name}: {note}")
        (work / name).write_bytes(model)
        vocab = Vocab(model, name)
        for lang in group:
            files[lang], vocabs[lang] = name, vocab
    return files, vocabs


def _encode(
    work: Path, langs: tuple[str, str], vocabs: dict[str, Vocab], dtype: str, sizes: dict[str, int], progress: Progress
) -> dict[str, dict[str, int]]:
    """Write `{split}.{lang}.bin/.idx` from the text files; ids per split and language."""
    tokens: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        tokens[split] = {}
        for lang in langs:
            progress.start(f"encoding {split}.{lang}", sizes[split])
            with open(work / f"{split}.{lang}", encoding="utf-8", newline="\n") as f, IdsWriter(
                work / f"{split}.{lang}.bin", work / f"{split}.{lang}.idx", dtype
            ) as writer:
                chunk: list[str] = []
                for line in f:
                    chunk.append(line[:-1])
                    if len(chunk) == ENCODE_CHUNK:
                        writer.write(vocabs[lang].encode_batch(chunk))
                        progress.advance(len(chunk))
                        chunk = []
                writer.write(vocabs[lang].encode_batch(chunk))
                progress.advance(len(chunk))
            tokens[split][lang] = writer.tokens
    return tokens
