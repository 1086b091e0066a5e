"""s2s against the peer toolkits (Joey NMT, OpenNMT-py, CTranslate2) on their synthetic workload, one table.

    python -m bench.peers                  # the issue's protocol (~70 min): below
    python -m bench.peers --quick          # one s2s run per figure, the peers' recorded figures (~8 min)
    python -m bench.peers --repeats 5      # medians of 5 interleaved runs instead of 3

By default every training and decoding figure is the median of 3 runs, s2s and each peer whose environment
exists taking turns (s2s, OpenNMT-py, Joey NMT, s2s, ...); the peers' 300-step models are decoded here too; and
the Transformer is trained to 95% dev exact match and its converged model decoded (3 times, median).

The workload (`bench/workload.py`, byte-identical to the peers' `gen_data.py`) is generated into
`$S2S_BENCH_CACHE/peers` and prepared with one SentencePiece piece per whitespace word (`--model-type word`), so
s2s sees the very tokens the peers see. s2s trains `recipes/bench-{lstm,transformer}.yaml` (the peers' configs)
for 300 steps, then decodes the test set greedy and beam-5 at 64 sentences per batch, max length 60.

Figures are computed the way the peers' `summarize.py` computes theirs: training tokens/s = steps x 64 x 29.97
(the mean src+trg whitespace tokens per training pair) / seconds, "steady" over steps 50->300 and "300 st" from
the first step to step 300; s2s's seconds come from the wall-clock stamps of its metrics.jsonl records (step 50
and 300) and its own start-of-loop stamp. Peak memory is the child process's ru_maxrss (the peers': `time -v`'s
maximum resident set size, the same number). Decode seconds are the generation time inside the process (model
loaded; the peers report the same: Joey's "Generation took", OpenNMT-py's tokens / tokens-per-second).

The peers run only where `setup.sh` left their environment (`$S2S_PEERS`, default /tmp/s2s-peers); otherwise,
and with `--quick`, their figures are read from `results.md` and marked "(rec)". CTranslate2 and the converged
OpenNMT-py model (3,000 steps, ~20 min to train) are always recorded figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import CACHE, REPO, run_child, table
from bench.workload import MD5_PREFIX, generate, md5s

PEERS = Path(os.environ.get("S2S_PEERS", "/tmp/s2s-peers"))
WORK = CACHE / "peers"
TOK_PER_PAIR = 599490 / 20000  # as summarize.py: mean src+trg whitespace tokens per training pair
BATCH = 64
MODELS = ("lstm", "transformer")
WORK_MATCHED_LEN = 15  # the test references' mean length (14.99 words): see `decode_s2s`


# ---- workload ------------------------------------------------------------------------------------------------

def prepared() -> Path:
    """The workload generated, checked against the peers' md5s, and prepared for s2s (once)."""
    raw, data = WORK / "workload", WORK / "data"
    if not (raw / "cipher.tsv").is_file():
        generate(raw)
    sums = md5s(raw)
    for name, prefix in MD5_PREFIX.items():
        if not sums[name].startswith(prefix):
            raise SystemExit(f"bench.peers: {raw / name} md5 {sums[name]} is not the peers' {prefix}...")
    if (PEERS / "data").is_dir():
        theirs = md5s(PEERS / "data")
        differ = [n for n in sums if theirs.get(n) != sums[n]]
        print(f"workload: identical to {PEERS / 'data'}" if not differ else f"workload: DIFFERS from the peers' in {differ}",
              file=sys.stderr)
    if not (data / "manifest.json").is_file():
        tsv = WORK / "tsv"
        tsv.mkdir(parents=True, exist_ok=True)
        for split in ("train", "dev", "test"):  # two-letter codes: xs = cipher source, xt = cipher target
            src, trg = (raw / f"{split}.src").read_text().splitlines(), (raw / f"{split}.trg").read_text().splitlines()
            (tsv / f"{split}.tsv").write_text("xs\txt\n" + "".join(f"{s}\t{t}\n" for s, t in zip(src, trg)))
        # 2,004 = 2,000 words + 4 specials: every word is one piece, nothing is <unk>
        run_child(["-m", "s2s", "prepare", str(tsv / "train.tsv"), "--dev-file", str(tsv / "dev.tsv"),
                   "--test-file", str(tsv / "test.tsv"), "--model-type", "word", "--vocab-size", "2004", "--separate",
                   "--out", str(data), "--force", "--quiet"])
    return data


