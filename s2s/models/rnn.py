"""The encoder–decoder without attention: `rnn`, `lstm` and `gru` (Sutskever et al. 2014; Cho et al. 2014).

The encoder reads the source; its final hidden state (per layer) is the *context vector* that becomes the
decoder's initial state. With `feed_context` the top layer's context is also concatenated to the decoder's input
embedding at every step, as in Cho et al. (2014), so the decoder cannot forget it over a long output.

The three names share one class and one config; the cell type comes from the registered name. Attention-based
decoders are in `attention.py`; decoding strategies in `s2s/decoding/`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from s2s import PAD_ID
from s2s.models.base import Encoded, Seq2Seq, State, StepOutput
from s2s.models.layers import Bridge, Cell, RecurrentEncoder, make_rnn, source_mask, to_layer_first
from s2s.registry import ARCHITECTURES
from s2s.typed import require


@dataclass(frozen=True)
class RNNConfig:
    """Encoder–decoder with a context vector; the cell (rnn, lstm, gru) is the architecture's name."""

    embed: int = 256  # source and target embedding size
    hidden: int = 512  # hidden size of the decoder and of each encoder direction
    layers: int = 2  # layers of the encoder and of the decoder (decoder layer l starts from encoder layer l)
    dropout: float = 0.2  # on embeddings, between layers and before the output layer
    # Encoder reads both ways. The final forward and backward states of each layer are concatenated (2*hidden)
    # and mapped to the decoder's size by a Linear + tanh per layer (for an LSTM, h and c each their own).
    bidirectional: bool = False
    feed_context: bool = False  # also feed the context vector at every decoder step (Cho et al. 2014)

    def check(self) -> None:
        for name in ("embed", "hidden", "layers"):
            require(getattr(self, name) > 0, f"{name}: must be positive")
        require(0.0 <= self.dropout < 1.0, "dropout: must be in [0, 1)")


class RecurrentSeq2Seq(Seq2Seq):
    """Shared by `rnn`, `lstm`, `gru`: subclasses only name the cell."""

    cell: Cell

    def __init__(self, config: RNNConfig, src_vocab: int, tgt_vocab: int):
        super().__init__()
        self.config = c = config
        self.encoder = RecurrentEncoder(self.cell, src_vocab, c.embed, c.hidden, c.layers, c.dropout, c.bidirectional)
        is_lstm = self.cell == "lstm"
        # The bridge exists only when sizes differ: a unidirectional encoder's state *is* the decoder's start.
        self.bridge_h = Bridge(c.layers, 2 * c.hidden, c.layers, c.hidden) if c.bidirectional else None
        self.bridge_c = Bridge(c.layers, 2 * c.hidden, c.layers, c.hidden) if c.bidirectional and is_lstm else None
        self.embedding = nn.Embedding(tgt_vocab, c.embed, padding_idx=PAD_ID)
        decoder_input = c.embed + (c.hidden if c.feed_context else 0)
        self.decoder = make_rnn(self.cell, decoder_input, c.hidden, c.layers, c.dropout)
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(c.hidden, tgt_vocab)

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        memory, h, c = self.encoder(src, src_lengths)  # (B, S, D*H), (B, L, D*H), (B, L, D*H) or None
        if self.bridge_h is not None:
            h = self.bridge_h(h)  # (B, L, H)
            c = self.bridge_c(c) if self.bridge_c is not None else c  # (B, L, H)
        extras = {"h0": h} if c is None else {"h0": h, "c0": c}  # the context vector, one per layer
        return Encoded(memory=memory, src_mask=source_mask(src, src_lengths), extras=extras)

    def init_state(self, enc: Encoded) -> State:
        h0 = enc.extras["h0"]  # (B, L, H)
        return {"h": h0} if "c0" not in enc.extras else {"h": h0, "c": enc.extras["c0"]}

    def _decode(self, tokens: Tensor, state: State, enc: Encoded) -> tuple[Tensor, State]:
        """Logits (B, T, V) for inputs `tokens` (B, T) from `state`: one fused RNN call over all T steps."""
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        if self.config.feed_context:
            context = enc.extras["h0"][:, -1:]  # (B, 1, H) top layer's context vector
            x = torch.cat([x, context.expand(-1, tokens.size(1), -1)], dim=-1)  # (B, T, E+H)
        h = to_layer_first(state["h"])  # (L, B, H)
        hx = (h, to_layer_first(state["c"])) if "c" in state else h
        out, hx = self.decoder(x, hx)  # (B, T, H)
        logits = self.output(self.dropout(out))  # (B, T, V)
        new_state = {"h": hx[0].transpose(0, 1), "c": hx[1].transpose(0, 1)} if isinstance(hx, tuple) \
            else {"h": hx.transpose(0, 1)}  # each (B, L, H)
        return logits, new_state

    def step(self, tokens: Tensor, state: State, enc: Encoded) -> StepOutput:  # tokens (B,)
        logits, state = self._decode(tokens.unsqueeze(1), state, enc)  # (B, 1, V)
        return StepOutput(logits=logits[:, 0], state=state)  # (B, V)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        enc = self.encode(src, src_lengths)
        # Padding after a target's EOS needs no packing: the decoder is causal, so it cannot reach back.
        logits, _ = self._decode(tgt_in, self.init_state(enc), enc)  # (B, T, V)
        return logits


@ARCHITECTURES.register("rnn", config=RNNConfig)
class RNNSeq2Seq(RecurrentSeq2Seq):
    """Encoder–decoder of plain (Elman, tanh) RNNs joined by the context vector."""

    cell = "rnn"


@ARCHITECTURES.register("lstm", config=RNNConfig)
class LSTMSeq2Seq(RecurrentSeq2Seq):
    """Encoder–decoder of LSTMs joined by the context vector (Sutskever et al. 2014)."""

    cell = "lstm"


@ARCHITECTURES.register("gru", config=RNNConfig)
class GRUSeq2Seq(RecurrentSeq2Seq):
    """Encoder–decoder of GRUs joined by the context vector (Cho et al. 2014)."""

    cell = "gru"


__all__ = ["GRUSeq2Seq", "LSTMSeq2Seq", "RNNConfig", "RNNSeq2Seq", "RecurrentSeq2Seq"]
