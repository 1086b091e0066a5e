"""Validation during training: dev loss and perplexity over the whole dev split, and dev BLEU and exact match
(% of sentences whose words all equal the reference's; the convergence criterion of bench/peers.py) by greedy decoding.

BLEU is computed on detokenised text against the references exactly as `prepare` cleaned them, through the same
`Translator` and `metrics.bleu` that `s2s evaluate` uses, so a dev BLEU logged here is the figure evaluate prints.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from s2s import PAD_ID
from s2s.config import Recipe
from s2s.data.dataset import ParallelData, collate, token_batches
from s2s.data.subwords import Vocab
from s2s.errors import S2SError
from s2s.evalset import from_split
from s2s.metrics import bleu
from s2s.models.base import Seq2Seq
from s2s.decoding.options import DecodeOptions, decoder_from
from s2s.translator import ModelTranslator


class Validator:
    def __init__(self, data: ParallelData, sources: list[str], references: list[str], src_vocab: Vocab,
                 tgt_vocab: Vocab, recipe: Recipe, tgt_lang: str):
        self.data, self.sources, self.references = data, sources, references
        self.src_vocab, self.tgt_vocab, self.recipe, self.tgt_lang = src_vocab, tgt_vocab, recipe, tgt_lang
        _, self.greedy = decoder_from(recipe, DecodeOptions("greedy"))  # greedy, within the recipe's length limits

    @classmethod
    def for_split(cls, data_dir: Path, split: str, src: str, tgt: str, src_vocab: Vocab, tgt_vocab: Vocab,
                  recipe: Recipe) -> "Validator":
        data = ParallelData.open(data_dir, split, src, tgt)
        if len(data) == 0:
            raise S2SError(f"{data_dir}: the {split} split is empty; prepare the data with --dev N (N > 0)")
        n = recipe.train.valid_max_sentences
        text = from_split(Path(data_dir), split, src, tgt)
        return cls(data, text.sources[:n], text.references[:n], src_vocab, tgt_vocab, recipe, tgt)

    @torch.no_grad()
    def loss(self, model: Seq2Seq) -> float:
        device = next(model.parameters()).device
        total, tokens = 0.0, 0
        d = self.recipe.data
        # Every dev sentence counts in full unless the model cannot read it: then it is cut to the model's
        # positions (a target also needs one for its BOS), as decoding cuts it.
        limit = model.max_length
        max_len = None if limit is None else max(limit - 1, 1)
        for indices in token_batches(self.data.src_lengths, self.data.tgt_lengths, d.max_tokens, d.batch_size,
                                     seed=0, epoch=0, shuffle=False):
            batch = collate(self.data, indices, max_len=max_len).to(device)
            logits = model(batch.src, batch.src_lengths, batch.tgt_in)  # (B, T, V)
            total += torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)).float(), batch.tgt_out.reshape(-1),
                ignore_index=PAD_ID, reduction="sum").item()
            tokens += batch.num_tgt_tokens
        return total / max(tokens, 1)

    def run(self, model: Seq2Seq) -> dict:
        was_training = model.training
        model.eval()
        try:
            loss = self.loss(model)
            result = {"dev_loss": loss, "dev_ppl": math.exp(min(loss, 50))}
            if self.recipe.train.valid_bleu and self.sources:
                device = str(next(model.parameters()).device)
                translator = ModelTranslator(model, self.src_vocab, self.tgt_vocab, "greedy", self.greedy, device)
                hyps = [t.text for t in translator.translate(self.sources)]
                result["dev_bleu"] = bleu(hyps, self.references, self.tgt_lang).value
                same = sum(h.split() == r.split() for h, r in zip(hyps, self.references))
                result["dev_exact_match"] = 100.0 * same / len(self.references)
            return result
        finally:
            model.train(was_training)