# ---- s2s -----------------------------------------------------------------------------------------------------

def train_s2s(model: str, data: Path, steps: int = 300, tag: str = "", threads: int | None = None) -> dict:
    out = WORK / f"run-{model}{tag}"
    shutil.rmtree(out, ignore_errors=True)
    started = time.time()
    child = run_child(["-m", "s2s", "train", str(REPO / "recipes" / f"bench-{model}.yaml"), "--data", str(data),
                       "--out", str(out), "--quiet", "--set", f"train.max_steps={steps}",
                       *(["--set", f"train.threads={threads}"] if threads else [])])
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = {r["step"]: r for r in records if r["kind"] == "train"}
    # The loop's start: the step-50 stamp less the seconds the first 50 steps took inside the loop.
    loop_start = train[50]["time"] - train[50]["train_seconds"]
    s300 = train[steps]["time"] - loop_start
    steady = (train[steps]["time"] - train[50]["time"]) / (steps - 50)
    return {"run": out, "tok_s_300": steps * BATCH * TOK_PER_PAIR / s300, "s300": s300, "steady_s": steady,
            "tok_s_steady": BATCH * TOK_PER_PAIR / steady, "rss": child.peak_mib, "wall": time.time() - started}


def decode_s2s(checkpoint: Path, beam: int, test: Path, refs: Path, threads: int | None = None,
               min_len: int = 0) -> dict:
    """Decode the test set in a child process (its own peak memory); seconds = generation time inside it.

    `checkpoint` may also be a directory made by `s2s export` (bench/ct2.py): it then decodes with CTranslate2.

    `min_len` > 0 forbids EOS before that many tokens: on a 300-step model, which ends almost every hypothesis at
    once, it makes the decoder do a converged model's work (the references average 15 tokens).
    """
    out = WORK / f"decode-{checkpoint.parent.parent.name}-{checkpoint.stem}-beam{beam}-min{min_len}.json"
    child = run_child(["-m", "bench.peers", "_decode", str(checkpoint), str(beam), str(test), str(refs), str(out),
                       str(min_len)],
                      env={"S2S_BENCH_THREADS": str(threads)} if threads else None)
    result = json.loads(out.read_text())
    result["rss"] = child.peak_mib
    return result


