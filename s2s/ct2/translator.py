"""`ExportedTranslator`: the `Translator` interface over CTranslate2, for directories made by `s2s export`.

Everything but the search is the base class's (encoding, batching by length, detokenising, streaming), so an
exported model reads and writes text exactly as its run does. The search maps s2s's decoders onto
`ctranslate2.Translator.translate_batch`:
- greedy and beam search from `<s>`, PAD and BOS never produced, EOS not before `min_len`; scores are the
  model's log-probabilities of the tokens and EOS (CTranslate2 takes PAD, BOS and an early EOS out before its
  softmax, s2s after: where a model gives them no mass, as a trained one does, the two agree to rounding);
- the length limit floor(max_len_a * S + max_len_b) per sentence: CTranslate2 takes one limit per call, so a
  batch is searched under its longest and the few sentences whose output ran past their own are searched again
  under theirs. At its limit s2s forces EOS on every live hypothesis; CTranslate2 stops them instead. So it is
  given one step more, and a hypothesis it did not end within the limit is cut there and scored again with EOS
  (`score_batch`), as s2s scores it. Greedy, that is exactly s2s's output. In beam search CTranslate2 keeps the K
  best continuations at that last step, which can leave out a beam s2s would end there: with a limit most
  sentences reach (3 tokens) the best hypotheses agreed on 163 of 200 sentences in tests/test_export.py, with the
  usual limits on all 200;
- GNMT's length penalty ((5 + |Y|) / 6) ** alpha, which CTranslate2 does not have (it divides by |Y| ** alpha):
  with alpha > 0 it returns the beam's hypotheses by raw score and they are ranked here, as s2s ranks them.
  The search itself is the same (live beams are ranked by raw score in both); when it stops may differ, so the
  best hypothesis can too, rarely: bench/ct2.py measures how often;
- sampling with temperature, top-k and top-p through CTranslate2's own sampler and random generator
  (`seed` seeds it), so the draws differ from s2s's.
Attention weights are not returned: `s2s translate --attention` needs the run (refused in `s2s.translate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

from s2s import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS
from s2s.config import recipe_from_dict
from s2s.ct2 import require_ctranslate2
from s2s.ct2.manifest import MANIFEST, Export
from s2s.data.subwords import Vocab
from s2s.decoding import Hypothesis, length_penalty, max_lengths
from s2s.decoding.options import DecodeOptions, decoder_from
from s2s.errors import S2SError
from s2s.translator import Translator

EOS_PIECE = SPECIAL_TOKENS[EOS_ID]
NEVER = [[SPECIAL_TOKENS[PAD_ID]], [SPECIAL_TOKENS[BOS_ID]]]  # suppress_sequences: tokens never produced


class ExportedTranslator(Translator):
    """Translates with a `ctranslate2.Translator` over an exported directory."""

    def __init__(self, engine: Any, src_vocab: Vocab, tgt_vocab: Vocab, strategy: str, decode_config: Any,
                 max_positions: int, max_src_len: int = 512, batch_tokens: int = 4096):
        super().__init__(src_vocab, tgt_vocab, strategy, decode_config, max_positions, max_src_len, batch_tokens)
        self.engine = engine
        self.max_positions = max_positions
        self.piece_ids = {piece: i for i, piece in enumerate(tgt_vocab.pieces(range(tgt_vocab.size)))}

    @classmethod
    def from_export(cls, export: Export, options: Optional[DecodeOptions] = None,
                    device: str = "cpu") -> "ExportedTranslator":
        directory = Path(export.path)
        ctranslate2 = require_ctranslate2(f"{directory}: a CTranslate2 model, so translating with it")
        name, config = decoder_from(recipe_from_dict(export.recipe, name=str(directory / MANIFEST)), options)
        src_vocab = Vocab.load(directory / export.src_vocab)
        tgt_vocab = src_vocab if export.tgt_vocab == export.src_vocab else Vocab.load(directory / export.tgt_vocab)
        kind, _, index = device.partition(":")
        try:
            # as many threads as torch would use: OMP_NUM_THREADS, else the cores
            engine = ctranslate2.Translator(str(directory), device=kind, device_index=int(index or 0),
                                            intra_threads=torch.get_num_threads())
        except (RuntimeError, ValueError, OSError) as err:
            raise S2SError(f"{directory}: CTranslate2 cannot load it: {str(err).splitlines()[0][:200]}") from None
        if name == "sample" and config.seed is not None:
            ctranslate2.set_random_seed(config.seed)
        return cls(engine, src_vocab, tgt_vocab, name, config, export.max_positions)

    def decode_ids(self, sources: list[list[int]]) -> list[list[Hypothesis]]:
        lengths = torch.tensor([len(s) for s in sources])
        limits = max_lengths(self.decode_config, lengths, self.max_positions).tolist()
        found = self._search(sources, max(limits))
        again = [i for i, nbest in enumerate(found) if any(len(h.tokens) > limits[i] for h in nbest)]
        for limit in sorted({limits[i] for i in again}):
            rows = [i for i in again if limits[i] == limit]
            for i, nbest in zip(rows, self._search([sources[i] for i in rows], limit)):
                found[i] = nbest
        return found

    def _search(self, sources: list[list[int]], limit: int) -> list[list[Hypothesis]]:
        """Each source's hypotheses, best first, with at most `limit` tokens before EOS."""
        cfg, pieces = self.decode_config, [self.src_vocab.pieces(s) for s in sources]
        alpha = getattr(cfg, "length_penalty", 0.0)
        # One step more than s2s takes: what CTranslate2 does not end there is what s2s ends with a forced EOS
        results = self.engine.translate_batch(
            pieces, max_decoding_length=limit + 1, min_decoding_length=min(cfg.min_len, limit), max_input_length=0,
            suppress_sequences=NEVER, length_penalty=0.0, return_scores=True, return_end_token=True,
            **self._strategy_options(alpha))
        found: list[dict[tuple[str, ...], Optional[float]]] = []
        for r in results:
            hyps: dict[tuple[str, ...], Optional[float]] = {}
            for tokens, score in zip(r.hypotheses, r.scores):
                ended = bool(tokens) and tokens[-1] == EOS_PIECE
                hyps.setdefault(tuple(tokens[:-1] if ended else tokens[:limit]), score if ended else None)
            found.append(hyps)
        cut = [(i, tokens) for i, hyps in enumerate(found) for tokens, score in hyps.items() if score is None]
        if cut:  # scored with the EOS s2s forces, as s2s scores them
            rescored = self.engine.score_batch([pieces[i] for i, _ in cut], [list(t) for _, t in cut],
                                               max_input_length=0)
            for (i, tokens), r in zip(cut, rescored):
                found[i][tokens] = sum(r.log_probs)  # the tokens' and EOS's log-probabilities
        out = []
        for hyps in found:
            ranked = [Hypothesis([self.piece_ids[t] for t in tokens], score,
                                 score / length_penalty(len(tokens) + 1, alpha)) for tokens, score in hyps.items()]
            out.append(sorted(ranked, key=lambda h: -h.normalized_score)[:getattr(cfg, "nbest", 1)])
        return out

    def _strategy_options(self, alpha: float) -> dict:
        cfg = self.decode_config
        if self.strategy == "beam":
            # The 1-best by raw score is s2s's as soon as CTranslate2 has it (it then stops). With GNMT's penalty,
            # or for an n-best list, it collects a whole beam of ended hypotheses, ranked here.
            whole = alpha > 0 or cfg.nbest > 1
            return {"beam_size": cfg.beam_size, "num_hypotheses": cfg.beam_size if whole else 1}
        if self.strategy == "sample":
            return {"beam_size": 1, "num_hypotheses": cfg.nbest, "sampling_topk": cfg.top_k,
                    "sampling_topp": cfg.top_p, "sampling_temperature": cfg.temperature}
        return {"beam_size": 1}
