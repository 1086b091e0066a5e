"""The peers' configurations for bench.quality --peers (bench/quality_peers.py says why each setting is chosen).

Each is the YAML its toolkit reads, written out for the run directory `run` and the pieces directory `d`.
"""

from __future__ import annotations

from pathlib import Path

MAX_PIECES = 100  # s2s's transformer recipe: data.max_len
NOAM_FACTOR = 1e-3 * (256 * 500) ** 0.5  # peak 1e-3 at step 500 for d_model 256


def onmt_config(d: Path, run: Path) -> str:
    return f"""# OpenNMT-py 3.5.1 on bench.quality's ko-en pieces (bench/quality_peers.py says why each setting)
save_data: {run}/vocab
src_vocab: {run}/vocab.shared
share_vocab: true
overwrite: true
data:
    corpus_1:
        path_src: {d}/train.ko
        path_tgt: {d}/train.en
        transforms: [filtertoolong]
    valid:
        path_src: {d}/valid.ko
        path_tgt: {d}/valid.en
src_seq_length: {MAX_PIECES}
tgt_seq_length: {MAX_PIECES}
encoder_type: transformer
decoder_type: transformer
enc_layers: 3
dec_layers: 3
hidden_size: 256
word_vec_size: 256
transformer_ff: 1024
heads: 4
position_encoding: true
dropout: [0.1]
attention_dropout: [0.1]
share_embeddings: true
share_decoder_embeddings: true
seed: 1
world_size: 1
num_workers: 0
save_model: {run}/model
train_steps: 1000000
valid_steps: 100000000
save_checkpoint_steps: 50
keep_checkpoint: 2
report_every: 50
batch_type: tokens
batch_size: 4000
valid_batch_size: 2000
optim: adam
adam_beta1: 0.9
adam_beta2: 0.98
learning_rate: {NOAM_FACTOR:.4f}
decay_method: noam
warmup_steps: 500
max_grad_norm: 0
normalization: tokens
label_smoothing: 0.1
param_init: 0
param_init_glorot: true
"""


def joey_config(d: Path, run: Path) -> str:
    side = lambda lang: f"""        lang: "{lang}"
        level: "word"
        lowercase: False
        max_length: {MAX_PIECES}
        voc_min_freq: 1
        voc_file: "{run}/vocab.txt"
"""
    layers = """        num_layers: 3
        num_heads: 4
        hidden_size: 256
        ff_size: 1024
        dropout: 0.1
        layer_norm: "pre"
        activation: "relu"
        embeddings:
            embedding_dim: 256
            scale: True
            dropout: 0.1
"""
    return f"""# Joey NMT 2.3.0 on bench.quality's ko-en pieces (bench/quality_peers.py says why each setting)
name: "joey_koen"
joeynmt_version: "2.3.0"
model_dir: "{run}/model"
use_cuda: False
fp16: False
random_seed: 1
num_workers: 0
data:
    train: "{d}/train"
    dev: "{d}/valid"
    test: "{d}/test"
    dataset_type: "plain"
    src:
{side("ko")}    trg:
{side("en")}testing:
    n_best: 1
    beam_size: 5
    beam_alpha: 0.6
    batch_size: 2000
    batch_type: "token"
    eval_metrics: ["bleu"]
training:
    optimizer: "adam"
    adam_betas: [0.9, 0.98]
    scheduling: "noam"
    learning_rate_factor: {NOAM_FACTOR:.4f}
    learning_rate_warmup: 500
    learning_rate_min: 1.0e-8
    loss: "crossentropy"
    label_smoothing: 0.1
    normalization: "tokens"
    batch_size: 4000
    batch_type: "token"
    batch_multiplier: 1
    shuffle: True
    epochs: 1000
    updates: 1000000
    logging_freq: 50
    validation_freq: 500
    early_stopping_metric: "bleu"
    keep_best_ckpts: 2
    print_valid_sents: []
    overwrite: True
model:
    initializer: "xavier_uniform"
    bias_initializer: "zeros"
    init_gain: 1.0
    embed_initializer: "xavier_uniform"
    embed_init_gain: 1.0
    tied_embeddings: True
    tied_softmax: True
    encoder:
        type: "transformer"
{layers}    decoder:
        type: "transformer"
{layers}"""