def _decode_child(checkpoint: str, beam: int, test: str, refs: str, out: str, min_len: int = 0) -> None:
    import torch

    from dataclasses import replace

    from s2s.translator import DecodeOptions, Translator

    if os.environ.get("S2S_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["S2S_BENCH_THREADS"]))
    options = DecodeOptions("beam", beam_size=beam) if beam > 1 else DecodeOptions("greedy")
    translator = Translator.load(Path(checkpoint), replace(options, min_len=min_len or None))
    lines = Path(test).read_text().splitlines()
    references = Path(refs).read_text().splitlines()
    # batches of 64 sentences, as the peers decode; sorted by length first so a batch pads little
    order = sorted(range(len(lines)), key=lambda i: len(lines[i].split()))
    hyps = [""] * len(lines)
    torch.set_grad_enabled(False)
    started = time.perf_counter()
    for k in range(0, len(order), BATCH):
        chunk = order[k:k + BATCH]
        for i, t in zip(chunk, translator.translate([lines[i] for i in chunk])):
            hyps[i] = t.text
    seconds = time.perf_counter() - started
    em = 100.0 * sum(h.split() == r.split() for h, r in zip(hyps, references)) / len(references)
    out_tokens = sum(len(h.split()) for h in hyps)
    Path(out).write_text(json.dumps({"seconds": seconds, "sent_s": len(lines) / seconds,
                                     "out_tok_s": out_tokens / seconds, "exact_match": em, "hyp_tokens": out_tokens}))


def converge_s2s(data: Path, target: float = 95.0, every: int = 250, max_steps: int = 6000,
                 threads: int | None = None) -> dict:
    """Train bench-transformer with a greedy dev exact-match check every `every` steps until it reaches `target`.

    Seconds are counted from the process start (start-up included) to the stamp of the first validation record at
    or above the target; the run is then interrupted (SIGINT: s2s saves `last` and exits). Validation time counts,
    as OpenNMT-py's did (its watcher decoded every 500-step checkpoint on the same 2 cores).
    """
    out = WORK / "run-transformer-converge"
    shutil.rmtree(out, ignore_errors=True)
    args = [sys.executable, "-m", "s2s", "train", str(REPO / "recipes" / "bench-transformer.yaml"), "--data",
            str(data), "--out", str(out), "--quiet"]
    for s in (f"train.max_steps={max_steps}", f"train.valid_every={every}", "train.valid_bleu=true",
              "train.log_every=50", *([f"train.threads={threads}"] if threads else [])):
        args += ["--set", s]
    started = time.time()
    # SIGINT back to its default in the child: a shell's background job (`nohup python -m bench &`) ignores it, and
    # Python would keep ignoring it, so the run below could never be interrupted
    child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    reached = None
    while child.poll() is None and reached is None:
        time.sleep(2)
        metrics = out / "metrics.jsonl"
        if metrics.is_file():
            for line in metrics.read_text().splitlines():
                r = json.loads(line)
                if r["kind"] == "valid" and r.get("dev_exact_match", 0) >= target:
                    reached = r
                    break
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if reached is None:
        raise SystemExit(f"bench.peers: the Transformer did not reach {target}% dev exact match in {max_steps} steps")
    return {"seconds": reached["time"] - started, "step": reached["step"], "dev_em": reached["dev_exact_match"],
            "checkpoint": out / "checkpoints" / "best.pt"}


def startup() -> dict:
    """`s2s --help` wall time, and the time to the first line of `s2s translate` (median of 3 each)."""
    helps = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "s2s", "--help"], cwd=REPO, capture_output=True, check=True)
        helps.append(time.perf_counter() - t)
    firsts = []
    model = WORK / "run-transformer"
    for _ in range(3):
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "s2s", "translate", "-m", str(model)], cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        p.stdin.write((WORK / "workload" / "test.src").read_text().splitlines()[0] + "\n")
        p.stdin.flush()
        p.stdout.readline()
        firsts.append(time.perf_counter() - t)
        p.stdin.close()
        p.wait()
    return {"help": statistics.median(helps), "first_line": statistics.median(firsts)}


# ---- peers ---------------------------------------------------------------------------------------------------

def recorded() -> dict:
    """The peers' figures from their results.md: {(tool, model): {...}} and {(decoder, beam): {...}}."""
    path = PEERS / "results.md" if (PEERS / "results.md").is_file() else REPO.parent / "shared" / "peers" / "results.md"
    rows: dict = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 17 and cells[0] in ("joey", "onmt"):
            rows[(cells[0], cells[1])] = {
                "tok_s_300": float(cells[2]), "s300": float(cells[3]), "steady_s": float(cells[4]),
                "tok_s_steady": float(cells[5]), "rss": float(cells[6]), "greedy_sent_s": float(cells[9]),
                "beam_sent_s": float(cells[12]), "source": "recorded"}
        elif len(cells) == 8 and cells[1] in ("1", "5") and not cells[0].startswith("decoder"):
            rows[(cells[0], int(cells[1]))] = {"sent_s": float(cells[3]), "em": float(cells[6]), "source": "recorded"}
    return rows


def peer_env(tool: str) -> bool:
    return (PEERS / tool / "venv" / "bin" / "python").exists()


