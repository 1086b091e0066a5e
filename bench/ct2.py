"""s2s's Transformer exported to CTranslate2 (float32 and int8) against s2s's own decoder: speed, size, parity.

    python -m bench.ct2                    # speed and size on the peers' workload (~45 min the first time: both
                                           # converged models are trained once, s2s's and OpenNMT-py's)
    python -m bench.ct2 --run runs/X      # and parity on 500 dev sentences of a trained ko-en Transformer run
    python -m bench.ct2 --repeats 1       # one decode per figure instead of the median of 5
    python -m bench.ct2 --no-live         # against the recorded CTranslate2 figures only

Speed (issue #18): the converged peer-workload Transformer (`bench.peers.converge_s2s`: trained to 95% dev exact
match; the checkpoint `bench.peers` leaves in `$S2S_BENCH_CACHE/peers` is reused when it is there) is exported with
`s2s export --to ctranslate2` to float32 and to int8, and its 500 test sentences are decoded with beam 5 in batches
of 64 by s2s's own decoder and by each export, in turns (s2s, float32, int8, s2s, ...), each in a child process
through the same `Translator.translate` loop (`bench.peers.decode_s2s`: generation time inside the process, the
model loaded). Beside them, CTranslate2 on the converged OpenNMT-py model: timed live in the same turns, with
the peers' own call, and on s2s's exports through that same call (bench/ct2_peer.py, where the peers' venvs
are), and as recorded in the peers' results.md (228 sent/s float32, 263 int8). Targets: each export at least as
fast as CTranslate2 on OpenNMT-py's model (the live figure where there is one: single decodes here scatter by
+-20% between minutes, so a figure from another day decides nothing), and int8 at least 1.5x s2s's own beam 5.
Sizes: the parameters in float32 against each model.bin.

Parity (with `--run`): the run is exported to float32 and int8 under `$S2S_BENCH_CACHE/ct2-parity`, and 500 dev
sentences are decoded greedy and with the recipe's beam search by s2s and by each export (in this process, not
timed): the share of identical best hypotheses and the corpus BLEU of each. Targets: float32 identical on >= 99%
of sentences with BLEU within 0.2 (greedy and beam 5), int8 BLEU within 1.
"""

from __future__ import annotations

import argparse
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


def speed(repeats: int, wait: bool, live: bool) -> tuple[list[list], list[float]]:
    """The speed-and-size rows: s2s's own beam 5, each export, and CTranslate2 on OpenNMT-py's model.

    With `live` (and the peers' venvs), CTranslate2 is also timed as the peers timed it, in the same turns, on
    OpenNMT-py's converged model and on s2s's exports (bench/ct2_peer.py); the targets then compare with the live
    OpenNMT-py figure, measured beside s2s, rather than the recorded one.
    """
    from bench import ct2_peer

    prepared()
    checkpoint = converged_checkpoint()
    test, refs = WORK / "workload" / "test.src", WORK / "workload" / "test.trg"
    decoders = {"s2s (own decoder)": lambda: decode_s2s(checkpoint, 5, test, refs)}
    models = {"s2s (own decoder)": checkpoint}
    exports = {q: export(checkpoint, WORK / f"ct2-{q}", q) for q in ("float32", "int8")}
    for quantization, directory in exports.items():
        name = f"s2s -> CTranslate2 {quantization}"
        decoders[name], models[name] = (lambda d=directory: decode_s2s(d, 5, test, refs)), directory
    onmt = ct2_peer.onmt_model() if live and ct2_peer.available() else None
    if onmt is not None:
        for quantization, directory in exports.items():
            pieces, target_model = ct2_peer.export_source(directory, test), directory / "target.model"
            decoders[f"s2s -> CTranslate2 {quantization}, peers' call"] = (
                lambda d=directory, q=quantization, p=pieces, t=target_model: ct2_peer.decode(d, p, refs, q, t))
        for quantization in exports:
            decoders[f"OpenNMT-py -> CTranslate2 {quantization}, peers' call"] = (
                lambda q=quantization: ct2_peer.decode(onmt, test, refs, q))
    runs: dict[str, list[dict]] = {name: [] for name in decoders}
    loads = []
    for r in range(repeats):
        for name, run in decoders.items():  # in turns, so a slow minute hits every decoder alike
            loads.append(quiet_machine() if wait else load1())
            print(f"{name} beam 5 ({r + 1}/{repeats}), load {loads[-1]:.2f} ...", file=sys.stderr, flush=True)
            runs[name].append(run())
    median = {name: sorted(runs[name], key=lambda x: x["sent_s"])[len(runs[name]) // 2] for name in runs}
    own = median["s2s (own decoder)"]["sent_s"]
    rec = recorded()
    rows = []
    for name in decoders:
        d, quantization = median[name], name.split(",")[0].rsplit(" ", 1)[-1]
        target, ok = "", None
        if name in models and quantization in RECORDED:
            live_peer = median.get(f"OpenNMT-py -> CTranslate2 {quantization}, peers' call")
            theirs = live_peer or rec.get((RECORDED[quantization], 5))
            source = "live" if live_peer else "rec"
            target = f">= {theirs['sent_s']:.0f} (ct2 from onmt, {source})" if theirs else "recorded figure missing"
            ok = bool(theirs) and d["sent_s"] >= theirs["sent_s"]
            if quantization == "int8":
                target += ", >= 1.5x own"
                ok = ok and d["sent_s"] >= 1.5 * own
        spread = sorted(round(x["sent_s"]) for x in runs[name])
        size = f"{_weights_bytes(models[name]) / 2**20:.1f}" if name in models else ""
        rss = round(d["rss"]) if "rss" in d else ""  # the peers' call reports none
        rows.append([name, f"{d['sent_s']:.0f} ({spread[0]}-{spread[-1]})", f"{d['sent_s'] / own:.2f}x",
                     f"{d['exact_match']:.1f}", size, rss, target, "" if ok is None else ("PASS" if ok else "MISS")])
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
    parser.add_argument("--repeats", type=int, default=5, help="decodes per speed figure (median; default 5)")
    parser.add_argument("--no-wait", action="store_true", help="don't wait for a quiet machine before timing")
    parser.add_argument("--no-live", action="store_true",
                        help="compare with the recorded CTranslate2-from-OpenNMT-py figures only (no ~20-min peer "
                             "training on the first run; bench/ct2_peer.py)")
    args = parser.parse_args(argv)
    from s2s.ct2 import require_ctranslate2
    from s2s.errors import S2SError

    try:
        ctranslate2 = require_ctranslate2("bench.ct2")
    except S2SError as err:
        print(f"bench.ct2: skipped: {err}")
        return 0

    rows, loads = speed(args.repeats, not args.no_wait, not args.no_live)
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
