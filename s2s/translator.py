"""Text in, text out: a trained model, its two vocabularies and a decoder, behind one interface.

`Translator.load(path)` opens what `-m` names -- a run directory, a checkpoint file, or a directory made by
`s2s export` -- and is what `s2s translate`, `s2s evaluate` and a Python user call:

    from s2s import DecodeOptions, Translator
    t = Translator.load("runs/x")  # the recipe's decoder; or Translator.load("runs/x", DecodeOptions(beam_size=8))
    [r.text for r in t.translate(["안녕하세요."])]
    for r in t.translate_stream(sys.stdin): print(r.text)  # one result per line, as lines arrive

Text is encoded, batched, decoded and detokenised in exactly one way (`Translator.translate`): sentences are
sorted by length inside a call so each batch pads little, and the results come back in input order; an empty line
translates to an empty line without touching the model. What differs between engines is `decode_ids` alone:
`ModelTranslator` runs s2s's own decoders on the torch model (also inside training, for validation);
`s2s.ct2.translator.ExportedTranslator` runs CTranslate2 on an exported directory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Optional, Sequence, Union

import torch

from s2s import fast
from s2s.checkpoint import Checkpoint, load_checkpoint, load_weights, resolve_checkpoint
from s2s.ct2.manifest import Export, is_export, read_export
from s2s.data.subwords import Vocab
from s2s.decoding import Hypothesis
from s2s.decoding.options import DecodeOptions, decoder_from
from s2s.models.base import Seq2Seq, build_model
from s2s.registry import DECODERS
from s2s.streaming import read_chunks

# Lines `translate_stream` translates together when its input is not a file being written to as it is read.
STREAM_LINES = 256


@dataclass
class Translation:
    candidates: list[str]  # the n-best hypotheses detokenised, best first (empty for an empty input line)
    hypotheses: list[Hypothesis]  # the same, as decoded (tokens, scores, attention)
    src_pieces: list[str]  # source subwords, for attention plots
    source: str = ""  # the input line

    @property
    def text(self) -> str:
        return self.candidates[0] if self.candidates else ""


def open_model(target: Union[Path, str, None]) -> Union[Checkpoint, Export]:
    """What `-m` names, opened without building a model: a checkpoint (of a run directory or a file, None being
    runs/latest) or an exported directory's manifest. Both say `data_dir`, `src_lang` and `tgt_lang`."""
    if target is not None and is_export(Path(target)):
        return read_export(Path(target))
    return load_checkpoint(resolve_checkpoint(None if target is None else Path(target)))