def train_peer(tool: str, model: str) -> dict:
    """Run the peer's own run_train.sh and read its log the way summarize.py does."""
    if tool == "onmt" and not (PEERS / "onmt" / "runs" / "vocab.src").is_file():
        # OpenNMT-py trains from the vocabularies its configs name; onmt_build_vocab writes them (all 20,000 pairs)
        subprocess.run([str(PEERS / "onmt" / "venv" / "bin" / "onmt_build_vocab"), "-config",
                        str(PEERS / "onmt" / "configs" / f"{model}.yaml"), "-n_sample", "-1"],
                       check=True, capture_output=True)
    subprocess.run(["bash", str(PEERS / tool / "run_train.sh"), model], check=True)
    import datetime

    text = (PEERS / tool / "logs" / f"train_{model}.time").read_text(errors="replace")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    stamps, t0 = {}, None
    if tool == "joey":
        lines, fmt, cut, start, pat = (PEERS / "joey" / "runs" / model / "train.log").read_text(errors="replace") \
            .splitlines(), "%Y-%m-%d %H:%M:%S,%f", slice(0, 23), "EPOCH 1", r"Step:\s+(\d+),"
    else:
        lines, fmt, cut, start, pat = text.splitlines(), "%Y-%m-%d %H:%M:%S,%f", slice(1, 24), \
            "Start training loop", r"Step (\d+)/"
    for line in lines:
        if t0 is None and start in line:
            t0 = datetime.datetime.strptime(line[cut], fmt)
        m = re.search(pat, line)
        if m:
            stamps[int(m.group(1))] = datetime.datetime.strptime(line[cut], fmt)
    s300 = (stamps[300] - t0).total_seconds()
    steady = (stamps[300] - stamps[50]).total_seconds() / 250
    return {"tok_s_300": 300 * BATCH * TOK_PER_PAIR / s300, "s300": s300, "steady_s": steady,
            "tok_s_steady": BATCH * TOK_PER_PAIR / steady, "rss": rss, "source": "live"}


def decode_peer(tool: str, model: str, beam: int) -> float:
    """sent/s of the peer's run_decode.sh on its 300-step model, as summarize.py reads it."""
    subprocess.run(["bash", str(PEERS / tool / "run_decode.sh"), model, str(beam)], check=True, capture_output=True)
    logs = PEERS / tool / "logs"
    text = (logs / f"decode_{model}_beam{beam}.time").read_text(errors="replace")
    if tool == "joey":
        seconds = float(re.findall(r"Generation took ([\d.]+)\[sec\]", text)[-1])
    else:
        hyp_tokens = json.loads((logs / f"eval_{model}_beam{beam}.json").read_text())["hyp_tokens"]
        seconds = hyp_tokens / float(re.findall(r"Tokens per second: ([\d.]+)", text)[-1])
    return 500 / seconds


# ---- the table -----------------------------------------------------------------------------------------------

