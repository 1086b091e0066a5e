"""An s2s Transformer's weights as a CTranslate2 `TransformerSpec`: the mapping, layer by layer, and nothing else.

What makes the two compute the same function (checked by tests/test_export.py against s2s's own decoder):
- embeddings times sqrt(d_model) plus the sinusoidal table, from position 0 on both sides (`scale_embeddings`, and
  `position_encodings` set to s2s's own table: CTranslate2's built-in one puts every sine before every cosine,
  s2s interleaves them);
- each sublayer's layer norm before it (pre-norm, with a final norm per stack) or after the residual sum
  (post-norm), with torch's epsilon, 1e-5 (CTranslate2 assumes 1e-6 unless told);
- self-attention's fused q/k/v projection and cross-attention's fused k/v projection, in s2s's order;
- the output layer (the target embedding when tied: the spec stores one copy of a weight used twice);
- decoding from `<s>` over a source without BOS or EOS, as s2s trains.
Not here: writing the directory (`s2s.ct2.export`), decoding (`s2s.ct2.translator`).
"""

from __future__ import annotations

import numpy as np
import torch

from s2s.models.transformer import TransformerConfig, sinusoids

LAYER_NORM_EPSILON = 1e-5  # torch.nn.LayerNorm's default, which s2s's norms use


def transformer_spec(config: TransformerConfig, state: dict[str, torch.Tensor], src_pieces: list[str],
                     tgt_pieces: list[str]):
    """A validated `ctranslate2.specs.TransformerSpec` holding the weights `state` of a Transformer of `config`."""
    from ctranslate2.specs import TransformerSpec

    weights = {name: tensor.detach().float().cpu().numpy() for name, tensor in state.items()}
    spec = TransformerSpec.from_config((config.encoder_layers, config.decoder_layers), config.heads,
                                       pre_norm=config.pre_norm)
    spec.config.layer_norm_epsilon = LAYER_NORM_EPSILON
    positions = sinusoids(config.max_positions, config.d_model).numpy()  # (N, d)
    _input(spec.encoder, spec.encoder.embeddings[0], weights["src_embedding.weight"], positions)
    _input(spec.decoder, spec.decoder.embeddings, weights["tgt_embedding.weight"], positions)
    for i, layer in enumerate(spec.encoder.layer):
        at = f"encoder_layers.{i}."
        _self_attention(layer.self_attention, weights, at + "attention.", at + "norms.0.")
        _ffn(layer.ffn, weights, at, at + "norms.1.")
    for i, layer in enumerate(spec.decoder.layer):
        at = f"decoder_layers.{i}."
        _self_attention(layer.self_attention, weights, at + "self_attention.", at + "norms.0.")
        _cross_attention(layer.attention, weights, at + "cross_attention.", at + "norms.1.")
        _ffn(layer.ffn, weights, at, at + "norms.2.")
    if config.pre_norm:
        _norm(spec.encoder.layer_norm, weights, "encoder_norm.")
        _norm(spec.decoder.layer_norm, weights, "decoder_norm.")
    _linear(spec.decoder.projection, weights, "output.")
    spec.register_source_vocabulary(src_pieces)
    spec.register_target_vocabulary(tgt_pieces)
    spec.validate()
    return spec


def _input(stack, embeddings, table: np.ndarray, positions: np.ndarray) -> None:
    embeddings.weight = table  # (V, d)
    stack.scale_embeddings = True  # times sqrt(d_model)
    stack.position_encodings.encodings = positions  # (N, d)


def _linear(spec, weights: dict, at: str) -> None:
    spec.weight = weights[at + "weight"]  # (out, in), as torch stores it
    spec.bias = weights[at + "bias"]


def _norm(spec, weights: dict, at: str) -> None:
    spec.gamma = weights[at + "weight"]
    spec.beta = weights[at + "bias"]


def _self_attention(spec, weights: dict, at: str, norm: str) -> None:
    _linear(spec.linear[0], weights, at + "qkv.")  # q, k, v stacked: the fused projection both expect
    _linear(spec.linear[1], weights, at + "out.")
    _norm(spec.layer_norm, weights, norm)


def _cross_attention(spec, weights: dict, at: str, norm: str) -> None:
    _linear(spec.linear[0], weights, at + "q.")
    _linear(spec.linear[1], weights, at + "kv.")  # k, v stacked
    _linear(spec.linear[2], weights, at + "out.")
    _norm(spec.layer_norm, weights, norm)


def _ffn(spec, weights: dict, at: str, norm: str) -> None:
    _linear(spec.linear_0, weights, at + "ffn.0.")
    _linear(spec.linear_1, weights, at + "ffn.2.")  # ffn.1 is the ReLU, CTranslate2's default activation
    _norm(spec.layer_norm, weights, norm)
