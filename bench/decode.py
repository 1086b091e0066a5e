"""Decoding speed and peak memory per architecture: sentences/s for greedy and beam search on ko-en dev.

    python -m bench.decode                                  # every recipe, greedy and beam 5, 500 sentences
    python -m bench.decode --sentences 200 --recipes transformer lstm --beam 4

How it measures, and why:
- Models are built from the shipped recipes (`recipes/*.yaml`, at their real sizes) with random weights (seed 0):
  the cost of a decoding step depends on the sizes, not on the values of the weights.
- Untrained weights would end a sentence at a random point or never, so output lengths are forced: `min_len`
  is set beyond every limit, and the limit is floor(r * S) + 1 subwords for a source of S, where r is the
  target/source length ratio of these dev pairs. Every output then has a realistic length (the table shows the
  mean). A trained beam search stops once its finished hypotheses can no longer be beaten, so it is often
  somewhat faster than this fixed-length figure; greedy is the same either way.
- Text goes through the real path, `Translator.translate` (encode, sort by length, batch, decode, detokenise),
  with a joint SentencePiece vocabulary of 8,000 (prepare's default) trained here on the first 20,000 pairs of
  ko-en train, so both source lengths and the output layer are realistic.
- Each (recipe, decoder) runs in its own child process after a warm-up on 8 sentences. Peak memory is the
  child's `ru_maxrss` (`os.wait4`); "before decoding" is its VmHWM once Python, torch and the model are loaded,
  so the decoder's own memory is the difference. tracemalloc would miss torch's allocations.
Needs `../shared/data` beside the repository; without it the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KO_EN = REPO.parent / "shared" / "data" / "ko-en"
RECIPES = ("rnn", "lstm", "gru", "attention", "transformer", "tiny")
VOCAB_PAIRS = 20_000
WARM_UP = 8


def read_pairs(path: Path, limit: int) -> list[tuple[str, str]]:
    """The first `limit` pairs of a ko-en TSV (header skipped; fields are plain tab-split, no CSV quoting)."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            ko, en = line.rstrip("\n").split("\t")
            pairs.append((ko, en))
            if len(pairs) == limit:
                break
    return pairs


