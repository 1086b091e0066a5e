"""Corpus-level scores through sacrebleu, with the tokenizer chosen for the target language.

BLEU depends on tokenisation. For Korean targets sacrebleu's `ko-mecab` tokenizer is the standard, but it needs
the `sacrebleu[ko]` extra (mecab-ko); without it we fall back to `13a` and say so in the signature. chrF needs
no tokenizer and is always offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence


@dataclass(frozen=True)
class Score:
    name: str  # "BLEU", "chrF2", "TER"
    value: float
    signature: str
    length_ratio: Optional[float] = None  # BLEU only: output tokens / reference tokens (under 1: brevity penalty)


def bleu_tokenizer(tgt_lang: str) -> str:
    if tgt_lang in ("ko", "kor"):
        try:
            from sacrebleu.tokenizers.tokenizer_ko_mecab import TokenizerKoMecab

            TokenizerKoMecab()
            return "ko-mecab"
        except Exception:  # the extra is missing or mecab-ko's dictionary cannot be loaded
            return "13a"
    if tgt_lang in ("ja", "jpn"):
        return "char"
    if tgt_lang in ("zh", "zho"):
        return "zh"
    return "13a"


def bleu(hyps: Sequence[str], refs: Sequence[str], tgt_lang: str = "en") -> Score:
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize=bleu_tokenizer(tgt_lang))
    result = metric.corpus_score(list(hyps), [list(refs)])
    ratio = result.sys_len / result.ref_len if result.ref_len else None
    return Score("BLEU", result.score, str(metric.get_signature()), ratio)


def chrf(hyps: Sequence[str], refs: Sequence[str]) -> Score:
    from sacrebleu.metrics import CHRF

    metric = CHRF()
    result = metric.corpus_score(list(hyps), [list(refs)])
    return Score("chrF2", result.score, str(metric.get_signature()))


def ter(hyps: Sequence[str], refs: Sequence[str]) -> Score:
    from sacrebleu.metrics import TER

    metric = TER()
    result = metric.corpus_score(list(hyps), [list(refs)])
    return Score("TER", result.score, str(metric.get_signature()))
