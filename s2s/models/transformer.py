"""The Transformer of "Attention Is All You Need" (Vaswani et al. 2017): `transformer`.

Token embeddings scaled by sqrt(d_model) plus fixed sinusoidal positions; an encoder of self-attention and
position-wise feed-forward sublayers; a decoder that adds masked (causal) self-attention and encoder–decoder
attention. Each sublayer sits in a residual connection with layer norm: after it (post-norm, as in the paper) or
before it (`pre_norm`, which trains more stably without warm-up and adds a final norm to each stack).

Attention over whole sequences runs through the fused `scaled_dot_product_attention`; a decoding step's single
query uses `one_query_attention`, which is faster for that shape on the CPU. For incremental decoding `step`
keeps each decoder layer's self-attention keys/values in the state (`k{i}`, `v{i}`: (B, heads, t, d_head)), and
`encode` projects the memory to every layer's encoder–decoder keys/values once (`ck{i}`, `cv{i}` in
`Encoded.extras`), so one step costs one query per layer. `forward_mixed` is the two-pass scheduled sampling of
Mihaylova & Liu (2019).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from s2s import PAD_ID
from s2s.errors import ConfigError
from s2s.models.base import Encoded, Mixer, Seq2Seq, State, StepOutput
from s2s.models.layers import source_mask
from s2s.registry import ARCHITECTURES
from s2s.typed import require


@dataclass(frozen=True)
class TransformerConfig:
    """Encoder–decoder Transformer; the defaults are the paper's base model."""

    d_model: int = 512  # width of every residual stream, embedding and attention output
    heads: int = 8  # attention heads; d_model / heads per head
    ffn: int = 2048  # inner size of the position-wise feed-forward sublayer
    encoder_layers: int = 6
    decoder_layers: int = 6
    dropout: float = 0.1  # on embeddings+positions and on every sublayer's output before the residual sum
    pre_norm: bool = False  # layer norm before each sublayer (and at the end of each stack) instead of after
    tie_embeddings: bool = True  # the output layer reuses the target embedding matrix (Press & Wolf 2017)
    share_embeddings: bool = False  # one embedding matrix for source and target: needs one shared vocabulary
    max_positions: int = 1024  # longest source or target (in subwords) the positional table covers

    def check(self) -> None:
        for name in ("d_model", "heads", "ffn", "encoder_layers", "decoder_layers", "max_positions"):
            require(getattr(self, name) > 0, f"{name}: must be positive")
        require(self.d_model % self.heads == 0, f"heads: must divide d_model ({self.d_model})")
        require(self.d_model % 2 == 0, "d_model: must be even (sine and cosine positions pair up)")
        require(0.0 <= self.dropout < 1.0, "dropout: must be in [0, 1)")


