"""Pieces the recurrent architectures share: the packed recurrent encoder, the bridge to the decoder, masks.

The Transformer's pieces live in `transformer.py`: nothing else uses them. Nothing here knows about
decoding or training; every module is a plain function of its inputs (no state kept between calls).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from s2s import PAD_ID
from s2s.models.linear import Linear, linear

Cell = Literal["rnn", "lstm", "gru"]
_RNN_CLASSES: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def source_mask(src: Tensor, src_lengths: Tensor) -> Tensor:
    """(B, S) bool on `src`'s device, True at the first `src_lengths[b]` positions: the real tokens.

    Taken from the lengths, not from `src != PAD_ID`, so that it always agrees with the packing of the encoder.
    """
    positions = torch.arange(src.size(1), device=src.device)  # (S,)
    return positions < src_lengths.to(src.device).unsqueeze(1)  # (B, S)


def tanh(x: Tensor) -> Tensor:
    """tanh(x) computed as 2·sigmoid(2x) − 1: the same function (to 2e-7), several times faster on the CPU.

    torch 2.13's CPU `tanh` kernel is slow next to its `sigmoid`: on a (320, 17, 256) tensor, 1.9 ms against 0.3 ms
    on this project's 2-core machine (bench/README.md, "Where the time goes"). The attentional state
    a_t = tanh(W_c [h_t; c_t]) is taken at every step, so the attention decoders use this one.
    """
    return torch.sigmoid(2 * x) * 2 - 1


def lstm_cell(x: Tensor, state: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
              ) -> tuple[Tensor, Tensor]:
    """One LSTM step, as `torch.lstm_cell` (same gate order i, f, g, o; same weights): h, c each (B, H).

    On the CPU `torch.lstm_cell` is itself a composite of two `addmm` (MKL), sigmoids and tanh; written out here
    its products go through `linear` (oneDNN when decoding) and its tanh through `tanh`, both faster on this
    machine class, and the attention decoders step through it at every target position.
    """
    h, c = state  # (B, H) each
    i, f, g, o = (linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)).chunk(4, dim=1)  # (B, H) each
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * tanh(g)  # (B, H)
    return torch.sigmoid(o) * tanh(c), c


class Dropout(nn.Module):
    """Inverted dropout, as `nn.Dropout`, with the mask drawn as uniforms >= p instead of by `bernoulli_`.

    torch 2.13's CPU `bernoulli_` takes twice as long as drawing uniforms and comparing, and dropout masks were
    the largest cost after the matrix products in a Transformer training step (bench/README.md, "Where the time
    goes"). Same distribution, same reproducibility from the seed; only the random stream differs.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        # the mask as floats in one buffer: 0 or 1/(1-p); a bool mask cost two more passes to convert and scale
        return x * torch.empty_like(x).uniform_().ge_(self.p).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def make_rnn(cell: Cell, input_size: int, hidden: int, layers: int, dropout: float, bidirectional: bool = False):
    """A batch-first multi-layer `nn.RNN`/`nn.LSTM`/`nn.GRU` (one fused call runs every layer and step)."""
    return _RNN_CLASSES[cell](
        input_size,
        hidden,
        num_layers=layers,
        batch_first=True,
        # between layers only; torch warns when asked for it with a single layer
        dropout=dropout if layers > 1 else 0.0,
        bidirectional=bidirectional,
    )


def to_batch_first(h: Tensor, layers: int, directions: int) -> Tensor:
    """torch's final states (layers*dirs, B, H) as (B, layers, dirs*H): directions concatenated per layer."""
    _, batch, hidden = h.shape
    h = h.view(layers, directions, batch, hidden)  # (L, D, B, H)
    return h.permute(2, 0, 1, 3).reshape(batch, layers, directions * hidden)  # (B, L, D*H)


def to_layer_first(h: Tensor) -> Tensor:
    """A batch-first decoder state (B, L, H) as the (L, B, H) that torch's recurrent modules take."""
    return h.transpose(0, 1).contiguous()  # (L, B, H)


class RecurrentEncoder(nn.Module):
    """Embeddings and a (bi)directional multi-layer RNN run over packed sequences.

    Packing (`enforce_sorted=False`) means a sentence's states never see its padding, so its encoding does not
    depend on what it is batched with, and the final state is the one after its last real token: the context
    vector of Sutskever et al. (2014) and Cho et al. (2014).
    """

    def __init__(self, cell: Cell, vocab: int, embed: int, hidden: int, layers: int, dropout: float,
                 bidirectional: bool):
        super().__init__()
        self.cell, self.layers, self.directions = cell, layers, 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab, embed, padding_idx=PAD_ID)
        self.dropout = Dropout(dropout)
        self.rnn = make_rnn(cell, embed, hidden, layers, dropout, bidirectional)
        self.output_size = self.directions * hidden

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Memory (B, S, D*H); final h and, for an LSTM, final c, each (B, layers, D*H)."""
        x = self.dropout(self.embedding(src))  # (B, S, E)
        packed = pack_padded_sequence(x, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, final = self.rnn(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))  # (B, S, D*H)
        h, c = final if isinstance(final, tuple) else (final, None)  # each (L*D, B, H)
        h = to_batch_first(h, self.layers, self.directions)  # (B, L, D*H)
        if c is not None:
            c = to_batch_first(c, self.layers, self.directions)  # (B, L, D*H)
        return memory, h, c


class Bridge(nn.Module):
    """Encoder final states (B, Le, De) -> decoder initial states (B, Ld, H) through Linear + tanh per layer.

    Decoder layer l starts from encoder layer l when the layer counts match, else every decoder layer starts from
    the encoder's top layer (as Joey NMT does). Each decoder layer has its own Linear because layers hold different
    kinds of features.
    """

    def __init__(self, encoder_layers: int, encoder_size: int, decoder_layers: int, hidden: int):
        super().__init__()
        self.same_depth = encoder_layers == decoder_layers
        self.decoder_layers = decoder_layers
        self.linears = nn.ModuleList(Linear(encoder_size, hidden) for _ in range(decoder_layers))

    def forward(self, h: Tensor) -> Tensor:  # h (B, Le, De)
        source = h if self.same_depth else h[:, -1:].expand(-1, self.decoder_layers, -1)  # (B, Ld, De)
        return torch.stack([tanh(lin(source[:, i])) for i, lin in enumerate(self.linears)], dim=1)  # (B, Ld, H)


def copy_bridge(h: Tensor, decoder_layers: int) -> Tensor:
    """The parameter-free bridge: the encoder's final states as they are (sizes must already match)."""
    if h.size(1) == decoder_layers:
        return h  # (B, L, H)
    return h[:, -1:].expand(-1, decoder_layers, -1).contiguous()  # (B, Ld, H)