def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def quiet_machine(limit: float = 1.3, wait: int = 600) -> float:
    """Wait (up to `wait` s) for the 1-minute load to fall below `limit`; returns the load measured at the start."""
    deadline = time.time() + wait
    while load1() >= limit and time.time() < deadline:
        time.sleep(15)
    return load1()


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median([r[k] for r in runs]) if isinstance(runs[0][k], (int, float)) else runs[0][k]
            for k in runs[0]} if len(runs) > 1 else runs[0]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_decode"]:
        _decode_child(argv[1], int(argv[2]), argv[3], argv[4], argv[5], int(argv[6]) if len(argv) > 6 else 0)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one run per figure, no convergence run, the peers' recorded figures")
    parser.add_argument("--no-converge", action="store_true", help="skip training the Transformer to convergence")
    parser.add_argument("--repeats", type=int, help="interleaved runs per training and decoding figure (median; default 3, 1 "
                                                    "with --quick)")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--threads", type=int, help="torch threads for s2s (default: torch's, = cores)")
    parser.add_argument("--no-wait", action="store_true", help="don't wait for a quiet machine before timing")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    data = prepared()
    test, refs = WORK / "workload" / "test.src", WORK / "workload" / "test.trg"
    rec = recorded() if (PEERS / "results.md").is_file() or (REPO.parent / "shared/peers/results.md").is_file() else {}
    live_tools = [t for t in ("onmt", "joey") if not args.quick and peer_env(t)]
    loads: list[float] = []
    ours: dict = {}
    peers: dict = {}

    def decode_median(model: str, checkpoint: Path, beam: int, min_len: int = 0, with_peers: bool = False) -> dict:
        """The median run of `repeats` decodes (by sent/s), s2s and each live peer taking turns."""
        mine, theirs_sent_s = [], {t: [] for t in live_tools if with_peers}
        for _ in range(args.repeats):
            loads.append(load1() if args.no_wait else quiet_machine())
            mine.append(decode_s2s(checkpoint, beam, test, refs, args.threads, min_len=min_len))
            for tool in theirs_sent_s:
                theirs_sent_s[tool].append(decode_peer(tool, model, beam))
        for tool, sent_s in theirs_sent_s.items():
            peers[(tool, model)][("greedy" if beam == 1 else "beam") + "_sent_s"] = statistics.median(sent_s)
        return sorted(mine, key=lambda d: d["sent_s"])[len(mine) // 2]

    for model in args.models:
        runs, theirs = [], {t: [] for t in live_tools}
        for r in range(args.repeats):  # A B A B ...: s2s and each peer in turn
            loads.append(load1() if args.no_wait else quiet_machine())
            print(f"s2s train {model} ({r + 1}/{args.repeats}), load {loads[-1]:.2f} ...", file=sys.stderr, flush=True)
            runs.append(train_s2s(model, data, tag=f"-{r}" if r else "", threads=args.threads))
            for tool in live_tools:
                loads.append(load1() if args.no_wait else quiet_machine())
                print(f"{tool} train {model}, load {loads[-1]:.2f} ...", file=sys.stderr, flush=True)
                theirs[tool].append(train_peer(tool, model))
        ours[model] = median_of(runs)
        ours[model]["run"] = WORK / f"run-{model}"
        for tool in ("onmt", "joey"):
            peers[(tool, model)] = median_of(theirs[tool]) if theirs.get(tool) else rec.get((tool, model))
        ckpt = ours[model]["run"] / "checkpoints" / "last.pt"
        for beam in (1, 5):
            ours[model][f"beam{beam}"] = decode_median(model, ckpt, beam, with_peers=True)
        ours[model]["beam5_work"] = decode_median(model, ckpt, 5, min_len=WORK_MATCHED_LEN)
    converge = not (args.quick or args.no_converge) and "transformer" in args.models
    conv = converge_s2s(data, threads=args.threads) if converge else None
    if conv:
        ours["converged"] = {f"beam{b}": decode_median("transformer", conv["checkpoint"], b) for b in (1, 5)}
    start = startup() if "transformer" in args.models else None
    print_table(ours, peers, rec, conv, start, loads, args.threads)
    return 0


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else ""


def print_table(ours: dict, peers: dict, rec: dict, conv, start, loads: list[float], threads=None) -> None:
    rows = []

    def row(figure, s2s, onmt, joey, ct2, ratio_to, target: str, ok):
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        rows.append([figure, s2s, onmt or "", joey or "", ct2 or "", ratio_to, target, verdict])

    def src(p):
        return "" if p is None else ("" if p.get("source") == "live" else " (rec)")

    for model in ours:
        if model == "converged":
            continue
        o, on, jo = ours[model], peers.get(("onmt", model)), peers.get(("joey", model))
        name = "attention-LSTM" if model == "lstm" else "Transformer"
        steady = o["tok_s_steady"]
        ref = on["tok_s_steady"] if on else None
        row(f"{name} train tok/s, steady 50->300", round(steady), on and f"{on['tok_s_steady']:,.0f}{src(on)}",
            jo and f"{jo['tok_s_steady']:,.0f}{src(jo)}", None, _ratio(steady, ref), ">= 1.3x onmt",
            ref and steady >= 1.3 * ref)
        row(f"{name} train tok/s, 300 steps", round(o["tok_s_300"]), on and f"{on['tok_s_300']:,.0f}{src(on)}",
            jo and f"{jo['tok_s_300']:,.0f}{src(jo)}", None, _ratio(o["tok_s_300"], on and on["tok_s_300"]), "", None)
        row(f"{name} train peak RSS MiB", round(o["rss"]), on and f"{on['rss']:,.0f}{src(on)}",
            jo and f"{jo['rss']:,.0f}{src(jo)}", None, _ratio(o["rss"], jo and jo["rss"]), "< joey",
            jo and o["rss"] < jo["rss"])
        for beam, key in ((1, "greedy_sent_s"), (5, "beam_sent_s")):
            d = o[f"beam{beam}"]
            target, ok, ratio = "", None, _ratio(d["sent_s"], on and on[key])
            ct2 = rec.get(("ct2 float32 transformer_step300", beam)) if model == "transformer" else None
            if model == "lstm" and beam == 5:
                target, ok, ratio = ">= 2x joey", jo and d["sent_s"] >= 2 * jo[key], _ratio(d["sent_s"], jo and jo[key])
            row(f"{name} {'greedy' if beam == 1 else 'beam-5'} sent/s, 300-step model ({d['hyp_tokens'] / 500:.1f} "
                f"tok/sent)", round(d["sent_s"]),
                on and f"{on[key]:,.0f}{src(on)}", jo and f"{jo[key]:,.0f}{src(jo)}",
                ct2 and f"{ct2['sent_s']:,.0f} (rec)", ratio, target, ok)
        d = o["beam5_work"]
        target, ok = (">= 2x joey", jo and d["sent_s"] >= 2 * jo["beam_sent_s"]) if model == "lstm" else \
            (">= 2x onmt(conv), >= ct2(conv)/1.5", None)
        on_conv, ct2_conv = rec.get(("onmt_translate step3000", 5)), rec.get(("ct2 float32 transformer_conv3000", 5))
        if model == "transformer" and on_conv and ct2_conv:
            ok = d["sent_s"] >= 2 * on_conv["sent_s"] and d["sent_s"] * 1.5 >= ct2_conv["sent_s"]
        row(f"{name} beam-5 sent/s, work-matched (min_len {WORK_MATCHED_LEN}: {d['hyp_tokens'] / 500:.1f} tok/sent)",
            round(d["sent_s"]), on_conv and model == "transformer" and f"{on_conv['sent_s']:,.0f} (rec, conv)",
            jo and model == "lstm" and f"{jo['beam_sent_s']:,.0f}{src(jo)}",
            ct2_conv and model == "transformer" and f"{ct2_conv['sent_s']:,.0f} (rec, conv)",
            _ratio(d["sent_s"], (jo["beam_sent_s"] if model == "lstm" else on_conv["sent_s"]) if jo and on_conv else None),
            target, ok)
    if conv:
        onmt_s = 1127.0  # OpenNMT-py's recorded time to 95% dev exact match (watch_conv.sh, step 3000)
        row("Transformer s to 95% dev EM", round(conv["seconds"]), f"{onmt_s:,.0f} (rec)", None, None,
            _ratio(conv["seconds"], onmt_s), "<= onmt", conv["seconds"] <= onmt_s)
        for beam in (1, 5):
            d = ours["converged"][f"beam{beam}"]
            on = rec.get(("onmt_translate step3000", beam))
            ct2 = rec.get(("ct2 float32 transformer_conv3000", beam))
            ok = (on and ct2 and d["sent_s"] >= 2 * on["sent_s"] and d["sent_s"] * 1.5 >= ct2["sent_s"]) \
                if beam == 5 else None
            row(f"Transformer {'greedy' if beam == 1 else 'beam-5'} sent/s, converged (test EM {d['exact_match']:.1f}%)",
                round(d["sent_s"]), on and f"{on['sent_s']:,.0f} (rec)", None, ct2 and f"{ct2['sent_s']:,.0f} (rec)",
                _ratio(d["sent_s"], on and on["sent_s"]), ">= 2x onmt, >= ct2/1.5" if beam == 5 else "", ok)
    if start:
        row("s2s --help s", f"{start['help']:.2f}", None, None, None, "", "< 0.5", start["help"] < 0.5)
        row("s2s translate first line s", f"{start['first_line']:.2f}", None, None, None, "", "< 3", start["first_line"] < 3)
    os.environ.setdefault("COLUMNS", "220")  # one line per figure, also when the output is not a terminal
    table(f"s2s vs peers on the synthetic cipher workload (2 CPU cores, s2s on {threads or 'default'} thread(s); "
          f"1-min load at the timed runs "
          f"{min(loads):.2f}-{max(loads):.2f}; (rec) = the peers' recorded results.md)",
          ["figure", "s2s", "OpenNMT-py", "Joey NMT", "CT2 f32", "ratio", "target", ""], rows)


if __name__ == "__main__":
    sys.exit(main())
