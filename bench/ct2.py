"""s2s's Transformer exported to CTranslate2 (float32 and int8) against s2s's own decoder: speed, size, parity.

    python -m bench.ct2                    # speed and size on the peers' workload (~25 min: convergence first)
    python -m bench.ct2 --run runs/X      # and parity on 500 dev sentences of a trained ko-en Transformer run
    python -m bench.ct2 --repeats 1       # one decode per figure instead of the median of 3

Speed (issue #18): the converged peer-workload Transformer (`bench.peers.converge_s2s`: trained to 95% dev exact
match; the checkpoint `bench.peers` leaves in `$S2S_BENCH_CACHE/peers` is reused when it is there) is exported with
`s2s export --to ctranslate2` to float32 and to int8, and its 500 test sentences are decoded with beam 5 in batches
of 64 by s2s's own decoder and by each export, in turns (s2s, float32, int8, s2s, ...), each in a child process
through the same `Translator.translate` loop (`bench.peers.decode_s2s`: generation time inside the process, the
model loaded). Beside them: CTranslate2 decoding the converged OpenNMT-py model, as recorded in the peers'
results.md (228 sent/s float32, 263 int8). Targets: each export at least as fast as its recorded CTranslate2
figure, and int8 at least 1.5x s2s's own beam 5. Sizes: the parameters in float32 against each model.bin.

Parity (with `--run`): the run is exported to float32 and int8 under `$S2S_BENCH_CACHE/ct2-parity`, and 500 dev
sentences are decoded greedy and with the recipe's beam search by s2s and by each export (in this process, not
timed): the share of identical best hypotheses and the corpus BLEU of each. Targets: float32 identical on >= 99%
of sentences with BLEU within 0.2 (greedy and beam 5), int8 BLEU within 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from bench.common import CACHE, table
from bench.peers import WORK, decode_s2s, load1, prepared, quiet_machine, recorded

RECORDED = {"float32": "ct2 float32 transformer_conv3000", "int8": "ct2 int8 transformer_conv3000"}
PARITY_SENTENCES = 500


def export(target: Path, out: Path, quantization: str) -> Path:
    from s2s.ct2.export import export_ctranslate2

    return export_ctranslate2(target, out, quantization, force=True).directory


def converged_checkpoint() -> Path:
    """The converged peer-workload Transformer: bench.peers' own, or trained now (~20 min on 2 cores)."""
    from bench.peers import converge_s2s

    checkpoint = WORK / "run-transformer-converge" / "checkpoints" / "best.pt"
    if checkpoint.is_file():
        print(f"reusing {checkpoint} (bench.peers' converged Transformer)", file=sys.stderr)
        return checkpoint
    print("training the peer-workload Transformer to 95% dev exact match ...", file=sys.stderr, flush=True)
    return converge_s2s(prepared())["checkpoint"]


