"""s2s: sequence-to-sequence translation from a parallel corpus to a working translator.

Importing the package is cheap on purpose (no torch): `s2s --help` must start fast. `from s2s import Translator`
(the Python API, `s2s.translator`) imports torch only when it is asked for.
"""

__version__ = "0.1.0"

# Ids every vocabulary, model and decoder shares. SentencePiece is trained with exactly these.
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")


def __getattr__(name: str):
    if name == "Translator":  # loaded on first use: it brings torch
        from s2s.translator import Translator

        return Translator
    if name == "DecodeOptions":
        from s2s.decoding.options import DecodeOptions

        return DecodeOptions
    raise AttributeError(f"module 's2s' has no attribute {name!r}")
