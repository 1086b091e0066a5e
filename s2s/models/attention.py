"""The recurrent encoder–decoder with attention: `attention` (Bahdanau et al. 2015; Luong et al. 2015).

A (bi)directional encoder keeps a state per source position (the memory). At every step the decoder's top-layer
output h_t is the query: scores over the memory (additive "bahdanau", or Luong's "dot"/"general") give weights
that sum to 1 over the real source positions, the weighted sum is the context c_t, and the attentional state
a_t = tanh(W_c [h_t; c_t]) predicts the next token. With `input_feeding`, a_t is also concatenated to the next
step's input embedding, so the decoder knows what it attended to before (Luong et al. 2015, section 3.3).
This is the layout of Joey NMT's and OpenNMT-py's recurrent decoders: the additive scoring function of Bahdanau,
applied to the decoder's *current* state.

What depends only on the source is computed once in `encode` and returned, never cached on the module: the
bridged initial decoder state and the attention keys (W_k · memory for "bahdanau", W_a · memory for "general").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from s2s import PAD_ID
from s2s.models.base import Encoded, Seq2Seq, State, StepOutput
from s2s.models.layers import Bridge, CellStep, RecurrentEncoder, copy_bridge, make_rnn, source_mask, to_layer_first
from s2s.registry import ARCHITECTURES
from s2s.typed import require

Score = Literal["bahdanau", "dot", "general"]


@dataclass(frozen=True)
class AttentionConfig:
    """Recurrent encoder–decoder with attention over the encoder's states."""

    cell: Literal["lstm", "gru"] = "lstm"  # of the encoder and the decoder
    attention: Score = "bahdanau"  # score: additive MLP (Bahdanau), h·m (dot) or h·W·m (general; Luong)
    embed: int = 256  # source and target embedding size
    encoder_hidden: int = 256  # per direction: the memory is 2*encoder_hidden wide when bidirectional
    encoder_layers: int = 2
    bidirectional: bool = True  # of the encoder
    hidden: int = 512  # decoder hidden size, also the attention and attentional-state size
    decoder_layers: int = 2
    input_feeding: bool = True  # feed the previous attentional state with the next input (Luong et al. 2015)
    # How the encoder's final states start the decoder: "linear" = Linear + tanh per layer (any sizes);
    # "concat" = the final forward/backward states concatenated, as they are (needs memory size == hidden).
    # Either way decoder layer l starts from encoder layer l, or from the top one when the depths differ.
    bridge: Literal["linear", "concat"] = "linear"
    dropout: float = 0.2  # on embeddings, between layers and before the output layer

    @property
    def memory_size(self) -> int:
        return self.encoder_hidden * (2 if self.bidirectional else 1)

    def check(self) -> None:
        for name in ("embed", "encoder_hidden", "encoder_layers", "hidden", "decoder_layers"):
            require(getattr(self, name) > 0, f"{name}: must be positive")
        require(0.0 <= self.dropout < 1.0, "dropout: must be in [0, 1)")
        sizes = f"the memory ({self.memory_size}: encoder_hidden x directions) and hidden ({self.hidden})"
        require(self.attention != "dot" or self.memory_size == self.hidden,
                f"attention: 'dot' needs equal sizes of {sizes}; use 'general' or 'bahdanau'")
        require(self.bridge != "concat" or self.memory_size == self.hidden,
                f"bridge: 'concat' needs equal sizes of {sizes}; use 'linear'")