class Translator(ABC):
    """Lines of text to `Translation`s with the vocabularies and the decoding strategy it was given."""

    def __init__(self, src_vocab: Vocab, tgt_vocab: Vocab, strategy: str, decode_config: Any,
                 max_length: Optional[int], max_src_len: int = 512, batch_tokens: int = 4096):
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.strategy, self.decode_config = strategy, decode_config
        # Longer inputs are cut (a 5,000-character line must still give a line), and never beyond what the model
        # can encode: a Transformer has no position past its max_positions.
        self.max_src_len = max_src_len if max_length is None else min(max_src_len, max_length)
        self.batch_tokens = batch_tokens

    @classmethod
    def load(cls, target: Union[Path, str, Checkpoint, Export, None], options: Optional[DecodeOptions] = None,
             device: str = "cpu") -> "Translator":
        """A run directory, a checkpoint file or an exported directory (None: runs/latest), or one already
        opened by `open_model`, with the recipe's decoder and `options` on top of it."""
        opened = target if isinstance(target, (Checkpoint, Export)) else open_model(target)
        if isinstance(opened, Export):
            from s2s.ct2.translator import ExportedTranslator

            return ExportedTranslator.from_export(opened, options, device)
        return ModelTranslator.from_checkpoint(opened, options, device)

    def translate(self, lines: Sequence[str], progress: Optional[Callable[[int], None]] = None) -> list[Translation]:
        """One `Translation` per line, in order; `progress(n)` is called after each batch with its n sentences."""
        kept = [i for i, line in enumerate(lines) if line.strip()]
        encoded: list[list[int]] = [[] for _ in lines]
        for i, ids in zip(kept, self.src_vocab.encode_batch([_encodable(lines[i]) for i in kept])):
            encoded[i] = ids[: self.max_src_len]
        results: list[Optional[Translation]] = [None] * len(lines)
        order = sorted((i for i in kept if encoded[i]), key=lambda i: len(encoded[i]))
        for batch in _length_batches(order, encoded, self.batch_tokens):
            hyps = self.decode_ids([encoded[i] for i in batch])
            for i, nbest in zip(batch, hyps):
                results[i] = Translation([self.tgt_vocab.decode(h.tokens) for h in nbest], nbest,
                                         self.src_vocab.pieces(encoded[i]), lines[i])
            if progress is not None:
                progress(len(batch))
        return [r if r is not None else Translation([], [], [], line) for r, line in zip(results, lines)]

    def translate_stream(self, lines: Union[Iterable[str], IO], chunk_lines: int = STREAM_LINES
                         ) -> Iterator[Translation]:
        """One `Translation` per input line, in order, yielded as soon as the lines before it are translated.

        An open file or stdin (text or bytes) is read as lines arrive (`s2s.streaming.read_chunks`), so a line
        typed interactively is answered before the next is read; any other iterable is taken `chunk_lines` at a
        time. Lines end at "\\n" only; bytes that are not UTF-8 are read as U+FFFD.
        """
        for chunk in read_chunks(lines, chunk_lines):
            yield from self.translate(chunk)

    @abstractmethod
    def decode_ids(self, sources: list[list[int]]) -> list[list[Hypothesis]]:
        """The n-best hypotheses of each source (subword ids, none empty), best first."""


class ModelTranslator(Translator):
    """s2s's own decoders (`s2s.decoding`) on a torch model: every architecture, every strategy."""

    def __init__(self, model: Seq2Seq, src_vocab: Vocab, tgt_vocab: Vocab, strategy: str, decode_config: Any,
                 device: str = "cpu", max_src_len: int = 512, batch_tokens: int = 4096):
        super().__init__(src_vocab, tgt_vocab, strategy, decode_config, model.max_length, max_src_len, batch_tokens)
        self.model = model.eval()
        self.device = torch.device(device)

    @classmethod
    def from_checkpoint(cls, ckpt: Checkpoint, options: Optional[DecodeOptions] = None,
                        device: str = "cpu") -> "ModelTranslator":
        """s2s's own decoder on a loaded checkpoint (`Translator.load` opens paths), prepared for decoding (`fast`)."""
        recipe = ckpt.recipe
        src_vocab, tgt_vocab = Vocab.from_bytes(ckpt.src_vocab), Vocab.from_bytes(ckpt.tgt_vocab)
        model = build_model(recipe.model.name, recipe.model.config, src_vocab.size, tgt_vocab.size)
        load_weights(model, ckpt)
        fast.for_decoding(model.to(device))
        name, config = decoder_from(recipe, options)
        return cls(model, src_vocab, tgt_vocab, name, config, device)

    @torch.inference_mode()
    def decode_ids(self, sources: list[list[int]]) -> list[list[Hypothesis]]:
        lengths = torch.tensor([len(s) for s in sources], dtype=torch.long)
        src = torch.zeros(len(sources), int(lengths.max()), dtype=torch.long)
        for row, ids in enumerate(sources):
            src[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        decode = DECODERS.get(self.strategy)
        return decode(self.model, src.to(self.device), lengths.to(self.device), self.decode_config)


def _encodable(text: str) -> str:
    """`text` with any lone surrogate as U+FFFD: a Python str may hold one (never text decoded from UTF-8 input),
    and SentencePiece refuses the whole call rather than the character."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _length_batches(order: list[int], encoded: list[list[int]], batch_tokens: int, max_sentences: int = 128):
    batch: list[int] = []
    for i in order:  # `order` is sorted by length, so the last item is the longest
        width = len(encoded[i])
        if batch and (len(batch) + 1) * width > batch_tokens or len(batch) >= max_sentences:
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


__all__ = ["Translator", "ModelTranslator", "Translation", "open_model", "DecodeOptions"]
