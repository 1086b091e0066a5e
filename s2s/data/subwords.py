"""SentencePiece subwords: `Vocab`, the one way text becomes ids and back, and `train_vocab` to make one.

Training choices, and why:
- Special ids are fixed (`<pad>`=0, `<unk>`=1, `<s>`=2, `</s>`=3, as in `s2s.PAD_ID`...) so every model,
  decoder and dataset agrees without asking; `Vocab` refuses a model that differs.
- `character_coverage` 0.9995: Hangul has thousands of syllables in use; 1.0 would spend the vocabulary on
  one-off characters, which become `<unk>`.
- `normalization_rule_name="identity"`: text is already normalised by `cleaning.normalize` (NFC, controls,
  spaces), which `Vocab.encode` applies to new text too. SentencePiece's default NFKC would rewrite characters
  that decoding cannot restore; with identity, `decode(encode(s)) == s` for normalised text it covers.
- Determinism: the trained model depends on the trainer's thread count (measured with sentencepiece 0.2.3 on
  ko-en train: 1, 2 and 4 threads give three different unigram models; the same count gives byte-identical
  ones), so the count is fixed at `SPM_THREADS` rather than taken from the machine. The sentences are a
  deterministic sample chosen by the caller; SentencePiece samples nothing itself (`input_sentence_size=0`).
- A vocabulary size that doesn't fit the corpus: SentencePiece refuses one too large ("Vocabulary size too
  high (N). Please set it to a value <= M") or smaller than the characters it must cover ("smaller than
  required_chars. N vs M"); `train_vocab` trains again with M and returns a note saying so, which the summary
  shows and the manifest records (`vocab.requested_size` beside `vocab.sizes`).
- `model_type`: unigram (default) or bpe split words into subwords; `word` makes each whitespace-separated word
  one piece (words outside the `vocab_size` most frequent become `<unk>`), for corpora that are already
  tokenised into a closed vocabulary, such as the peer benchmark's synthetic cipher (`bench/peers.py`), where
  word pieces make s2s see exactly the tokens the peer toolkits see.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import sentencepiece as spm

from s2s import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID
from s2s.data.cleaning import normalize
from s2s.errors import S2SError

MODEL_TYPES = ("unigram", "bpe", "word")
SPM_THREADS = 4  # fixed: the model depends on it (see above); 4 is as fast as 2 on 2 cores and faster on more
MIN_VOCAB = 16
_TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")
_TOO_LOW = re.compile(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)")


@dataclass(frozen=True)
class SubwordOptions:
    """What SentencePiece is trained with."""

    model_type: str = "unigram"  # unigram (SentencePiece's default, subword regularisation-ready), bpe or word
    vocab_size: int = 8000  # a joint ko+en vocabulary for corpora of 10^4-10^6 pairs
    joint: bool = True  # one model for both languages (shared pieces: names, numbers, code) or one each
    character_coverage: float = 0.9995
    max_sentences: int = 300_000  # a deterministic sample of at most this many sentences trains each model

    def check(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise S2SError(f"--model-type {self.model_type}: choose one of {', '.join(MODEL_TYPES)}")
        if self.vocab_size < MIN_VOCAB:
            raise S2SError(f"--vocab-size {self.vocab_size}: must be at least {MIN_VOCAB}")
        if not 0 < self.character_coverage <= 1:
            raise S2SError(f"character coverage {self.character_coverage}: must be in (0, 1]")


class Vocab:
    """A SentencePiece model with s2s's special ids; pickles (and checkpoints) as its serialized bytes."""

    def __init__(self, model_proto: bytes, name: str = "vocabulary") -> None:
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(model_proto)
        except Exception:  # sentencepiece raises RuntimeError or OSError depending on the damage
            raise S2SError(f"{name}: not a SentencePiece model") from None
        ids = (processor.pad_id(), processor.unk_id(), processor.bos_id(), processor.eos_id())
        if ids != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise S2SError(f"{name}: special ids (pad, unk, bos, eos) are {ids}, s2s needs (0, 1, 2, 3)")
        self._proto = bytes(model_proto)
        self._sp = processor

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise S2SError(f"{path}: can't read the vocabulary ({err.strerror})") from None
        return cls(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Vocab":
        return cls(data)

    def to_bytes(self) -> bytes:
        return self._proto

    def __reduce__(self):
        return (Vocab.from_bytes, (self._proto,))

    @property
    def size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Ids of `text` after `cleaning.normalize`, without BOS/EOS."""
        return self._sp.encode(normalize(text))

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """`encode` for many texts at once (SentencePiece encodes a batch on several threads)."""
        return self._sp.encode([normalize(t) for t in texts])

    def sample_batch(self, texts: list[str], alpha: float) -> list[list[int]]:
        """Ids of each text in a segmentation sampled from the unigram lattice (subword regularisation).

        One thread, so that `spm.set_random_generator_seed` before the call fixes the result."""
        return self._sp.encode([normalize(t) for t in texts], enable_sampling=True, alpha=alpha, nbest_size=-1,
                               num_threads=1)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; special ids (pad, unk, bos, eos) and ids outside the vocabulary are skipped."""
        size = self.size
        return self._sp.decode([int(i) for i in ids if EOS_ID < int(i) < size])

    def pieces(self, ids: Iterable[int]) -> list[str]:
        """The subword string of each id (for attention plots); specials as `<s>`, `</s>`..."""
        return [self._sp.id_to_piece(int(i)) for i in ids]


def train_vocab(
    sentences: Callable[[], Iterator[str]], options: SubwordOptions, max_sentence_bytes: int = 4192
) -> tuple[bytes, Optional[str]]:
    """A serialized model trained on `sentences()` (called again for a retry), and a note if its size changed."""
    try:
        return _train(sentences(), options.vocab_size, options, max_sentence_bytes), None
    except RuntimeError as err:
        size = _size_that_fits(str(err))
        if size is None:
            raise S2SError(f"SentencePiece could not train a vocabulary: {_short(err)}") from None
    if size < MIN_VOCAB:
        raise S2SError(f"--vocab-size {options.vocab_size}: the corpus is too small for even {MIN_VOCAB} pieces")
    try:
        model = _train(sentences(), size, options, max_sentence_bytes)
    except RuntimeError as err:
        raise S2SError(f"SentencePiece could not train a vocabulary of {size}: {_short(err)}") from None
    why = "too large for this corpus" if size < options.vocab_size else "too small for the characters of this corpus"
    return model, f"--vocab-size {options.vocab_size} is {why}: trained {size} pieces instead"


def _size_that_fits(message: str) -> Optional[int]:
    """The vocabulary size SentencePiece's refusal names, if it is one of the two about size."""
    too_high = _TOO_HIGH.search(message)
    if too_high:
        return int(too_high.group(2))
    too_low = _TOO_LOW.search(message)
    return int(too_low.group(2)) if too_low else None


def _train(sentences: Iterator[str], size: int, options: SubwordOptions, max_sentence_bytes: int) -> bytes:
    model = io.BytesIO()
    pad, unk, bos, eos = SPECIAL_TOKENS
    spm.SentencePieceTrainer.train(
        sentence_iterator=sentences,
        model_writer=model,
        model_type=options.model_type,
        vocab_size=size,
        character_coverage=options.character_coverage,
        normalization_rule_name="identity",
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        pad_piece=pad, unk_piece=unk, bos_piece=bos, eos_piece=eos,
        input_sentence_size=0,
        max_sentence_length=max_sentence_bytes,
        num_threads=SPM_THREADS,
        minloglevel=2,
    )
    return model.getvalue()


def _short(err: Exception) -> str:
    """SentencePiece's message without its `INTERNAL: src/file.cc(744) [check]` preamble."""
    return str(err).rsplit("] ", 1)[-1].strip()