class Attention(nn.Module):
    """Scores of queries against a memory, masked softmax, context. Keys are projected once per batch."""

    def __init__(self, score: Score, query_size: int, memory_size: int):
        super().__init__()
        self.score = score
        # Bahdanau's v·tanh(W_q q + W_k m); Luong's "general" q·(W_a m). No biases, as in both papers.
        self.key = nn.Linear(memory_size, query_size, bias=False) if score != "dot" else None
        self.query = nn.Linear(query_size, query_size, bias=False) if score == "bahdanau" else None
        self.energy = nn.Linear(query_size, 1, bias=False) if score == "bahdanau" else None

    def keys(self, memory: Tensor) -> Tensor | None:
        """The source-side half of the score, (B, S, H); None for "dot", whose keys are the memory itself."""
        return self.key(memory) if self.key is not None else None

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Unnormalised scores (B, T, S) of queries (B, T, H) against keys (B, S, H)."""
        if self.energy is None:
            return torch.bmm(query, keys.transpose(1, 2))  # (B, T, S) q·m or q·(W_a m)
        return self.energy(torch.tanh(self.additive(query, keys))).squeeze(-1)  # (B, T, S) v·tanh(W_q q + W_k m)

    def additive(self, query: Tensor, keys: Tensor) -> Tensor:
        """Bahdanau's W_q q + W_k m for every query and source position: (B, T, S, H)."""
        return self.query(query).unsqueeze(2) + keys.unsqueeze(1)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Context (B, T, De) and weights (B, T, S) for queries (B, T, H); padding gets weight exactly 0."""
        scores = self.scores(query, keys).masked_fill(~mask.unsqueeze(1), float("-inf"))  # (B, T, S)
        weights = torch.softmax(scores, dim=-1)  # (B, T, S)
        return torch.bmm(weights, memory), weights  # (B, T, De), (B, T, S)


@ARCHITECTURES.register("attention", config=AttentionConfig)
class AttentionSeq2Seq(Seq2Seq):
    """Recurrent encoder–decoder with Bahdanau (additive) or Luong (dot, general) attention and input feeding."""

    def __init__(self, config: AttentionConfig, src_vocab: int, tgt_vocab: int):
        super().__init__()
        self.config = c = config
        self.encoder = RecurrentEncoder(c.cell, src_vocab, c.embed, c.encoder_hidden, c.encoder_layers, c.dropout,
                                        c.bidirectional)
        linear = c.bridge == "linear"
        self.bridge_h = Bridge(c.encoder_layers, c.memory_size, c.decoder_layers, c.hidden) if linear else None
        self.bridge_c = Bridge(c.encoder_layers, c.memory_size, c.decoder_layers, c.hidden) \
            if linear and c.cell == "lstm" else None
        self.embedding = nn.Embedding(tgt_vocab, c.embed, padding_idx=PAD_ID)
        self.decoder = make_rnn(c.cell, c.embed + (c.hidden if c.input_feeding else 0), c.hidden,
                                c.decoder_layers, c.dropout)
        self.attention = Attention(c.attention, c.hidden, c.memory_size)
        self.cell_step = CellStep()  # the decoder one step at a time, for input feeding
        self.combine = nn.Linear(c.hidden + c.memory_size, c.hidden)  # W_c of a_t = tanh(W_c [h_t; c_t])
        self.tanh = nn.Tanh()
        self.dropout = nn.Dropout(c.dropout)
        self.output = nn.Linear(c.hidden, tgt_vocab)

    def _bridge(self, bridge: Bridge | None, h: Tensor) -> Tensor:
        return bridge(h) if bridge is not None else copy_bridge(h, self.config.decoder_layers)  # (B, Ld, H)

    def encode(self, src: Tensor, src_lengths: Tensor) -> Encoded:
        memory, h, c = self.encoder(src, src_lengths)  # (B, S, De), (B, Le, De), (B, Le, De) or None
        extras = {"h0": self._bridge(self.bridge_h, h)}  # (B, Ld, H)
        if c is not None:
            extras["c0"] = self._bridge(self.bridge_c, c)  # (B, Ld, H)
        keys = self.attention.keys(memory)  # (B, S, H) or None
        if keys is not None:
            extras["keys"] = keys
        return Encoded(memory=memory, src_mask=source_mask(src, src_lengths), extras=extras)

    def init_state(self, enc: Encoded) -> State:
        state = {"h": enc.extras["h0"]}  # (B, Ld, H)
        if "c0" in enc.extras:
            state["c"] = enc.extras["c0"]  # (B, Ld, H)
        if self.config.input_feeding:
            state["feed"] = enc.memory.new_zeros(enc.batch_size, self.config.hidden)  # (B, H) no attention yet
        return state

    def expand(self, enc: Encoded, k: int) -> Encoded:
        """A sentence's k beams attend together to its one memory (`_attend`): nothing is copied."""
        return enc.share(k)

    def _attend(self, out: Tensor, enc: Encoded) -> tuple[Tensor, Tensor]:
        """Attentional states (R, T, H) and weights (R, T, S) for decoder outputs `out` (R, T, H).

        R is B, or g = `enc.rows_per_sentence` rows per sentence at a decoding step (T = 1): a sentence's g beams
        then attend as g queries to its one memory, as the T positions of a teacher-forced batch do.
        """
        rows, length, hidden = out.shape
        queries = out.view(enc.batch_size, enc.rows_per_sentence * length, hidden)  # (B, g*T, H)
        keys = enc.extras.get("keys", enc.memory)  # (B, S, H)
        context, weights = self.attention(queries, keys, enc.memory, enc.src_mask)  # (B, g*T, De), (B, g*T, S)
        context, weights = context.view(rows, length, -1), weights.view(rows, length, -1)  # (R, T, De), (R, T, S)
        return self.tanh(self.combine(torch.cat([out, context], dim=-1))), weights  # (R, T, H)

    def _decode(self, tokens: Tensor, state: State, enc: Encoded) -> tuple[Tensor, State, Tensor]:
        """Logits (B, T, V), the state after them and the last step's attention (B, S) for inputs (B, T).

        Without input feeding the decoder RNN runs over all T steps in one fused call and attention is one
        batched product. With it, step t needs a_{t-1}, so the decoder advances a step at a time through
        `CellStep` on the same weights: per step that costs far less, forward and backward, than a one-step call
        of the fused RNN.
        """
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        if not self.config.input_feeding:
            h = to_layer_first(state["h"])  # (L, B, H)
            hx = (h, to_layer_first(state["c"])) if "c" in state else h
            out, hx = self.decoder(x, hx)  # (B, T, H)
            attentional, weights = self._attend(out, enc)  # (B, T, H), (B, T, S)
            new_state = {"h": hx[0].transpose(0, 1), "c": hx[1].transpose(0, 1)} if isinstance(hx, tuple) \
                else {"h": hx.transpose(0, 1)}  # each (B, L, H)
        else:
            layers = self.decoder.all_weights  # per layer [w_ih, w_hh, b_ih, b_hh]
            last = len(layers) - 1
            hs = list(state["h"].unbind(1))  # L x (B, H)
            cs = list(state["c"].unbind(1)) if "c" in state else [None] * len(layers)  # L x (B, H); GRU: None
            feed = state["feed"]  # (B, H)
            steps = []
            for t in range(tokens.size(1)):
                inp = torch.cat([x[:, t], feed], dim=-1)  # (B, E+H)
                for i, params in enumerate(layers):
                    hs[i], cs[i] = self.cell_step(inp, hs[i], cs[i], params)  # (B, H), (B, H) or None
                    inp = hs[i] if i == last else self.dropout(hs[i])  # (B, H) dropout between layers, as in torch
                a, weights = self._attend(inp.unsqueeze(1), enc)  # (B, 1, H), (B, 1, S)
                feed = a[:, 0]  # (B, H)
                steps.append(a)
            attentional = steps[0] if len(steps) == 1 else torch.cat(steps, dim=1)  # (B, T, H)
            new_state = {"h": torch.stack(hs, dim=1), "feed": feed}  # (B, L, H), (B, H)
            if "c" in state:
                new_state["c"] = torch.stack(cs, dim=1)  # (B, L, H)
        logits = self.output(self.dropout(attentional))  # (B, T, V)
        return logits, new_state, weights[:, -1]

    def step(self, tokens: Tensor, state: State, enc: Encoded) -> StepOutput:  # tokens (B,)
        logits, state, weights = self._decode(tokens.unsqueeze(1), state, enc)  # (B, 1, V), _, (B, S)
        return StepOutput(logits=logits[:, 0], state=state, attention=weights)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        enc = self.encode(src, src_lengths)
        logits, _, _ = self._decode(tgt_in, self.init_state(enc), enc)  # (B, T, V)
        return logits
