"""The one interface every architecture implements, and nothing else.

Decoding strategies (`s2s/decoding/`) and the training loop (`s2s/train.py`) talk to a model only through
these methods, so neither ever asks which architecture it drives:

- `encode(src, src_lengths) -> Encoded`: run the encoder once per batch. Everything the decoder reuses at every
  step (memory, mask, pre-computed attention keys, cross-attention keys/values) is *returned* here, never cached
  on `self`, so a module keeps no hidden state between calls.
- `init_state(enc) -> State`: the decoder's state before the first step.
- `step(tokens, state, enc) -> StepOutput`: one decoding step for a batch of previous tokens, one row per row of
  `enc`, or `enc.rows_per_sentence` rows per sentence (rows i*g .. i*g+g-1 belong to sentence i).
- `expand(enc, k) -> Encoded`: the encoding that k rows per sentence (a sentence's beams) step against. The
  default repeats each sentence's tensors k times; a model whose `step` can read a sentence's k rows against its
  one encoding (the attention models: k queries to one memory) returns it as it is, with `rows_per_sentence` k,
  so beam search copies nothing.
- `reorder(state, index) -> State`: select/duplicate decoder rows (beam search, finished sentences).
- `forward(src, src_lengths, tgt_in) -> logits`: the teacher-forced pass used in training.
- `max_length -> Optional[int]`: the most positions the model can encode or decode (a source's subwords; a
  target's BOS plus its tokens); None for no limit. Decoders and the translator read it here, so none of them
  asks which architecture has a positional table.
- `forward_mixed(src, src_lengths, tgt_in, mix) -> logits`: scheduled sampling; `mix(gold, logits)` picks the
  next inputs. The default feeds the model step by step (right for recurrent decoders); the Transformer
  overrides it with the two-pass scheme.

Conventions: tensors are batch-first; ids follow `s2s.PAD_ID/UNK_ID/BOS_ID/EOS_ID`; `src` holds no BOS/EOS
(the encoder sees the bare subwords), `tgt_in` starts with BOS. Every tensor in `Encoded` and `State` has the
batch on dim 0, so `Encoded.select` and the default `reorder` and `expand` work for every architecture.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import torch
from torch import Tensor, nn

# A decoder state: named tensors, each with the batch on dim 0 (e.g. LSTM h as (B, layers, H)).
State = dict[str, Tensor]

# mix(gold_next_inputs, logits_that_predicted_them) -> next inputs. Shapes (...,) and (..., V).
Mixer = Callable[[Tensor, Tensor], Tensor]


@dataclass
class Encoded:
    """What the encoder hands the decoder. `extras` holds per-architecture tensors (batch on dim 0)."""

    memory: Tensor  # (B, S, H) encoder outputs
    src_mask: Tensor  # (B, S) bool, True at real (non-pad) source positions
    extras: dict[str, Tensor] = field(default_factory=dict)
    # decoder rows that `step` reads against each row here in place: a sentence's beams (`Seq2Seq.expand`)
    rows_per_sentence: int = 1

    def select(self, index: Tensor) -> "Encoded":
        """Rows `index` of every tensor: to repeat sentences or to drop finished ones."""
        return Encoded(
            memory=self.memory.index_select(0, index),
            src_mask=self.src_mask.index_select(0, index),
            extras={k: v.index_select(0, index) for k, v in self.extras.items()},
            rows_per_sentence=self.rows_per_sentence,
        )

    def repeat(self, k: int) -> "Encoded":
        """Each sentence's rows k times in a row: a copy for each of k decoder rows."""
        return self.select(torch.arange(self.batch_size, device=self.memory.device).repeat_interleave(k))

    def share(self, k: int) -> "Encoded":
        """The same tensors, read in place by k decoder rows per sentence (`step` groups them by sentence)."""
        return replace(self, rows_per_sentence=self.rows_per_sentence * k)

    def keep(self, sentences: Tensor, rows: int) -> "Encoded":
        """The encoding of `sentences` (b,) alone, for a decoder that steps `rows` rows per sentence."""
        copies = rows // self.rows_per_sentence  # each sentence's tensors appear this many times in a row
        if copies == 1:
            return self.select(sentences)
        offsets = torch.arange(copies, device=sentences.device)  # (c,)
        return self.select((sentences.unsqueeze(1) * copies + offsets).view(-1))  # (b*c,)

    @property
    def batch_size(self) -> int:
        return self.memory.size(0)


@dataclass
class StepOutput:
    logits: Tensor  # (B, V) unnormalised scores for the next token
    state: State
    attention: Optional[Tensor] = None  # (B, S) weights over source positions, for models that have them


class Seq2Seq(nn.Module):
    """Base class of every architecture. Subclasses set `self.config` and implement the abstract methods."""

    config: object

    @property
    def max_length(self) -> Optional[int]:
        """The longest source, and the longest BOS + target, the model can read; None: any length.

        Recurrent models carry a state, not a position table, so the default is None.
        """
        return None

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:  # src (B, S), src_lengths (B,)
        raise NotImplementedError

    def init_state(self, enc: Encoded) -> State:
        raise NotImplementedError

    def expand(self, enc: Encoded, k: int) -> Encoded:
        """The encoding for k decoder rows per sentence: by default k copies of each sentence's tensors."""
        return enc.repeat(k)

    def step(self, tokens: Tensor, state: State, enc: Encoded) -> StepOutput:  # tokens (B,)
        raise NotImplementedError

    def reorder(self, state: State, index: Tensor) -> State:
        """Rows `index` of the state. Works for any state that keeps the batch on dim 0."""
        return {k: v.index_select(0, index) for k, v in state.items()}

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V) for target inputs `tgt_in` (B, T) that start with BOS."""
        raise NotImplementedError

    def forward_mixed(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, mix: Mixer) -> Tensor:
        """Scheduled sampling, step by step: the input at t+1 is `mix(gold_{t+1}, logits_t)`.

        With a `mix` that always returns the gold token this equals `forward` (tested).
        """
        enc = self.encode(src, src_lengths)
        state = self.init_state(enc)
        inputs = tgt_in[:, 0]  # (B,) BOS
        all_logits = []
        for t in range(tgt_in.size(1)):
            out = self.step(inputs, state, enc)
            state = out.state
            all_logits.append(out.logits)
            if t + 1 < tgt_in.size(1):
                inputs = mix(tgt_in[:, t + 1], out.logits.detach())
        return torch.stack(all_logits, dim=1)  # (B, T, V)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_model(arch: str, config: object, src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    """The registered architecture `arch` built from its config dataclass and the vocabulary sizes."""
    from s2s.registry import ARCHITECTURES
    import s2s.models  # noqa: F401  (fills the registry)

    cls = ARCHITECTURES.get(arch)
    return cls(config, src_vocab, tgt_vocab)


__all__ = ["Encoded", "StepOutput", "State", "Mixer", "Seq2Seq", "build_model"]
