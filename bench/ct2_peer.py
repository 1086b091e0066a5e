"""CTranslate2 as the peers timed it, live: their converged OpenNMT-py model and s2s's export through one call.

The recorded CTranslate2 figures in `../shared/peers/results.md` (228 sent/s float32, 263 int8) were taken once,
on some earlier minute of this machine, and single 2-second decodes here scatter by +-20% from minute to minute.
So bench.ct2 times them again beside s2s, in the same turns: the peers' own `ct2/decode.py` (whitespace pieces
in, batches of 64, beam 5, at most 60 tokens, no length penalty, 2 threads, in the peers' CTranslate2 venv) on
- OpenNMT-py's converged peer-workload Transformer converted as they converted it (`onmt/configs/
  transformer_conv.yaml` trained to step 3,000, their recorded model; `ct2/convert.sh`), made once (~20 min);
- s2s's export of its converged Transformer, the source cut by the export's own SentencePiece model.
Same engine, same call: the difference between the two is the models; between the second and s2s's
`Translator` over the same export it is s2s's wrapper.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.peers import WORK
from bench.quality_peers import PEERS

ONMT_MODEL = PEERS / "ct2" / "models" / "transformer_conv3000"  # the name the recorded figures carry
CONVERGED_STEP = 3000


def available() -> bool:
    return (PEERS / "ct2" / "venv" / "bin" / "python").exists() and (PEERS / "ct2" / "decode.py").is_file()


def onmt_model() -> Path | None:
    """The converted OpenNMT-py model, made once as the peers made theirs; None without their OpenNMT-py venv."""
    if (ONMT_MODEL / "model.bin").is_file():
        return ONMT_MODEL
    onmt = PEERS / "onmt"
    venv = onmt / "venv" / "bin"
    if not (venv / "onmt_train").exists():
        return None
    config = onmt / "configs" / "transformer_conv.yaml"
    checkpoint = onmt / "runs" / "transformer_conv" / f"model_step_{CONVERGED_STEP}.pt"
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    if not checkpoint.is_file():
        print(f"training OpenNMT-py's peer-workload Transformer to step {CONVERGED_STEP:,} (~20 min, once) ...",
              file=sys.stderr, flush=True)
        subprocess.run([str(venv / "onmt_build_vocab"), "-config", str(config), "-n_sample", "-1"], check=True,
                       capture_output=True, env=env)
        subprocess.run([str(venv / "onmt_train"), "-config", str(config), "-train_steps", str(CONVERGED_STEP)],
                       check=True, capture_output=True, env=env)
    subprocess.run(["bash", str(PEERS / "ct2" / "convert.sh"), str(checkpoint), str(ONMT_MODEL)], check=True,
                   capture_output=True)
    return ONMT_MODEL


def export_source(export: Path, source: Path) -> Path:
    """`source` cut into the export's pieces, one sentence a line, as s2s's `Translator` cuts it."""
    from s2s.data.subwords import Vocab

    vocab = Vocab.load(export / "source.model")
    lines = source.read_text(encoding="utf-8").splitlines()
    out = WORK / f"{export.name}.test.pieces"
    out.write_text("".join(" ".join(vocab.pieces(ids)) + "\n" for ids in vocab.encode_batch(lines)), encoding="utf-8")
    return out


def decode(model: Path, source: Path, references: Path, compute_type: str, target_model: Path | None = None) -> dict:
    """One timed decode by the peers' `decode.py`: sent/s (its own clock, the model loaded) and test exact match
    (no peak memory: the child is the peers' venv's, not one `run_child` measures)."""
    out = WORK / f"raw-{model.name}-{compute_type}.hyp"
    result = subprocess.run([str(PEERS / "ct2" / "venv" / "bin" / "python"), str(PEERS / "ct2" / "decode.py"),
                             str(model), str(source), str(out), "5", compute_type, "2"],
                            check=True, capture_output=True, text=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    hyps = out.read_text(encoding="utf-8").splitlines()
    if target_model is not None:  # s2s's export speaks pieces
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=str(target_model))
        hyps = [sp.decode_pieces(h.split()) for h in hyps]
    refs = references.read_text(encoding="utf-8").splitlines()
    em = 100.0 * sum(h.split() == r.split() for h, r in zip(hyps, refs)) / len(refs)
    return {"sent_s": figures["sent_per_s"], "exact_match": em}
