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

Cell = Literal["rnn", "lstm", "gru"]
_RNN_CLASSES: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def source_mask(src: Tensor, src_lengths: Tensor) -> Tensor:
    """(B, S) bool on `src`'s device, True at the first `src_lengths[b]` positions: the real tokens.

    Taken from the lengths, not from `src != PAD_ID`, so that it always agrees with the packing of the encoder.
    """
    positions = torch.arange(src.size(1), device=src.device)  # (S,)
    return positions < src_lengths.to(src.device).unsqueeze(1)  # (B, S)


class CellStep(nn.Module):
    """One time step of one layer of a fused `nn.LSTM`/`nn.GRU`, on that layer's own weights.

    A decoder whose next input needs this step's output (input feeding) cannot make the fused call over all steps;
    `torch.lstm_cell` and `torch.gru_cell` compute the same layer one step at a time. `c` is None for a GRU.
    """

    def forward(self, x: Tensor, h: Tensor, c: Tensor | None, weights: list[Tensor]) -> tuple[Tensor, Tensor | None]:
        if c is None:
            return torch.gru_cell(x, h, *weights), None  # (B, H)
        return torch.lstm_cell(x, (h, c), *weights)  # (B, H), (B, H)


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
        self.dropout = nn.Dropout(dropout)
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
        self.linears = nn.ModuleList(nn.Linear(encoder_size, hidden) for _ in range(decoder_layers))
        self.tanh = nn.Tanh()

    def forward(self, h: Tensor) -> Tensor:  # h (B, Le, De)
        source = h if self.same_depth else h[:, -1:].expand(-1, self.decoder_layers, -1)  # (B, Ld, De)
        return torch.stack([self.tanh(lin(source[:, i])) for i, lin in enumerate(self.linears)], dim=1)  # (B, Ld, H)


def copy_bridge(h: Tensor, decoder_layers: int) -> Tensor:
    """The parameter-free bridge: the encoder's final states as they are (sizes must already match)."""
    if h.size(1) == decoder_layers:
        return h  # (B, L, H)
    return h[:, -1:].expand(-1, decoder_layers, -1).contiguous()  # (B, Ld, H)