def sinusoids(length: int, dim: int) -> Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...): (length, dim)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (N, 1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (d/2,)
    table = torch.zeros(length, dim)  # (N, d)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


def split_heads(x: Tensor, heads: int) -> Tensor:
    batch, length, dim = x.shape
    return x.view(batch, length, heads, dim // heads).transpose(1, 2)  # (B, h, T, dh)


def merge_heads(x: Tensor) -> Tensor:
    batch, heads, length, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * d_head)  # (B, T, d)


def one_query_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """softmax(q·kᵀ / sqrt(dh)) · v without a causal mask, and the weights: (B, h, n, dh), (B, h, n, t).

    Incremental decoding asks one query per row and head (n = 1), or one per beam of a sentence (n = k). For
    those shapes two batched products beat the fused kernel on the CPU (bench/README.md, "Where the time
    goes"), and they give the weights for display.
    """
    scores = torch.matmul(q, k.transpose(-1, -2)) * q.size(-1) ** -0.5  # (B, h, n, t)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (B, h, n, t)
    return torch.matmul(weights, v), weights


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused q/k/v projection; `past` keys/values extend the keys."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, mask: Tensor | None = None, causal: bool = False,
                past: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Output (B, T, d) and the keys/values attended to, (B, h, t, dh), for the decoder's cache."""
        q, k, v = (split_heads(y, self.heads) for y in self.qkv(x).chunk(3, dim=-1))  # each (B, h, T, dh)
        if past is not None:
            # Only one new query at a time: it may see every cached position, so no mask is needed.
            k = torch.cat([past[0], k], dim=2)  # (B, h, t, dh)
            v = torch.cat([past[1], v], dim=2)  # (B, h, t, dh)
            y, _ = one_query_attention(q, k, v)  # (B, h, 1, dh)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)  # (B, h, T, dh)
        return self.out(merge_heads(y)), k, v  # (B, T, d)


class CrossAttention(nn.Module):
    """Multi-head encoder–decoder attention; the memory side is projected once per batch by `project`."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def project(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        k, v = self.kv(memory).chunk(2, dim=-1)  # each (B, S, d)
        # contiguous once here, so the many decoding steps that read them get dense tensors
        return split_heads(k, self.heads).contiguous(), split_heads(v, self.heads).contiguous()  # (B, h, S, dh)

    def forward(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor, group: int = 1) -> tuple[Tensor, Tensor | None]:
        """Output (R, T, d); when decoding (T = 1), also each head's weights (R, h, 1, S).

        k, v and mask hold B sentences; when decoding, x may hold `group` rows per sentence (R = g * B, a
        sentence's beams): their queries then go together against its keys, one (g, dh) x (dh, S) product per
        sentence and head instead of g products of one row against g copies of the keys.
        """
        rows, length, d_model = x.shape
        if length > 1:
            y = F.scaled_dot_product_attention(split_heads(self.q(x), self.heads), k, v, attn_mask=mask)
            return self.out(merge_heads(y)), None  # (B, T, d)
        q = split_heads(self.q(x).view(rows // group, group, d_model), self.heads)  # (B, h, g, dh)
        y, weights = one_query_attention(q, k, v, mask)  # (B, h, g, dh), (B, h, g, S)
        weights = weights.transpose(1, 2).reshape(rows, self.heads, 1, -1)  # (R, h, 1, S)
        return self.out(merge_heads(y).view(rows, 1, d_model)), weights  # (R, 1, d), (R, h, 1, S)


class Sublayers(nn.Module):
    """Residual wiring shared by both layer kinds: pre-norm x + f(norm(x)) or post-norm norm(x + f(x))."""

    def __init__(self, d_model: int, ffn: int, dropout: float, pre_norm: bool, sublayers: int):
        super().__init__()
        self.pre_norm = pre_norm
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(sublayers))
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn), nn.ReLU(), nn.Linear(ffn, d_model))
        self.dropout = nn.Dropout(dropout)

    def enter(self, x: Tensor, i: int) -> Tensor:
        return self.norms[i](x) if self.pre_norm else x  # (B, T, d) the sublayer's input

    def leave(self, x: Tensor, y: Tensor, i: int) -> Tensor:
        x = x + self.dropout(y)  # (B, T, d)
        return x if self.pre_norm else self.norms[i](x)


class EncoderLayer(Sublayers):
    def __init__(self, c: TransformerConfig):
        super().__init__(c.d_model, c.ffn, c.dropout, c.pre_norm, sublayers=2)
        self.attention = SelfAttention(c.d_model, c.heads)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # x (B, S, d), mask (B, 1, 1, S)
        x = self.leave(x, self.attention(self.enter(x, 0), mask=mask)[0], 0)  # (B, S, d)
        return self.leave(x, self.ffn(self.enter(x, 1)), 1)  # (B, S, d)


class DecoderLayer(Sublayers):
    def __init__(self, c: TransformerConfig):
        super().__init__(c.d_model, c.ffn, c.dropout, c.pre_norm, sublayers=3)
        self.self_attention = SelfAttention(c.d_model, c.heads)
        self.cross_attention = CrossAttention(c.d_model, c.heads)

    def forward(self, x: Tensor, memory_kv: tuple[Tensor, Tensor], mask: Tensor,
                past: tuple[Tensor, Tensor] | None = None, group: int = 1):
        """x (B, T, d) -> (x, self-attention keys, values (B, h, t, dh), cross weights (B, h, 1, S) when T = 1).

        Without `past` the T positions attend causally to each other (teacher forcing); with it T is 1 and x may
        hold `group` rows per sentence of the memory (`CrossAttention`).
        """
        y, k, v = self.self_attention(self.enter(x, 0), causal=past is None and x.size(1) > 1, past=past)
        x = self.leave(x, y, 0)  # (B, T, d)
        y, weights = self.cross_attention(self.enter(x, 1), *memory_kv, mask, group)  # (B, T, d)
        x = self.leave(x, y, 1)  # (B, T, d)
        return self.leave(x, self.ffn(self.enter(x, 2)), 2), k, v, weights  # (B, T, d)


@ARCHITECTURES.register("transformer", config=TransformerConfig)
class Transformer(Seq2Seq):
    """Transformer encoder–decoder (Vaswani et al. 2017) with sinusoidal positions and cached decoding."""

    def __init__(self, config: TransformerConfig, src_vocab: int, tgt_vocab: int):
        super().__init__()
        self.config = c = config
        if c.share_embeddings and src_vocab != tgt_vocab:
            raise ConfigError("model.share_embeddings",
                              f"needs one vocabulary for both sides; got {src_vocab} and {tgt_vocab} entries")
        self.tgt_embedding = nn.Embedding(tgt_vocab, c.d_model, padding_idx=PAD_ID)
        self.src_embedding = self.tgt_embedding if c.share_embeddings \
            else nn.Embedding(src_vocab, c.d_model, padding_idx=PAD_ID)
        self.register_buffer("positions", sinusoids(c.max_positions, c.d_model), persistent=False)  # (N, d)
        self.scale = math.sqrt(c.d_model)
        self.dropout = nn.Dropout(c.dropout)
        self.encoder_layers = nn.ModuleList(EncoderLayer(c) for _ in range(c.encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(c) for _ in range(c.decoder_layers))
        # pre-norm leaves the residual stream unnormalised: each stack ends with its own norm
        self.encoder_norm = nn.LayerNorm(c.d_model) if c.pre_norm else nn.Identity()
        self.decoder_norm = nn.LayerNorm(c.d_model) if c.pre_norm else nn.Identity()
        self.output = nn.Linear(c.d_model, tgt_vocab)
        self._init_weights()
        if c.tie_embeddings:
            self.output.weight = self.tgt_embedding.weight

    @property
    def max_length(self) -> int:
        """`max_positions`: the sinusoid table has no row beyond it, so longer inputs cannot be embedded."""
        return self.positions.size(0)

    def _init_weights(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for embedding in {self.src_embedding, self.tgt_embedding}:
            # N(0, 1/d): after the sqrt(d) scale, embeddings have unit variance, as the positions do
            nn.init.normal_(embedding.weight, std=self.config.d_model ** -0.5)
            with torch.no_grad():
                embedding.weight[PAD_ID].zero_()

    def _embed(self, table: nn.Embedding, tokens: Tensor, start: int) -> Tensor:
        end = start + tokens.size(1)
        if end > self.positions.size(0):
            raise ValueError(f"sequence of {end} positions exceeds model.max_positions={self.positions.size(0)}")
        return self.dropout(table(tokens) * self.scale + self.positions[start:end])  # (B, T, d)

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        src_mask = source_mask(src, src_lengths)  # (B, S)
        attn_mask = src_mask[:, None, None, :]  # (B, 1, 1, S) True = may be attended to
        x = self._embed(self.src_embedding, src, 0)  # (B, S, d)
        for layer in self.encoder_layers:
            x = layer(x, attn_mask)  # (B, S, d)
        memory = self.encoder_norm(x)  # (B, S, d)
        extras = {}
        for i, layer in enumerate(self.decoder_layers):
            extras[f"ck{i}"], extras[f"cv{i}"] = layer.cross_attention.project(memory)  # (B, h, S, dh)
        return Encoded(memory=memory, src_mask=src_mask, extras=extras)

    def decode(self, tgt_in: Tensor, enc: Encoded) -> Tensor:
        """Logits (B, T, V) for whole target inputs (B, T) at once, causally masked: fused attention only."""
        mask = enc.src_mask[:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(self.tgt_embedding, tgt_in, 0)  # (B, T, d)
        for i, layer in enumerate(self.decoder_layers):
            x, _, _, _ = layer(x, (enc.extras[f"ck{i}"], enc.extras[f"cv{i}"]), mask)  # (B, T, d)
        return self.output(self.decoder_norm(x))  # (B, T, V)

    def expand(self, enc: Encoded, k: int) -> Encoded:
        """A sentence's k beams query its one memory together (`CrossAttention`): nothing is copied."""
        return enc.share(k)

    def init_state(self, enc: Encoded) -> State:
        c = self.config
        empty = enc.memory.new_zeros(enc.batch_size, c.heads, 0, c.d_model // c.heads)  # (B, h, 0, dh)
        return {f"{kv}{i}": empty for i in range(c.decoder_layers) for kv in "kv"}

    def step(self, tokens: Tensor, state: State, enc: Encoded) -> StepOutput:  # tokens (R,): B rows, or k per sentence
        mask = enc.src_mask[:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(self.tgt_embedding, tokens.unsqueeze(1), state["k0"].size(2))  # (B, 1, d)
        new_state: State = {}
        for i, layer in enumerate(self.decoder_layers):
            x, new_state[f"k{i}"], new_state[f"v{i}"], weights = layer(
                x, (enc.extras[f"ck{i}"], enc.extras[f"cv{i}"]), mask,
                past=(state[f"k{i}"], state[f"v{i}"]), group=enc.rows_per_sentence)  # (R, 1, d)
        logits = self.output(self.decoder_norm(x[:, 0]))  # (B, V)
        # averaged over heads, and only the last layer's: the one shown
        return StepOutput(logits=logits, state=new_state, attention=weights.mean(dim=1)[:, 0])  # attention (B, S)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        return self.decode(tgt_in, self.encode(src, src_lengths))  # (B, T, V)

    def forward_mixed(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, mix: Mixer) -> Tensor:
        """Two-pass scheduled sampling (Mihaylova & Liu 2019): parallel, unlike step-by-step feeding.

        Pass one reads the gold inputs without gradients; `mix` replaces some of them by its predictions; pass two
        reads the mixture and is the one trained. The first input stays BOS. A gold-only `mix` equals `forward`.
        """
        enc = self.encode(src, src_lengths)
        with torch.no_grad():
            first = self.decode(tgt_in, enc)  # (B, T, V)
        mixed = torch.cat([tgt_in[:, :1], mix(tgt_in[:, 1:], first[:, :-1])], dim=1)  # (B, T)
        return self.decode(mixed, enc)  # (B, T, V)