def vm_hwm() -> int:
    """This process's peak resident memory so far, in bytes (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def child(recipe_name: str, strategy: str, beam: int, sentences: int, vocab_path: Path, ratio: float,
          threads: int) -> None:
    """In the child process: build, warm up, time `Translator.translate`, print one JSON line."""
    import torch

    torch.set_num_threads(threads)

    from s2s import fast
    from s2s.config import load_recipe
    from s2s.data.subwords import Vocab
    from s2s.models.base import build_model
    from s2s.registry import DECODERS
    from s2s.translator import ModelTranslator
    from s2s.typed import to_mapping

    recipe = load_recipe(REPO / "recipes" / f"{recipe_name}.yaml")
    vocab = Vocab.from_bytes(vocab_path.read_bytes())
    torch.manual_seed(0)
    model = fast.for_decoding(build_model(recipe.model.name, recipe.model.config, vocab.size, vocab.size))
    forced = {"max_len_a": ratio, "max_len_b": 1, "min_len": 1_000_000}  # every output: floor(r * S) + 1
    if strategy == "beam":
        recipe_beam = to_mapping(recipe.decode.config) if recipe.decode.name == "beam" else {}
        values = {"length_penalty": recipe_beam.get("length_penalty", 0.0), "beam_size": beam, **forced}
    else:
        values = forced
    translator = ModelTranslator(model, vocab, vocab, strategy, DECODERS.build_config(strategy, values, "decode"))
    lines = [ko for ko, _ in read_pairs(KO_EN / "dev.tsv", sentences)]
    translator.translate(lines[:WARM_UP])
    before = vm_hwm()
    started = time.perf_counter()
    out = translator.translate(lines)
    seconds = time.perf_counter() - started
    out_tokens = [len(t.hypotheses[0].tokens) for t in out if t.hypotheses]
    print(json.dumps({"seconds": seconds, "sentences": len(lines), "out_tokens": sum(out_tokens),
                      "params": model.num_parameters(), "arch": recipe.model.name, "before": before,
                      "threads": torch.get_num_threads()}))


def run_child(recipe: str, strategy: str, beam: int, sentences: int, vocab: Path, ratio: float, threads: int) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.decode", "--child", recipe, strategy, str(beam), str(sentences), str(vocab),
         repr(ratio), str(threads)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with proc.stdout, proc.stderr:
        out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench.decode: {recipe} {strategy} failed:\n{err.decode(errors='replace')}")
    return {**json.loads(out), "peak": usage.ru_maxrss * 1024}  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=500, help="the first N sentences of ko-en dev (default 500)")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), metavar="NAME",
                        help=f"recipes/NAME.yaml to build (default: {' '.join(RECIPES)})")
    parser.add_argument("--beam", type=int, default=5, help="beam size (default 5)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared machine two threads that contend for the cores "
                             "can be ten times slower than one)")
    parser.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        recipe, strategy, beam, sentences, vocab, ratio, threads = args.child
        child(recipe, strategy, int(beam), int(sentences), Path(vocab), float(ratio), int(threads))
        return 0
    if not (KO_EN / "dev.tsv").is_file():
        print(f"bench.decode: skipped: needs {KO_EN / 'dev.tsv'} (the shared data beside the repository)")
        return 0
    missing = [r for r in args.recipes if not (REPO / "recipes" / f"{r}.yaml").is_file()]
    if missing:
        parser.error(f"no recipes/{missing[0]}.yaml; choose among: "
                     f"{', '.join(sorted(p.stem for p in (REPO / 'recipes').glob('*.yaml')))}")

    from rich.console import Console
    from rich.table import Table

    from s2s.data.subwords import SubwordOptions, Vocab, train_vocab

    console = Console(stderr=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="s2s-bench-decode-") as tmp:
        console.print(f"training an 8,000-piece joint vocabulary on the first {VOCAB_PAIRS:,} train pairs ...")
        train = read_pairs(KO_EN / "train.tsv", VOCAB_PAIRS)
        model, _ = train_vocab(lambda: (side for pair in train for side in pair), SubwordOptions(vocab_size=8000))
        vocab_path = Path(tmp) / "spm.model"
        vocab_path.write_bytes(model)
        vocab = Vocab.from_bytes(model)
        dev = read_pairs(KO_EN / "dev.tsv", args.sentences)
        src_len = sum(len(vocab.encode(ko)) for ko, _ in dev)
        tgt_len = sum(len(vocab.encode(en)) for _, en in dev)
        ratio = tgt_len / src_len
        rows = []
        for recipe in args.recipes:
            for strategy in ("greedy", "beam"):
                label = "greedy" if strategy == "greedy" else f"beam {args.beam}"
                console.print(f"{recipe}: {label} on {len(dev)} sentences ...")
                rows.append((recipe, label, run_child(recipe, strategy, args.beam, len(dev), vocab_path, ratio, args.threads)))
    table = Table(title=f"Decoding the first {len(dev)} ko-en dev sentences (ko→en) on CPU, {args.threads} torch "
                        f"thread{'s' if args.threads > 1 else ''}: random weights, forced output lengths (mean "
                        f"source {src_len / len(dev):.1f} subwords, reference {tgt_len / len(dev):.1f}). tok/s: output "
                        "subwords per second; MiB loaded: the process with torch and the model, before decoding",
                  title_justify="left")
    for column in ("recipe", "params", "decoder", "sent/s", "tok/s", "out len", "sec", "MiB loaded", "MiB peak"):
        table.add_column(column, justify="left" if column in ("recipe", "decoder") else "right", no_wrap=True)
    for recipe, label, r in rows:
        name = recipe if recipe == r["arch"] else f"{recipe} ({r['arch']})"
        table.add_row(name, f"{r['params'] / 1e6:.1f}M", label, f"{r['sentences'] / r['seconds']:.1f}",
                      f"{r['out_tokens'] / r['seconds']:,.0f}", f"{r['out_tokens'] / r['sentences']:.1f}",
                      f"{r['seconds']:.1f}", f"{r['before'] / 2**20:,.0f}", f"{r['peak'] / 2**20:,.0f}")
    out = Console()
    (out if out.is_terminal else Console(width=120)).print(table)  # a log or a pipe: wide enough for every column
    console.print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
