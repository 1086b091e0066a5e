"""Deploying a trained Transformer with CTranslate2, the C++ engine OpenNMT-py, fairseq and Marian serve with.

`s2s export RUN --to ctranslate2` turns a run into a CTranslate2 model directory (`export.py`, weights mapped by
`spec.py` onto the converter API `ctranslate2.specs`), with the SentencePiece model(s) and a manifest beside it
(`manifest.py`); `s2s translate -m DIR` and `s2s evaluate -m DIR` then decode with `ctranslate2.Translator`
(`translator.py`) behind the same `s2s.translator.Translator` interface as a run.

ctranslate2 is an optional dependency (`pip install "s2s[ct2]"`; `make install` installs it): nothing here
imports it at module level, and `require_ctranslate2` says in one line how to get it. Recurrent architectures
have no CTranslate2 spec and stay with s2s's own decoder.
"""

from __future__ import annotations

from s2s.errors import S2SError

INSTALL = 'pip install "s2s[ct2]" (or: pip install ctranslate2)'

# CTranslate2's weight types (ctranslate2.specs.model_spec.ACCEPTED_MODEL_TYPES), float32 (no quantisation) first.
QUANTIZATIONS = ("float32", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16")


def require_ctranslate2(what: str):
    """The `ctranslate2` module, or S2SError saying that `what` needs it and how to install it."""
    try:
        import ctranslate2
    except ImportError:
        raise S2SError(f"{what} needs the ctranslate2 package, which is not installed: {INSTALL}") from None
    return ctranslate2
