"""`s2s evaluate`: translate a source file (or take existing output) and score it against references.

The default is the newest run, its data directory's test split and the recipe's own decoder, so
`s2s evaluate --bleu` needs no other flag; `-m` may also name a directory made by `s2s export`. Scores come from `s2s.metrics` (sacrebleu) with their signatures.
Korean targets are tokenised for BLEU with sacrebleu's `ko-mecab` when `pip install "sacrebleu[ko]"` has been
run; otherwise BLEU falls back to `13a` and the result carries a note that says so (chrF needs no tokenizer).
Not here: the table and JSON printing (`s2s/commands/evaluate.py`), the metrics themselves (`s2s.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from s2s.atomic import atomic_write_bytes
from s2s.decoding.options import DecodeOptions
from s2s.errors import S2SError
from s2s.evalset import aligned, from_files, from_split, read_text
from s2s.metrics import Score, bleu, bleu_tokenizer, chrf, ter
from s2s.translator import Translator, open_model

KO_FALLBACK_NOTE = ('Korean target but sacrebleu\'s ko-mecab tokenizer is not installed: BLEU used 13a and is not '
                    'comparable with published Korean BLEU. Install it with: pip install "sacrebleu[ko]". '
                    'chrF (--chrf) needs no tokenizer.')


@dataclass
class EvaluationResult:
    scores: list[Score]
    sentences: int
    source: str  # what was scored, for the table title
    hypotheses: list[str]
    tgt_lang: str  # the language BLEU was tokenised for
    tokenizer: str  # BLEU's tokenizer (also in its signature's tok: field)
    notes: list[str] = field(default_factory=list)  # what a reader of the scores must know (a tokenizer fallback)


def guess_lang(texts: list[str]) -> str:
    """'ko' when Hangul makes up most of the letters of `texts`, else 'en' (for BLEU, only the script matters)."""
    hangul = letters = 0
    for text in texts[:1000]:
        for ch in text:
            if ch.isalpha():
                letters += 1
                hangul += "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"
    return "ko" if letters and hangul / letters > 0.5 else "en"


@dataclass(frozen=True)
class EvaluationRequest:
    """What `evaluate` scores: a run (or existing translations) against a split or files, with which metrics."""

    model: Optional[Path] = None  # a run, a checkpoint or an exported directory; None: runs/latest
    split: str = "test"  # the run's data directory's split, unless `src` (or `hyp`) and `ref` are given
    src: Optional[Path] = None  # translate this file instead (needs `ref`)
    ref: Optional[Path] = None
    hyp: Optional[Path] = None  # score these translations instead of translating (needs `ref`)
    metrics: tuple[str, ...] = ("bleu",)
    decode: DecodeOptions = DecodeOptions()
    device: str = "cpu"
    save_hyp: Optional[Path] = None  # also write the translations here
    tgt_lang: Optional[str] = None  # for BLEU's tokenizer; default: the run's, or guessed from the references


def evaluate(request: EvaluationRequest, progress: Optional[Callable[[int, int], None]] = None) -> EvaluationResult:
    """Score a run (or `hyp`) against references. `progress(done, total)` follows the translation."""
    r = request
    if r.hyp is not None:
        if r.ref is None:
            raise S2SError("--hyp needs --ref: the references to score the hypotheses against")
        if r.src is not None:
            raise S2SError("--hyp scores existing translations and --src translates a file: give one of them")
        hypotheses, references = read_text(r.hyp, "hypothesis"), read_text(r.ref, "reference")
        aligned(hypotheses, r.hyp, references, r.ref)
        source = f"{r.hyp} vs {r.ref}"
        lang = r.tgt_lang or (open_model(r.model).tgt_lang if r.model else guess_lang(references))
    else:
        ckpt = open_model(r.model)  # a run's checkpoint or an exported directory's manifest
        if r.src is not None or r.ref is not None:
            if r.src is None or r.ref is None:
                raise S2SError("--src and --ref go together: a source file to translate and its references")
            data = from_files(r.src, r.ref)
        else:
            data = from_split(Path(ckpt.data_dir), r.split, ckpt.src_lang, ckpt.tgt_lang)
        references, source = data.references, data.described
        if not references:  # before loading the model and translating nothing
            raise S2SError(f"nothing to score: {data.described} has no sentences")
        translator = Translator.load(ckpt, r.decode, r.device)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, len(data.sources))

        hypotheses = [t.text for t in translator.translate(data.sources, advance)]
        lang = r.tgt_lang or ckpt.tgt_lang
    if not references:
        raise S2SError(f"nothing to score: {r.ref} is empty")
    if r.save_hyp is not None:
        atomic_write_bytes(r.save_hyp, "".join(h + "\n" for h in hypotheses).encode("utf-8"))  # S2SError if not
    tokenizer = bleu_tokenizer(lang)
    notes = [KO_FALLBACK_NOTE] if "bleu" in r.metrics and lang in ("ko", "kor") and tokenizer != "ko-mecab" else []
    scorers = {"bleu": lambda: bleu(hypotheses, references, lang), "chrf": lambda: chrf(hypotheses, references),
               "ter": lambda: ter(hypotheses, references)}
    return EvaluationResult([scorers[m]() for m in r.metrics], len(references), source, hypotheses, lang, tokenizer,
                            notes)
