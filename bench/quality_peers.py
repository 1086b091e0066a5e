"""OpenNMT-py 3.5.1 and Joey NMT 2.3.0 on bench.quality's work: same splits, subwords, model size and hour.

    python -m bench.quality --peers                # both peers, one hour each, then scored
    python -m bench.quality --peers --only onmt    # one of them

Each peer gets what a competent user of that toolkit would choose for one hour on this data, written here and on
the results page:
- the same data: the ko-en directory bench.quality trains s2s on, its train/dev/test text cut into pieces by its
  own SentencePiece model (`spm.model`, joint 8k) and handed to the peer as whitespace-separated "words", one
  joint vocabulary for both sides (OpenNMT-py builds it with `onmt_build_vocab`, Joey NMT reads the pieces), pairs
  over 100 pieces dropped as s2s drops them;
- the same model: Transformer 3+3 layers, d_model 256, 4 heads, FFN 1,024, pre-norm, dropout 0.1, sinusoidal
  positions, one embedding matrix for source, target and output (s2s's `tie_embeddings` + `share_embeddings`);
- the same optimisation changes s2s got for the hour: 4,000-token batches, Noam schedule with a 500-step warm-up
  to a peak of 1e-3 (each toolkit's Noam rate is factor x d^-0.5 x min(step^-0.5, step x warmup^-1.5), so factor
  = 1e-3 x sqrt(256 x 500) = 0.358), Adam (0.9, 0.98), label smoothing 0.1; each toolkit's documented defaults
  for the rest (OpenNMT-py: Glorot init, no gradient clipping; Joey NMT: Xavier init, no clipping);
- the same hour of training: the peers have no time budget, so the run is interrupted when its training time
  reaches the budget. OpenNMT-py validates nothing and saves every 50 steps (at most ~2 minutes lost at the
  cut); Joey NMT saves on Ctrl-C, and validates every 500 steps on 300 dev sentences (as s2s does, every 250),
  its validation time added to its deadline as s2s leaves validation out of its budget;
- the same scoring: the peer's last checkpoint (s2s scores its best by dev BLEU, which at one hour has been its
  last: the models still improve when the hour ends) decodes the
  full dev and test splits greedy and with beam 5, length penalty 0.6 (GNMT's, which both implement), each
  toolkit's own length limit (Joey NMT: its default, 1.5x the longest source in a batch, close to s2s's 1.5 S +
  10 per sentence; OpenNMT-py: 200 pieces, as it has no limit relative to the source), the
  pieces are joined by the same SentencePiece model and scored by `s2s.metrics` (the sacrebleu call
  `s2s evaluate` makes).

The peers' environments come from `../shared/peers/setup.sh` (`$S2S_PEERS`, default /tmp/s2s-peers); without them
the peers are skipped with a message.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.common import CACHE
from bench.peer_configs import joey_config, onmt_config

PEERS = Path(os.environ.get("S2S_PEERS", "/tmp/s2s-peers"))
WORK = CACHE / "quality" / "peers"
TOOLS = ("onmt", "joey")
NAMES = {"onmt": "OpenNMT-py 3.5.1", "joey": "Joey NMT 2.3.0"}
VALID_SENTENCES = 300  # s2s's train.valid_max_sentences


def available(tool: str) -> bool:
    return (PEERS / tool / "venv" / "bin" / "python").exists()


def pieces(data: Path) -> Path:
    """The data directory's splits as whitespace-separated SentencePiece pieces (once), for the peers."""
    import sentencepiece

    out = WORK / "data"
    if (out / "done").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    sp = sentencepiece.SentencePieceProcessor(model_file=str(data / "spm.model"))
    for split in ("train", "dev", "test"):
        for lang in ("ko", "en"):
            lines = (data / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()
            # By id, so that a character the model does not know is `<unk>` for the peers as it is for s2s.
            cut = [" ".join(map(sp.id_to_piece, ids)) for ids in sp.encode(lines)]
            (out / f"{split}.{lang}").write_text("\n".join(cut) + "\n", encoding="utf-8")
            if split == "dev":  # the validation subset, as s2s validates on the first 300 dev sentences
                (out / f"valid.{lang}").write_text("\n".join(cut[:VALID_SENTENCES]) + "\n", encoding="utf-8")
    (out / "done").touch()
    return out


# ---- training: the hour, cut from outside ----------------------------------------------------------------------

# The line each toolkit logs when its training loop starts (the clock starts there, as s2s's max_time counts
# training only), and Joey NMT's validation time (added to its deadline, as s2s leaves validation out).
LOOP_STARTS = {"onmt": "Start training loop", "joey": "EPOCH 1"}
# Joey's own "[sec]" figure on that line leaves the decoding out (0.07 s for a validation that took 12 minutes), so
# a validation is timed from the log's stamps, "Predicting" to "Evaluation result".
JOEY_STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) - INFO - joeynmt\.prediction - "


