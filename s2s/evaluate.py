"""`s2s evaluate`: translate a source file (or take existing output) and score it against references.

The default is the newest run, its data directory's test split and the recipe's own decoder, so
`s2s evaluate --bleu` needs no other flag; `-m` may also name a directory made by `s2s export`. Scores come from `s2s.metrics` (sacrebleu) with their signatures.
Korean targets are tokenised for BLEU with sacrebleu's `ko-mecab` when `pip install "sacrebleu[ko]"` has been
run; otherwise BLEU falls back to `13a` and the result carries a note that says so (chrF needs no tokenizer).
Not here: the table and JSON printing (`s2s.cli`), the metrics themselves (`s2s.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from s2s.atomic import atomic_write_bytes
from s2s.errors import S2SError
from s2s.metrics import Score, bleu, bleu_tokenizer, chrf, ter
from s2s.translator import Translator, open_model
from s2s.validation import read_lines
from s2s.wording import count

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


def _read(path: Path, what: str) -> list[str]:
    try:
        return [line[:-1] if line.endswith("\r") else line for line in read_lines(path)]
    except FileNotFoundError:
        raise S2SError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise S2SError(f"{path}: is a directory, not a {what} file") from None
    except UnicodeDecodeError as err:
        raise S2SError(f"{path}: not UTF-8 text (byte {err.start})") from None


def _aligned(a: list[str], a_path: object, b: list[str], b_path: object) -> None:
    if len(a) != len(b):
        raise S2SError(f"{a_path} has {count(len(a), 'line')} but {b_path} has {len(b):,}: the files must align line by line")


def guess_lang(texts: list[str]) -> str:
    """'ko' when Hangul makes up most of the letters of `texts`, else 'en' (for BLEU, only the script matters)."""
    hangul = letters = 0
    for text in texts[:1000]:
        for ch in text:
            if ch.isalpha():
                letters += 1
                hangul += "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"
    return "ko" if letters and hangul / letters > 0.5 else "en"


def evaluate(model: Optional[Path] = None, split: str = "test", src: Optional[Path] = None,
             ref: Optional[Path] = None, hyp: Optional[Path] = None, metrics: tuple[str, ...] = ("bleu",),
             strategy: Optional[str] = None, decode_overrides: Optional[dict] = None, device: str = "cpu",
             save_hyp: Optional[Path] = None, tgt_lang: Optional[str] = None,
             progress: Optional[Callable[[int, int], None]] = None) -> EvaluationResult:
    """Score a run (or `hyp`) against references. `progress(done, total)` follows the translation."""
    if hyp is not None:
        if ref is None:
            raise S2SError("--hyp needs --ref: the references to score the hypotheses against")
        if src is not None:
            raise S2SError("--hyp scores existing translations and --src translates a file: give one of them")
        hypotheses, references = _read(hyp, "hypothesis"), _read(ref, "reference")
        _aligned(hypotheses, hyp, references, ref)
        source = f"{hyp} vs {ref}"
        lang = tgt_lang or (open_model(model).tgt_lang if model else guess_lang(references))
    else:
        ckpt = open_model(model)  # a run's checkpoint or an exported directory's manifest
        if src is not None or ref is not None:
            if src is None or ref is None:
                raise S2SError("--src and --ref go together: a source file to translate and its references")
            sources, references = _read(src, "source"), _read(ref, "reference")
            _aligned(sources, src, references, ref)
            source = f"{src} vs {ref}"
        else:
            data_dir = Path(ckpt.data_dir)
            src_file, ref_file = data_dir / f"{split}.{ckpt.src_lang}", data_dir / f"{split}.{ckpt.tgt_lang}"
            if not src_file.is_file() or not ref_file.is_file():
                raise S2SError(f"{src_file if not src_file.is_file() else ref_file}: the run's {split} split is "
                               f"missing (was {data_dir} moved?); use --src FILE --ref FILE")
            sources, references = _read(src_file, "source"), _read(ref_file, "reference")
            _aligned(sources, src_file, references, ref_file)
            source = f"{split} split of {data_dir}"
        if not references:  # before loading the model and translating nothing
            raise S2SError(f"nothing to score: {ref if ref is not None else ref_file} is empty")
        translator = Translator.load(ckpt, strategy, decode_overrides, device)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, len(sources))

        hypotheses = [t.text for t in translator.translate(sources, advance)]
        lang = tgt_lang or ckpt.tgt_lang
    if not references:
        raise S2SError(f"nothing to score: {ref} is empty")
    if save_hyp is not None:
        atomic_write_bytes(save_hyp, "".join(h + "\n" for h in hypotheses).encode("utf-8"))  # S2SError if not
    tokenizer = bleu_tokenizer(lang)
    notes = [KO_FALLBACK_NOTE] if "bleu" in metrics and lang in ("ko", "kor") and tokenizer != "ko-mecab" else []
    scorers = {"bleu": lambda: bleu(hypotheses, references, lang), "chrf": lambda: chrf(hypotheses, references),
               "ter": lambda: ter(hypotheses, references)}
    return EvaluationResult([scorers[m]() for m in metrics], len(references), source, hypotheses, lang, tokenizer,
                            notes)
