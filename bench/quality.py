"""Quality at a budget: train every shipped recipe for the same wall-clock budget on ko-en, then score it.

    python -m bench.quality                        # every recipe, one hour each (several hours in all)
    python -m bench.quality --only transformer     # one row
    python -m bench.quality --budget 10m --only gru,lstm
    python -m bench.quality --peers                # OpenNMT-py and Joey NMT on the same work (bench/quality_peers.py)
    python -m bench.quality --markdown             # the table so far, for docs/results.md; trains nothing
    python -m bench.quality --side-by-side 5       # 5 dev sentences as every row translated them (Markdown)

Each recipe trains with `train.max_time` set to the budget (training time; validations are not counted) into
`$S2S_BENCH_CACHE/quality/<recipe>`, on the ko-en data directory every benchmark shares (bench/common.py). A run
that was stopped (a session's end, Ctrl-C, a kill) is continued with `--resume`, and since the budget counts
training time across resumes the row comes out as if it had never stopped. The best checkpoint is then scored on
the dev and test splits with sacrebleu (BLEU 13a and chrF2, greedy and beam), and the row is kept in
`bench/results/quality.json` (committed, since the runs themselves live in a cache), so a rerun prints finished
rows without training them again (`--fresh` redoes).

Two CPU-heavy jobs measure each other: the table records the 1-minute load before each run and its mean and
maximum while training (a run on 2 threads alone shows about 2), so a disturbed row can be seen and redone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import shutil
import time
from pathlib import Path

from bench import quality_peers
from bench.common import CACHE, REPO, LoadSampler, have_shared, load_figures, prepared_koen, run_child, table
from s2s.config import TrainConfig
from s2s.evalset import from_split

# The five families the course notes compare, and attention again with scheduled sampling (Bengio et al. 2015):
# the same model fed some of its own predictions while it learns, at the same budget.
RECIPES = ["rnn", "lstm", "gru", "attention", "attention-scheduled", "transformer"]
RUNS = CACHE / "quality"
RESULTS = REPO / "bench" / "results" / "quality.json"  # committed: the runs live in a cache a session loses
SCORED = [(split, decoder) for split in ("dev", "test") for decoder in ("greedy", "beam")]


def commit() -> str:
    """The short commit the run starts at, "+dirty" when tracked files differ from it -- except the results this
    bench itself writes (bench/results/), which a previous row leaves uncommitted until its figures are read."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results"],
                           cwd=REPO, capture_output=True, text=True).stdout.strip()
    return (head.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def train(name: str, data: Path, budget: str, fresh: bool) -> dict:
    """Train (or continue) the recipe's run for the budget; returns its load figures and this sitting's wall time."""
    run = RUNS / name
    resumable = (run / "checkpoints" / "last.pt").is_file() and not fresh
    if run.exists() and not resumable:
        shutil.rmtree(run)
    args = ["-m", "s2s", "train", str(REPO / "recipes" / f"{name}.yaml"), "--data", str(data), "--out", str(run),
            "--set", f"train.max_time={budget}", "--set", "train.save_every_minutes=5", "--quiet"]
    if resumable:
        args.append("--resume")
    else:
        run.mkdir(parents=True)
        (run / "load-before.txt").write_text(f"{os.getloadavg()[0]:.2f}\n")
        (run / "load-during.txt").touch()
        (run / "commit.txt").write_text(commit() + "\n")  # the code the run started with
    print(f"{name}: {'continuing' if resumable else 'training'} for a budget of {budget} in {run} "
          f"(load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    sampler = LoadSampler(run / "load-during.txt")
    sampler.start()
    try:
        # The table measures a recipe with the machine to itself, so OpenMP keeps its default spinning: s2s's own
        # check (s2s/cpu.py) would choose passive waits if anything else happened to run in its 0.1 s look,
        # which slowed the attention LSTM from ~2,900 to ~2,100 tokens/s here.
        child = run_child(args, env={"GOMP_SPINCOUNT": "300000"})  # libgomp's default spin count, pinned
    finally:
        sampler.stop()
    return {"wall_seconds_last_sitting": child.seconds, "peak_mib": child.peak_mib, "resumed": resumable,
            **load_figures(run)}


def score(name: str) -> dict:
    """BLEU and chrF of the run's best checkpoint on dev and test, greedy and beam (the recipe's beam settings)."""
    run = RUNS / name
    info = info_of(run)
    row = {"arch": info["arch"], "parameters": info["parameters"], "steps": info["steps"],
           "train_seconds": info["train_seconds"], "tokens_per_s": info["tokens_seen"] / info["train_seconds"]}
    for split, decoder in SCORED:
        result = run_child(["-m", "s2s", "evaluate", "-m", str(run), "--split", split, "--decoder", decoder,
                            "--bleu", "--chrf", "--json", "--save-hyp", str(run / f"{split}.{decoder}.hyp")])
        scores = json.loads(result.stdout)
        row[f"{split}_{decoder}_bleu"] = scores["BLEU"]["score"]
        row[f"{split}_{decoder}_chrf"] = scores["chrF2"]["score"]
        row[f"{split}_{decoder}_seconds"] = result.seconds
    return row


# What the results page shows of each run, kept in the repository because the runs themselves do not outlive
# a session: its log (curves), its dev and test translations (BLEU by length through `s2s compare --hyp`, the
# side-by-side sentences) and, for the models with attention, the heatmap of one long dev sentence.
ARCHIVE = REPO / "bench" / "results"
KEPT = ["recipe.yaml", "metrics.jsonl", "dev.beam.hyp", "test.beam.hyp"]
LONG_DEV_LINE = 53  # 27 words, a verse: long enough that a context vector struggles, and checkable by anyone
README_EXAMPLE = "어제 카페 갔었어 거기 사람 많더라"  # the README's "Look inside" sentence (heatmap-1.png)


def archive(name: str, data: Path, run: Path) -> None:
    kept = ARCHIVE / name
    kept.mkdir(parents=True, exist_ok=True)
    for file in [*KEPT, "train.log", "config.yaml"]:  # a peer's log and configuration
        if (run / file).is_file():
            shutil.copyfile(run / file, kept / file)
    if not (run / "checkpoints").is_dir():
        return  # a peer: no s2s model to draw
    lines = [README_EXAMPLE, (data / "dev.ko").read_text(encoding="utf-8").splitlines()[LONG_DEV_LINE - 1]]
    source = run / "heatmap.ko"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    drawn = ["--attention", str(kept / "heatmap.png")] if info_of(run)["arch"] in ("attention", "transformer") else []
    translated = run_child(["-m", "s2s", "translate", "-m", str(run), "-i", str(source), *drawn])
    (kept / "heatmap.txt").write_text("".join(f"{s}\n-> {t}\n" for s, t in zip(lines, translated.stdout.splitlines())),
                                      encoding="utf-8")


def info_of(run: Path) -> dict:
    return json.loads(run_child(["-m", "s2s", "info", str(run), "--json"]).stdout)


def finished(name: str, results: dict, budget: str) -> bool:
    """A row for this budget exists and came from the run in the cache (or none is there): nothing to continue.

    A redo started with --fresh and cut short (a session's end) leaves a run whose commit is not the row's; the next
    plain call continues it instead of reporting the old row as done.
    """
    if name not in results or results[name]["budget"] != budget:
        return False
    started = RUNS / name / "commit.txt"
    return not started.is_file() or started.read_text().strip() == results[name]["commit"]


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save_results(results: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True))
    tmp.replace(RESULTS)


COLUMNS = ["recipe", "params", "steps", "tok/s", "train min", "dev BLEU greedy", "dev BLEU beam", "dev chrF beam",
           "test BLEU greedy", "test BLEU beam", "test chrF beam", "load before / mean / max", "commit"]


def cells(name: str, row: dict) -> list:
    label = quality_peers.NAMES.get(name, name)  # a peer's row names the toolkit
    tokens_per_s = round(row["tokens_per_s"]) if "tokens_per_s" in row else "-"  # the peers count differently
    return [label, f"{row['parameters'] / 1e6:.1f}M", row["steps"], tokens_per_s,
            f"{row['train_seconds'] / 60:.1f}",
            *[f"{row[key]:.1f}" for key in ("dev_greedy_bleu", "dev_beam_bleu", "dev_beam_chrf", "test_greedy_bleu",
                                            "test_beam_bleu", "test_beam_chrf")],
            f"{row['load_before']:.2f} / {row['load_mean']:.2f} / {row['load_max']:.2f}", row["commit"]]


def print_markdown(results: dict) -> None:
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for name in [*RECIPES, *quality_peers.TOOLS]:
        if name in results:
            print("| " + " | ".join(str(c) for c in cells(name, results[name])) + " |")


def side_by_side(results: dict, data: Path, count: int) -> None:
    """`count` dev sentences spread over the source lengths (the 10th to 90th percentile of the first 300), each with
    its reference and every archived row's beam translation, as Markdown."""
    dev = from_split(data, "dev", "ko", "en")
    sources, references = dev.sources, dev.references
    by_length = sorted(range(min(300, len(sources))), key=lambda i: (len(sources[i].split()), i))
    picks = [by_length[round((0.1 + 0.8 * k / max(count - 1, 1)) * (len(by_length) - 1))] for k in range(count)]
    names = [n for n in [*RECIPES, *quality_peers.TOOLS] if n in results and (ARCHIVE / n / "dev.beam.hyp").is_file()]
    hyps = {n: (ARCHIVE / n / "dev.beam.hyp").read_text(encoding="utf-8").splitlines() for n in names}
    for i in picks:
        print(f"**dev line {i + 1}** ({len(sources[i].split())} words)\n")
        print("| | |\n|---|---|")
        print(f"| source | {sources[i]} |\n| reference | {references[i]} |")
        for n in names:
            print(f"| {quality_peers.NAMES.get(n, n)} | {hyps[n][i]} |")
        print()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated recipes, or peers with --peers (default: all)")
    parser.add_argument("--peers", action="store_true",
                        help="train OpenNMT-py and Joey NMT on the same work instead (bench/quality_peers.py)")
    parser.add_argument("--budget", default="1h", help="training time per recipe (train.max_time), e.g. 1h, 20m")
    parser.add_argument("--fresh", action="store_true", help="train again even where a row or a run exists")
    parser.add_argument("--markdown", action="store_true", help="print the rows so far as a Markdown table and stop")
    parser.add_argument("--side-by-side", type=int, metavar="N",
                        help="print N dev sentences as every archived row translated them, and stop")
    args = parser.parse_args(argv)
    choices = quality_peers.TOOLS if args.peers else RECIPES
    names = [n.strip() for n in (args.only or ",".join(choices)).split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown:
        parser.error(f"--only: {unknown[0]!r} is not benchmarked here; choose from: {', '.join(choices)}")
    results = load_results()
    if args.markdown:
        print_markdown(results)
        return 0
    if not have_shared("bench.quality"):
        return 0
    data = prepared_koen()
    if args.side_by_side:
        side_by_side(results, data, args.side_by_side)
        return 0
    for name in names:
        if finished(name, results, args.budget) and not args.fresh:
            print(f"{name}: done at {results[name]['commit']} (--fresh to redo)", file=sys.stderr)
            continue
        if args.peers:
            if not quality_peers.available(name):
                print(f"{quality_peers.NAMES[name]}: skipped: no environment in {quality_peers.PEERS / name} "
                      "(run ../shared/peers/setup.sh)", file=sys.stderr)
                continue
            started_at = commit()
            row = quality_peers.run_peer(name, data, TrainConfig(max_time=args.budget).max_time_seconds, args.fresh)
            archive(name, data, quality_peers.WORK / name)
        else:
            figures = train(name, data, args.budget, args.fresh)
            started_at = (RUNS / name / "commit.txt").read_text().strip()
            row = {**figures, **score(name)}
            archive(name, data, RUNS / name)
        results[name] = {"budget": args.budget, "commit": started_at, "date": time.strftime("%Y-%m-%d %H:%M"), **row}
        save_results(results)
    rows = [cells(name, results[name]) for name in [*RECIPES, *quality_peers.TOOLS] if name in results]
    table(f"quality after {args.budget} of training per recipe (ko-en, ko->en; sacrebleu 13a, chrF2)", COLUMNS, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