def joey_validation(text: str) -> tuple[float, bool]:
    """Seconds Joey NMT's finished validations took, by its log's stamps, and whether one is running now."""
    from datetime import datetime

    stamps = lambda what: [datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f").timestamp()
                           for s in re.findall(JOEY_STAMP + what, text, re.M)]
    starts, ends = stamps("Predicting"), stamps("Evaluation result")
    return sum(e - s for s, e in zip(starts, ends)), len(starts) > len(ends)


def setup(tool: str, d: Path) -> Path:
    """Write the peer's configuration (and vocabulary) into its run directory, fresh."""
    import shutil

    run = WORK / tool
    if run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True)
    venv = PEERS / tool / "venv" / "bin"
    if tool == "onmt":
        (run / "config.yaml").write_text(onmt_config(d, run))
        subprocess.run([str(venv / "onmt_build_vocab"), "-config", str(run / "config.yaml"), "-n_sample", "-1"],
                       check=True, capture_output=True)
    else:
        (run / "config.yaml").write_text(joey_config(d, run))
        vocab = sorted({p for name in ("train.ko", "train.en") for line in (d / name).open(encoding="utf-8")
                        for p in line.split()})
        (run / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return run


def train_command(tool: str, run: Path) -> list[str]:
    venv = PEERS / tool / "venv" / "bin"
    if tool == "onmt":
        return [str(venv / "onmt_train"), "-config", str(run / "config.yaml")]
    return [str(venv / "python"), "-m", "joeynmt", "train", str(run / "config.yaml"), "--skip-test"]


def train(tool: str, budget_s: float) -> dict:
    """Train until the training time reaches the budget, then interrupt; returns the times and the load."""
    from bench.common import LoadSampler, load_figures

    run = WORK / tool
    (run / "load-before.txt").write_text(f"{os.getloadavg()[0]:.2f}\n")
    (run / "load-during.txt").touch()
    log_path = run / "train.log"
    sampler = LoadSampler(run / "load-during.txt")
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", "GOMP_SPINCOUNT": "300000"}  # as s2s's rows
    started, loop_started, validation_s = time.monotonic(), None, 0.0
    with log_path.open("w") as log:
        # Ctrl-C must reach Joey NMT as KeyboardInterrupt even when this bench runs in the background (a shell
        # starts background jobs with SIGINT ignored, and Python then installs no handler for it).
        child = subprocess.Popen(train_command(tool, run), stdout=log, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        sampler.start()
        while child.poll() is None:
            time.sleep(2)
            text = log_path.read_text(errors="replace")
            if loop_started is None and LOOP_STARTS[tool] in text:
                loop_started = time.monotonic()
            if tool == "joey":
                validation_s, validating = joey_validation(text)
            else:
                validating = False
            if (loop_started is not None and not validating
                    and time.monotonic() - loop_started >= budget_s + validation_s):
                if tool == "joey":  # Joey NMT saves the weights on Ctrl-C
                    child.send_signal(signal.SIGINT)
                    try:
                        child.wait(timeout=180)
                    except subprocess.TimeoutExpired:
                        pass
                if child.poll() is None:  # OpenNMT-py saves nothing on a signal (its last save is <= 50 steps old):
                    os.killpg(child.pid, signal.SIGKILL)  # stop it at once, so no later save counts
                    child.wait()
        sampler.stop()
    if loop_started is None:
        raise SystemExit(f"{NAMES[tool]} did not start training; see {log_path}")
    return {"train_seconds": time.monotonic() - loop_started - validation_s, "validation_seconds": validation_s,
            "startup_seconds": loop_started - started, **load_figures(run)}


# ---- scoring: the same decoders, the same sacrebleu call ---------------------------------------------------------

def checkpoint(tool: str, run: Path) -> Path:
    """The peer's last save: the weights when the hour ended (Joey NMT saves on Ctrl-C, OpenNMT-py every 50 steps)."""
    if tool == "onmt":
        saved = sorted(run.glob("model_step_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
        if not saved:
            raise SystemExit(f"OpenNMT-py saved no checkpoint; see {run / 'train.log'}")
        return saved[-1]
    latest = run / "model" / "latest.ckpt"
    if not latest.exists():
        raise SystemExit(f"Joey NMT saved no checkpoint; see {run / 'train.log'}")
    return latest.resolve()


def decode(tool: str, run: Path, ckpt: Path, source: Path, beam: int, out: Path) -> float:
    """Translate `source` (pieces) into `out` (pieces) with the peer's own decoder; returns the wall seconds."""
    venv = PEERS / tool / "venv" / "bin"
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    started = time.monotonic()
    if tool == "onmt":
        subprocess.run([str(venv / "onmt_translate"), "-model", str(ckpt), "-src", str(source), "-output", str(out),
                        "-gpu", "-1", "-batch_size", "2000", "-batch_type", "tokens", "-beam_size", str(beam),
                        "-length_penalty", "wu", "-alpha", "0.6", "-max_length", "200"],
                       check=True, capture_output=True, env=env)
    else:
        config = run / f"config.beam{beam}.yaml"
        config.write_text((run / "config.yaml").read_text().replace(
            "    beam_size: 5\n", f'    load_model: "{ckpt}"\n    beam_size: {beam}\n'))
        with source.open() as src, out.open("w") as hyp:  # Joey NMT reads stdin, prints one hypothesis a line
            subprocess.run([str(venv / "python"), "-m", "joeynmt", "translate", str(config)],
                           stdin=src, stdout=hyp, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.monotonic() - started


def decoded(tool: str, run: Path, ckpt: Path, source: Path, beam: int, out: Path) -> float:
    """`decode`, once per checkpoint: a finished output is kept beside its seconds and the checkpoint it came from.

    Joey NMT decodes a Transformer without a cache of past states, so its four scoring decodes take hours on 2
    cores; a session that ends in the middle keeps the decodes already done, and the next `--peers` run does the rest.
    The output is written under a temporary name and renamed when whole, so a cut decode is never taken as done.
    """
    done = out.with_name(out.name + ".json")
    kept = json.loads(done.read_text()) if out.is_file() and done.is_file() else {}
    if kept.get("checkpoint") == str(ckpt):
        return kept["seconds"]
    partial = out.with_name(out.name + ".partial")
    seconds = decode(tool, run, ckpt, source, beam, partial)
    partial.replace(out)
    done.write_text(json.dumps({"checkpoint": str(ckpt), "seconds": seconds}) + "\n")
    return seconds


def score(tool: str, data: Path) -> dict:
    """BLEU and chrF on dev and test, greedy and beam 5, of the peer's checkpoint, scored as `s2s evaluate`."""
    import sentencepiece

    from s2s import metrics

    run, d = WORK / tool, WORK / "data"
    ckpt = checkpoint(tool, run)
    sp = sentencepiece.SentencePieceProcessor(model_file=str(data / "spm.model"))
    row = {"checkpoint": ckpt.name, "steps": checkpoint_step(tool, ckpt, run)}
    # The figure the targets compare (test, beam 5) first: a scoring spread over sittings has it soonest
    for split, decoder, beam in (("test", "beam", 5), ("dev", "beam", 5), ("test", "greedy", 1), ("dev", "greedy", 1)):
        refs = (data / f"{split}.en").read_text(encoding="utf-8").splitlines()
        out = run / f"{split}.{decoder}.pieces"
        print(f"{NAMES[tool]}: decoding {split} ({decoder}) ...", file=sys.stderr, flush=True)
        row[f"{split}_{decoder}_seconds"] = decoded(tool, run, ckpt, d / f"{split}.ko", beam, out)
        hyps = [sp.decode_pieces(line.split()) for line in out.read_text(encoding="utf-8").splitlines()]
        if len(hyps) != len(refs):
            raise SystemExit(f"{NAMES[tool]}: {len(hyps)} hypotheses for {len(refs)} {split} references ({out})")
        (run / f"{split}.{decoder}.hyp").write_text("\n".join(hyps) + "\n", encoding="utf-8")
        row[f"{split}_{decoder}_bleu"] = metrics.bleu(hyps, refs).value
        row[f"{split}_{decoder}_chrf"] = metrics.chrf(hyps, refs).value
    return row


def checkpoint_step(tool: str, ckpt: Path, run: Path) -> int:
    if tool == "onmt":
        return int(ckpt.stem.rsplit("_", 1)[1])
    return int(ckpt.stem) if ckpt.stem.isdigit() else -1


def parameters(tool: str, run: Path) -> int:
    """The parameter count the toolkit logs at start-up."""
    pattern = r"\* number of parameters: (\d+)" if tool == "onmt" else r"Total params: (\d+)"
    found = re.findall(pattern, (run / "train.log").read_text(errors="replace"))
    return int(found[-1]) if found else -1


def run_peer(tool: str, data: Path, budget_s: float, fresh: bool = False) -> dict:
    """Set up, train for the budget and score one peer; its row for bench.quality's table.

    The hour's figures are kept in the run (`trained.json`) as soon as it ends, so a scoring cut short (a session's
    end) is taken up again without training again, unless `fresh`.
    """
    run, trained = WORK / tool, WORK / tool / "trained.json"
    if trained.is_file() and not fresh:
        print(f"{NAMES[tool]}: trained already in {run}; scoring it", file=sys.stderr, flush=True)
        figures = json.loads(trained.read_text())
    else:
        print(f"{NAMES[tool]}: training for {budget_s / 60:.0f} minutes in {run} "
              f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
        run = setup(tool, pieces(data))
        figures = train(tool, budget_s)
        trained.write_text(json.dumps(figures) + "\n")
    return {"arch": "transformer", "parameters": parameters(tool, run), **figures, **score(tool, data)}