def speed(repeats: int, wait: bool) -> tuple[list[list], list[float]]:
    """The speed-and-size rows: s2s's own beam 5, each export, and the recorded CTranslate2 figures."""
    prepared()
    checkpoint = converged_checkpoint()
    decoders = {"s2s (own decoder)": checkpoint}
    for quantization in ("float32", "int8"):
        decoders[f"s2s -> CTranslate2 {quantization}"] = export(checkpoint, WORK / f"ct2-{quantization}", quantization)
    test, refs = WORK / "workload" / "test.src", WORK / "workload" / "test.trg"
    runs: dict[str, list[dict]] = {name: [] for name in decoders}
    loads = []
    for r in range(repeats):
        for name, model in decoders.items():  # in turns, so a slow minute hits every decoder alike
            loads.append(quiet_machine() if wait else load1())
            print(f"{name} beam 5 ({r + 1}/{repeats}), load {loads[-1]:.2f} ...", file=sys.stderr, flush=True)
            runs[name].append(decode_s2s(model, 5, test, refs))
    own = statistics.median(d["sent_s"] for d in runs["s2s (own decoder)"])
    rec = recorded()
    rows = []
    for name, model in decoders.items():
        d = sorted(runs[name], key=lambda x: x["sent_s"])[len(runs[name]) // 2]
        size = _weights_bytes(model)
        quantization = name.rsplit(" ", 1)[-1]
        theirs = rec.get((RECORDED.get(quantization, ""), 5))
        target, ok = "", None
        if quantization in RECORDED:
            target = f">= {theirs['sent_s']:.0f} (ct2 from onmt, rec)" if theirs else "recorded figure missing"
            ok = theirs and d["sent_s"] >= theirs["sent_s"]
            if quantization == "int8":
                target += ", >= 1.5x own"
                ok = ok and d["sent_s"] >= 1.5 * own
        spread = sorted(round(x["sent_s"]) for x in runs[name])
        rows.append([name, f"{d['sent_s']:.0f} ({spread[0]}-{spread[-1]})", f"{d['sent_s'] / own:.2f}x", f"{d['exact_match']:.1f}",
                     f"{size / 2**20:.1f}", round(d["rss"]), target, "" if ok is None else ("PASS" if ok else "MISS")])
    for quantization, key in RECORDED.items():
        theirs = rec.get((key, 5))
        if theirs:
            rows.append([f"OpenNMT-py -> CTranslate2 {quantization} (rec)", round(theirs["sent_s"]),
                         f"{theirs['sent_s'] / own:.2f}x", f"{theirs['em']:.1f}", "", "", "", ""])
    return rows, loads


def _weights_bytes(model: Path) -> int:
    """An export's model.bin; a checkpoint's parameters in float32 (its file may hold the optimiser's state too)."""
    if model.is_dir():
        return (model / "model.bin").stat().st_size
    from s2s.checkpoint import load_checkpoint

    return 4 * load_checkpoint(model).info.parameters


def parity(run: Path) -> tuple[list[list], int]:
    """Identical hypotheses and BLEU of each export against s2s's own decoder on the run's dev sentences."""
    from s2s.evalset import from_split
    from s2s.metrics import bleu
    from s2s.translator import DecodeOptions, Translator, open_model

    ckpt = open_model(run)
    data = Path(ckpt.data_dir)
    dev = from_split(data, "dev", ckpt.src_lang, ckpt.tgt_lang)
    sources, references = dev.sources[:PARITY_SENTENCES], dev.references[:PARITY_SENTENCES]
    out = CACHE / "ct2-parity"
    exports = {q: export(run, out / f"{Path(run).name}-{q}", q) for q in ("float32", "int8")}
    alpha = getattr(ckpt.recipe.decode.config, "length_penalty", None)
    rows = []
    for options in (DecodeOptions("greedy"), DecodeOptions("beam", beam_size=5, length_penalty=alpha)):
        label = "greedy" if options.strategy == "greedy" else f"beam 5, alpha {alpha or 0.0}"
        print(f"parity: {label} ...", file=sys.stderr, flush=True)
        own = [t.text for t in Translator.load(ckpt, options).translate(sources)]
        own_bleu = bleu(own, references, ckpt.tgt_lang).value
        for quantization, directory in exports.items():
            theirs = [t.text for t in Translator.load(directory, options).translate(sources)]
            same = 100.0 * sum(a == b for a, b in zip(own, theirs)) / len(sources)
            their_bleu = bleu(theirs, references, ckpt.tgt_lang).value
            gap = their_bleu - own_bleu
            ok = same >= 99 and abs(gap) <= 0.2 if quantization == "float32" else abs(gap) <= 1
            rows.append([label, quantization, f"{same:.1f}", f"{own_bleu:.2f}", f"{their_bleu:.2f}", f"{gap:+.2f}",
                         ">= 99% and |dBLEU| <= 0.2" if quantization == "float32" else "|dBLEU| <= 1",
                         "PASS" if ok else "MISS"])
    return rows, len(sources)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a trained ko-en Transformer run: also measure parity on its dev set")
    parser.add_argument("--repeats", type=int, default=3, help="decodes per speed figure (median; default 3)")
    parser.add_argument("--no-wait", action="store_true", help="don't wait for a quiet machine before timing")
    args = parser.parse_args(argv)
    from s2s.ct2 import require_ctranslate2
    from s2s.errors import S2SError

    try:
        ctranslate2 = require_ctranslate2("bench.ct2")
    except S2SError as err:
        print(f"bench.ct2: skipped: {err}")
        return 0

    rows, loads = speed(args.repeats, not args.no_wait)
    table(f"Converged peer-workload Transformer, its test set, beam 5, batch 64, CTranslate2 "
          f"{ctranslate2.__version__} (1-min load at the timed runs {min(loads):.2f}-{max(loads):.2f})",
          ["decoder", "sent/s median (range)", "vs own", "test EM %", "weights MiB", "RSS MiB", "target", ""], rows)
    if args.run is not None:
        rows, sentences = parity(args.run)
        table(f"Parity on {sentences} dev sentences of {args.run}",
              ["decoding", "export", "identical %", "BLEU s2s", "BLEU export", "diff", "target", ""], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
