"""Robustness: each promise of docs/guarantees.md attacked for real, with the failures counted.

    python -m bench.robustness              # a few minutes on 2 cores
    python -m bench.robustness --rounds 3   # three times the random attempts

Every attempt is a real `s2s` command in a child process, on a copy of the bundled sample prepared at the start:
- `prepare` on nasty corpora (a catalogue plus random byte soups), some over a previous output with `--force`;
- `prepare` killed with SIGKILL at random moments over a previous output;
- `train` with broken recipes (misspelt and mistyped keys, Python tags, missing or foreign data, unwritable
  `--out`), and every key of every section misspelt and mistyped in-process;
- `translate -m` on planted, damaged and bit-flipped checkpoints (plus many more flips loaded in-process);
- `translate` on hostile lines and random bytes, counting output lines against input lines;
- a process saving checkpoints SIGKILLed at random moments, then `train --resume` on what is left;
- `train` SIGKILLed at random moments and resumed, round after round;
- a full disk (the child's RLIMIT_FSIZE) under `prepare`, `train --resume`, `translate -o`, `evaluate --save-hyp`.

A crash is a traceback, an exit status other than 0 or 2, or a failure that is not one `s2s: error:` line. A
partial output is a data directory without its manifest, a failed command that changed or half-made its
output, or a leftover temporary file after the next write. A lost checkpoint is a `last.pt` that no longer
loads, or holds an earlier step than one already seen. A payload run is a planted pickle or YAML tag that
executed. A wrong line count is a `translate` whose output lines differ from its input lines. Exit status 1
when any of these is not 0. Needs nothing outside the repository.
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOISY = REPO.parent / "shared" / "data" / "noisy" / "kpc-news-dev.tsv"
COUNTS = ("crashes", "partial outputs", "lost checkpoints", "payloads run", "wrong line counts")
TINY = {
    "data": {"max_tokens": 600, "max_len": 40},
    "model": {"arch": "attention", "cell": "gru", "embed": 16, "encoder_hidden": 16, "encoder_layers": 1,
              "hidden": 16, "decoder_layers": 1, "dropout": 0.1},
    "train": {"seed": 5, "max_steps": 2, "lr": 0.003, "log_every": 1, "valid_every": 1, "valid_bleu": False,
              "metric": "loss", "threads": 1},
    "decode": {"strategy": "greedy", "max_len_a": 0.5, "max_len_b": 4},
}


@dataclass
class Tally:
    name: str
    attempts: int = 0
    failures: dict = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    def bad(self, kind: str, what: str) -> None:
        self.failures[kind] += 1
        self.notes.append(f"{self.name}: {kind}: {what}")


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str


def s2s(*args, stdin: bytes = b"", fsize: int | None = None, stdout_file: Path | None = None,
        timeout: int = 600) -> Result:
    """`python -m s2s ARGS` in a child process (one torch thread; a file-size limit for a full disk, which
    applies to `stdout_file` when stdout goes there)."""
    def limits():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    with open(stdout_file, "wb") if stdout_file else nullcontext(subprocess.PIPE) as stdout:
        child = subprocess.run([sys.executable, "-m", "s2s", *map(str, args)], input=stdin, stdout=stdout,
                               stderr=subprocess.PIPE, cwd=REPO, timeout=timeout, preexec_fn=limits,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    return Result(child.returncode, child.stdout or b"", child.stderr.decode("utf-8", "replace"))


def judge(tally: Tally, what: str, result: Result, expect: int | None = None) -> bool:
    """Count the attempt; a crash unless it exited 0, or 2 with one `s2s: error:` line. True when it exited 0."""
    tally.attempts += 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if "Traceback" in result.stderr or result.code not in (0, 2):
        tally.bad("crashes", f"{what}: exit {result.code}: {result.stderr.strip()[-300:]}")
    elif result.code == 2 and not (len(lines) == 1 and lines[0].startswith("s2s: error: ")):
        tally.bad("crashes", f"{what}: not one error line: {result.stderr[:300]!r}")
    elif expect is not None and result.code != expect:
        tally.notes.append(f"{tally.name}: note: {what}: expected exit {expect}, got {result.code}: "
                           f"{result.stderr[:200]}")
    return result.code == 0


def snapshot(directory: Path) -> dict:
    if not directory.exists():
        return {}
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def leftovers(directory: Path) -> list[str]:
    return [str(p) for p in directory.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name or ".old-" in p.name]


def complete(data: Path) -> bool:
    return all((data / f).is_file() for f in ("manifest.json", "spm.model", "train.ko.bin", "test.en.idx", "dev.ko"))


def validations(run: Path) -> int:
    """Validations logged in `run`'s metrics.jsonl (one per checkpoint with `valid_every: 1`)."""
    path = run / "metrics.jsonl"
    return path.read_text(encoding="utf-8").count('"kind": "valid"') if path.exists() else 0


def last_step(run: Path) -> int | None:
    """The step of `run`'s last.pt, or None when it does not load."""
    from s2s.checkpoint import load_checkpoint
    from s2s.errors import S2SError

    try:
        return load_checkpoint(run / "checkpoints" / "last.pt").training.state.step
    except S2SError:
        return None


# ---- the attacks ------------------------------------------------------------------------------------------------

GOOD = [f"나는 사과를 {i}개 먹었다.\tI ate {i} apples." for i in range(60)]
PIECES = [b"\t", b"\r", b"\r\n", b"\n", b"\x00", b"\x1b[31m", codecs.BOM_UTF8, b"\xff", b"\xc3", b"\xed\xa0\x80",
          "사과를".encode("euc-kr"), "café".encode("latin-1"), "한국어".encode("utf-16-le"), b'"', b",",
          "\u200b\u200f\u202e".encode(), "👩\u200d👩\u200d👧".encode(), "\u2028".encode(), b"x" * 150_000]


def table_bytes(rows: list[str], header: str = "ko\ten") -> bytes:
    return ((header + "\n") if header else "").encode() + "".join(r + "\n" for r in rows).encode()


def nasty_corpora(rng: random.Random, rounds: int) -> list[tuple[str, bytes]]:
    fixed = [
        ("empty.tsv", b""), ("header-only.tsv", b"ko\ten\n"), ("binary.tsv", bytes(range(255, -1, -1)) * 40),
        ("controls.tsv", bytes(range(256)) * 20), ("utf16.tsv", "ko\ten\n안녕\thi\n".encode("utf-16")),
        ("euc-kr.tsv", table_bytes(GOOD).decode().encode("euc-kr", "replace")),
        ("bare-cr.tsv", table_bytes(GOOD).replace(b"\n", b"\r")),
        ("crlf-bom-nul.tsv",
         codecs.BOM_UTF8 + table_bytes([r.replace("사과", "사\x00과") for r in GOOD]).replace(b"\n", b"\r\n")),
        ("missing-column.tsv", table_bytes([r.split("\t")[0] for r in GOOD])),
        ("extra-columns.tsv", table_bytes([r + "\tx" for r in GOOD])),
        ("whitespace.tsv", table_bytes([" \t\u3000"] * 60)),
        ("huge-lines.tsv", table_bytes(GOOD + ["가" * 2_000_000 + "\tx", "a\t" + "b" * 500_000])),
        ("quotes.csv", table_bytes([r.replace("\t", ",") for r in GOOD] + ['"never closed, x'], header="ko,en")),
        ("huge-field.csv",
         b'ko,en\n"' + b"y" * 300_000 + b'",z\n' + table_bytes([r.replace("\t", ",") for r in GOOD], "")),
        ("huge-header.csv", b"x" * 300_000 + b",en\n"),
        ("one-pair.tsv", table_bytes(GOOD[:1])), ("duplicates.tsv", table_bytes([GOOD[0]] * 60)),
    ]
    soups = []
    for i in range(12 * rounds):
        body = b"".join(rng.choice(PIECES[:-1]) if rng.random() < 0.3 else rng.choice(GOOD).encode() + b"\n"
                        for _ in range(rng.randrange(0, 120)))
        if rng.random() < 0.15:
            body += rng.choice(PIECES)
        soups.append((f"soup-{i}{rng.choice(['.tsv', '.csv'])}", rng.choice([b"ko\ten\n", b"ko,en\n", b""]) + body))
    if NOISY.is_file():
        soups.append(("kpc-news-dev.tsv", NOISY.read_bytes()))
    return fixed + soups


def attack_prepare(work: Path, rng: random.Random, rounds: int, previous: Path) -> Tally:
    tally = Tally("prepare: nasty corpora")
    for i, (name, data) in enumerate(nasty_corpora(rng, rounds)):
        case = work / f"prepare-{i}"
        case.mkdir()
        corpus = case / name
        corpus.write_bytes(data)
        out = case / "out"
        over = i % 3 == 2  # every third one over a previous output, with --force
        if over:
            shutil.copytree(previous, out)
        before = snapshot(out)
        result = s2s("prepare", corpus, "--out", out, "--vocab-size", "100", "--quiet", *(["--force"] if over else []))
        if judge(tally, name, result):
            if not complete(out):
                tally.bad("partial outputs", f"{name}: exit 0 but {out} is incomplete")
        elif snapshot(out) != before:
            tally.bad("partial outputs", f"{name}: failed and changed {out}")
        if leftovers(case):
            tally.bad("partial outputs", f"{name}: left {leftovers(case)}")
        shutil.rmtree(case)
    return tally


def attack_prepare_kills(work: Path, rng: random.Random, rounds: int, previous: Path) -> Tally:
    from s2s.data.prepare import sample_corpus

    tally = Tally("prepare: SIGKILL at random moments")
    out = work / "killed-prepare"
    shutil.copytree(previous, out)
    for i in range(3 * rounds):
        child = subprocess.Popen([sys.executable, "-m", "s2s", "prepare", str(sample_corpus()), "--out", str(out),
                                  "--vocab-size", "200", "--seed", str(i), "--force", "--quiet"],
                                 cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 3.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        tally.attempts += 1
        if not complete(out):
            tally.bad("partial outputs", f"kill {i}: {out} incomplete after SIGKILL")
    result = s2s("prepare", sample_corpus(), "--out", out, "--vocab-size", "200", "--force", "--quiet")
    judge(tally, "prepare after the kills", result, expect=0)
    if leftovers(work) or not complete(out):
        tally.bad("partial outputs", f"after the kills: left {leftovers(work)}")
    return tally


def attack_recipes(work: Path, data: Path, foreign: Path, small: Path, run: Path) -> Tally:
    import yaml

    tally = Tally("train: broken recipes (CLI)")
    marker = work / "yaml-payload-ran"
    blocker = work / "a-file"
    blocker.write_text("x\n")

    def recipe(text: str) -> Path:
        path = work / f"broken-{len(list(work.glob('broken-*.yaml')))}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    good = yaml.safe_dump(TINY)
    cases = [
        ("misspelt data key", recipe("model: {arch: gru}\ndata: {max_tokns: 5}\n"), []),
        ("misspelt model key", recipe("model: {arch: gru, hiden: 8}\n"), []),
        ("misspelt train key", recipe("model: {arch: gru}\ntrain: {lr: 0.1, max_step: 3}\n"), []),
        ("misspelt decode key", recipe("model: {arch: gru}\ndecode: {strategy: beam, beam_szie: 3}\n"), []),
        ("misspelt schedule key", recipe("model: {arch: gru}\nteacher_forcing: {schedule: linear, stat: 1}\n"), []),
        ("misspelt curriculum key", recipe("model: {arch: gru}\nteacher_forcing: {curriculum: {stps: 3}}\n"), []),
        ("unknown architecture", recipe("model: {arch: transfomer}\n"), []),
        ("wrong type int", recipe("model: {arch: gru, hidden: big}\n"), []),
        ("wrong type float", recipe("model: {arch: gru}\ntrain: {lr: fast}\n"), []),
        ("wrong type bool", recipe("model: {arch: gru}\ntrain: {valid_bleu: maybe}\n"), []),
        ("wrong type tuple", recipe("model: {arch: gru}\ntrain: {betas: 0.9}\n"), []),
        ("out of range", recipe("model: {arch: gru}\ntrain: {lr: -1}\n"), []),
        ("python/object/apply tag",
         recipe(f"model: {{arch: gru}}\ntrain: {{lr: !!python/object/apply:os.system [\"touch {marker}\"]}}\n"), []),
        ("python/name tag", recipe("model: {arch: gru}\ntrain: {lr: !!python/name:os.system }\n"), []),
        ("invalid YAML", recipe("model: {arch: gru\n"), []),
        ("not a mapping", recipe("- model\n- train\n"), []),
        ("bad --set", recipe(good), ["--set", "train.lr"]),
        ("missing data dir", recipe(good.replace("data:", "data:\n  dir: ../nowhere", 1)), ["--no-data"]),
        ("data without the target language", recipe(good.replace("data:", "data:\n  tgt: en", 1)), ["--data", foreign]),
        ("--out is a file", recipe(good), ["--out", blocker]),
        ("--out under a file", recipe(good), ["--out", blocker / "run"]),
        ("resume on other data", recipe(good.replace("max_steps: 2", "max_steps: 9")),
         ["--resume", "--out", shutil.copytree(run, work / "resume-other"), "--data", small]),
    ]
    for what, path, extra in cases:
        args = ["train", path, "--quiet"]
        if "--no-data" not in extra and "--data" not in extra:
            args += ["--data", data]
        if "--out" not in extra:
            args += ["--out", work / "recipe-run"]
        result = s2s(*args, *[e for e in extra if e != "--no-data"])
        judge(tally, what, result, expect=2)
        shutil.rmtree(work / "recipe-run", ignore_errors=True)
    if marker.exists():
        tally.bad("payloads run", "a YAML python tag ran")
    if blocker.read_text() != "x\n":
        tally.bad("partial outputs", "--out a file: the file changed")
    return tally


def sweep_recipe_keys() -> Tally:
    """Every key of every section and registered entry, misspelt and then given a wrong type (in-process)."""
    import dataclasses
    from typing import Any, Literal, get_args, get_origin, get_type_hints

    import s2s.decoding  # noqa: F401
    import s2s.models  # noqa: F401
    from s2s.config import DataConfig, TrainConfig, recipe_from_dict
    from s2s.errors import ConfigError
    from s2s.registry import ARCHITECTURES, DECODERS, SCHEDULES
    from s2s.teacher_forcing import CurriculumConfig

    tally = Tally("recipes: every key misspelt and mistyped")
    sections = ([("data", DataConfig, {}), ("train", TrainConfig, {})]
                + [("model", e.config, {"arch": e.name}) for e in ARCHITECTURES]
                + [("decode", e.config, {"strategy": e.name}) for e in DECODERS]
                + [("teacher_forcing", e.config, {"schedule": e.name}) for e in SCHEDULES]
                + [("teacher_forcing.curriculum", CurriculumConfig, {})])
    wrong = {int: "many", float: "fast", bool: "maybe", str: 12}
    for path, cls, base in sections:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            optional = get_origin(tp) not in (None, Literal, tuple)
            plain = [a for a in get_args(tp) if a is not type(None)] if optional else [tp]
            bad = "nope" if get_origin(plain[0]) is Literal else ([7] if get_origin(plain[0]) is tuple else
                                                                wrong.get(plain[0], 5))
            for key, value in ((f.name + "x", 1), (f.name, bad)):
                top, *rest = path.split(".")
                raw: dict[str, Any] = {"model": {"arch": "gru"}}
                raw[top] = {**raw.get(top, {}), **base}
                node = raw[top]
                for part in rest:
                    node = node.setdefault(part, {})
                node[key] = value
                tally.attempts += 1
                try:
                    recipe_from_dict(raw)
                    tally.bad("crashes", f"{path}.{key}={value!r} was accepted")
                except ConfigError as err:
                    if not err.key.startswith(f"{path}.{key}") or "\n" in str(err):
                        tally.bad("crashes", f"{path}.{key}: the error names {err.key!r}")
                except Exception as err:  # noqa: BLE001  (what the sweep is looking for)
                    tally.bad("crashes", f"{path}.{key}={value!r}: {type(err).__name__}: {err}")
    return tally


class Payload:
    """Pickles as a call to `function(*args)`: what a planted checkpoint would run when unpickled."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def flipped(good: bytes, rng: random.Random) -> bytes:
    raw = bytearray(good)
    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    return bytes(raw)


def attack_checkpoint_files(work: Path, run: Path, rng: random.Random, rounds: int) -> Tally:
    import pickle
    from dataclasses import replace

    import torch

    from s2s.checkpoint import load_checkpoint, save_checkpoint

    tally = Tally("translate -m: planted and damaged checkpoints")
    good_path = run / "checkpoints" / "last.pt"
    good = good_path.read_bytes()
    marker = work / "pickle-payload-ran"
    files: list[tuple[str, bytes]] = []
    for name, payload in [("os.system", Payload(os.system, f"touch {marker}")),
                          ("exec", Payload(exec, f"open({str(marker)!r}, 'w')")),
                          ("Path.touch", Payload(Path.touch, marker))]:
        real = torch.load(good_path, weights_only=True)
        real["info"]["x"] = payload
        torch.save(real, work / "evil.pt")
        files += [(f"planted {name}", (work / "evil.pt").read_bytes()), (f"raw pickle {name}", pickle.dumps(payload))]
    files += [("empty", b""), ("text", b"hello\n"), ("truncated", good[: len(good) // 2]), ("1 KiB", good[:1024])]
    ckpt = load_checkpoint(good_path)  # well-formed, but its layers named as another version of s2s might name them
    save_checkpoint(replace(ckpt, model_state={k + ".v0": v for k, v in ckpt.model_state.items()}), work / "other.pt")
    files.append(("weights of another layout", (work / "other.pt").read_bytes()))
    files += [(f"bit flip {i}", flipped(good, rng)) for i in range(4 * rounds)]
    for what, data in files:
        (work / "damaged.pt").write_bytes(data)
        judge(tally, what, s2s("translate", "-m", work / "damaged.pt", stdin="안녕하세요.\n".encode()))
    if marker.exists():
        tally.bad("payloads run", "a planted pickle ran")
    return tally


def flip_checkpoint_bits(work: Path, run: Path, rng: random.Random, rounds: int) -> Tally:
    """Random single-bit flips anywhere in a checkpoint, loaded in-process: refused, or the very same content."""
    from s2s.checkpoint import CONTENT, content_digest, load_checkpoint, weights_digest
    from s2s.errors import S2SError

    def digests(c) -> tuple[str, str]:
        return weights_digest(c.model_state), content_digest({k: getattr(c, k) for k in CONTENT})

    tally = Tally("checkpoints: random bit flips (in-process)")
    good = (run / "checkpoints" / "last.pt").read_bytes()
    reference = digests(load_checkpoint(run / "checkpoints" / "last.pt"))
    for i in range(150 * rounds):
        (work / "flipped.pt").write_bytes(flipped(good, rng))
        tally.attempts += 1
        try:
            loaded = load_checkpoint(work / "flipped.pt")
        except S2SError:
            continue
        except Exception as err:  # noqa: BLE001  (what the attack is looking for)
            tally.bad("crashes", f"flip {i}: {type(err).__name__}: {err}")
            continue
        if digests(loaded) != reference:
            tally.bad("lost checkpoints", f"flip {i}: loaded with different content")
    return tally


HOSTILE = ["안녕하세요.", "", "이것은 아주 긴 문장입니다 " * 1500, "a" * 50_000, "😀" * 5000,
           "\x00\x01\x07\x1b[31m\x7f",
           "!!!???...", "。、「」", "مرحبا بالعالم", "\u202eשלום\u202c\u200f", "สวัสดีครับ", "你好，世界",
           "👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈", "\u200d\u200c\u200b", "\ufeffBOM", "e\u0301\u0301",
           "a\u2028b\u2029c\x85d\x0be\x0cf", "a\tb", "mid\rline", "\u3000"]


def attack_translate(run: Path, rng: random.Random, rounds: int) -> Tally:
    tally = Tally("translate: hostile input")
    inputs = [b"\n".join(t.encode() for t in HOSTILE) + b"\n\xff\xfe bad\n\xed\xa0\x80 lone\nno newline"]
    for _ in range(2 * rounds):
        inputs.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000))))
    for i, data in enumerate(inputs):
        for options in ([], ["--scores"]):
            result = s2s("translate", "-m", run, *options, stdin=data)
            if judge(tally, f"input {i} {options}", result, expect=0):
                expected = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
                got = result.stdout.count(b"\n")
                if got != expected:
                    tally.bad("wrong line counts", f"input {i} {options}: {got} lines out for {expected} in")
    return tally


SAVER = """
import sys, torch
from dataclasses import replace
from pathlib import Path
from s2s.checkpoint import load_checkpoint, save_checkpoint
path = Path(sys.argv[1])
ckpt = load_checkpoint(path)
ckpt = replace(ckpt, info=replace(ckpt.info, averaged_steps=list(range(3_000_000))))  # 15 MB: writes take a while
n = 0
while True:
    n += 1
    save_checkpoint(replace(ckpt, info=replace(ckpt.info, step=n)), path)
    print(n, flush=True)
"""


def attack_checkpoint_kills(work: Path, data: Path, run: Path, rng: random.Random, rounds: int) -> Tally:
    tally = Tally("checkpoint writes: SIGKILL at random moments")
    target = work / "saver-run"
    shutil.copytree(run, target)
    during = 0
    for i in range(8 * rounds):
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(target / "checkpoints" / "last.pt")], cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if not child.stdout.readline():  # the first save is done: from here on it writes continuously
            tally.bad("crashes", f"kill {i}: the saver died before its first save")
        began = time.perf_counter()
        child.stdout.readline()
        time.sleep(rng.uniform(0, time.perf_counter() - began))  # anywhere in the next save
        child.send_signal(signal.SIGKILL)
        child.wait()
        tally.attempts += 1
        during += bool(leftovers(target))
        if last_step(target) is None:
            tally.bad("lost checkpoints", f"kill {i}: last.pt does not load")
    tally.notes.append(f"{tally.name}: {during} of {8 * rounds} kills landed inside a write (a temporary file left)")
    result = s2s("train", work / "tiny.yaml", "--data", data, "--out", target, "--resume", "--quiet",
                 "--set", "train.max_steps=4")
    judge(tally, "resume after the kills", result, expect=0)
    if last_step(target) != 4:
        tally.bad("lost checkpoints", "resume after the kills did not reach step 4")
    if leftovers(target):
        tally.bad("partial outputs", f"temporary files left after the next write: {leftovers(target)}")
    return tally


def attack_training_kills(work: Path, data: Path, run: Path, rng: random.Random, rounds: int) -> Tally:
    tally = Tally("train: SIGKILL at random moments, then --resume")
    target = work / "killed-run"
    shutil.copytree(run, target)
    seen = last_step(target) or 0
    for i in range(2 * rounds):
        child = subprocess.Popen([sys.executable, "-m", "s2s", "train", str(work / "tiny.yaml"), "--data", str(data),
                                  "--out", str(target), "--resume", "--quiet", "--set", "train.max_steps=100000"],
                                 cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline, logged = time.monotonic() + 300, validations(target)
        while child.poll() is None and time.monotonic() < deadline and validations(target) < logged + 2:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 0.3))
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate()
        tally.attempts += 1
        step = last_step(target)
        if step is None or step < seen:
            state = "does not load" if step is None else f"went back to step {step}"
            tally.bad("lost checkpoints", f"kill {i}: last.pt {state}")
        elif b"Traceback" in err:
            tally.bad("crashes", f"kill {i}: {err.decode()[-300:]}")
        seen = step or seen
    result = s2s("train", work / "tiny.yaml", "--data", data, "--out", target, "--resume", "--quiet",
                 "--set", f"train.max_steps={seen + 2}")
    judge(tally, "resume to the end", result, expect=0)
    if last_step(target) != seen + 2 or leftovers(target):
        tally.bad("lost checkpoints", f"the final resume ended at {last_step(target)}, left {leftovers(target)}")
    return tally


def attack_full_disk(work: Path, data: Path, run: Path, previous: Path) -> Tally:
    from s2s.data.prepare import sample_corpus

    tally = Tally("full disk (RLIMIT_FSIZE)")
    out = work / "full-prepare"
    shutil.copytree(previous, out)
    for fsize, over in ((1 << 14, True), (1 << 16, False)):
        target = out if over else work / "full-fresh"
        before = snapshot(target)
        result = s2s("prepare", sample_corpus(), "--out", target, "--vocab-size", "200", "--force", "--quiet",
                     fsize=fsize)
        judge(tally, f"prepare under {fsize} bytes", result, expect=2)
        if result.code == 2 and snapshot(target) != before:
            tally.bad("partial outputs", f"prepare under {fsize} bytes changed {target}")
    target = work / "full-run"
    shutil.copytree(run, target)
    step = last_step(target)
    result = s2s("train", work / "tiny.yaml", "--data", data, "--out", target, "--resume", "--quiet",
                 "--set", "train.max_steps=4", fsize=300_000)
    judge(tally, "train --resume under 300 KB", result, expect=2)
    if last_step(target) != step or leftovers(target):
        tally.bad("lost checkpoints", f"a failed checkpoint write changed last.pt (step {last_step(target)})")
    (work / "in.txt").write_text("안녕하세요.\n" * 50, encoding="utf-8")
    judge(tally, "translate -o under 64 bytes", s2s("translate", "-m", run, "-i", work / "in.txt", "-o",
                                                     work / "out.txt", fsize=64), expect=2)
    judge(tally, "translate to stdout under 64 bytes", s2s("translate", "-m", run, "-i", work / "in.txt", fsize=64,
                                                            stdout_file=work / "stdout.txt"), expect=2)
    judge(tally, "evaluate --save-hyp under 64 bytes", s2s("evaluate", "-m", run, "--save-hyp", work / "hyp.txt",
                                                            fsize=64), expect=2)
    if leftovers(work / "full-run") or (work / "hyp.txt").exists():
        tally.bad("partial outputs", "a failed write left a file behind")
    return tally


# ---- the run ----------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.robustness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="scale the random attempts (default 1: a few minutes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    import yaml

    from s2s.data.prepare import sample_corpus

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="s2s-robustness-"))
    started = time.perf_counter()
    try:
        print(f"setting up in {work} ...", file=sys.stderr, flush=True)
        (work / "tiny.yaml").write_text(yaml.safe_dump(TINY), encoding="utf-8")
        data, small, foreign, run = work / "data", work / "small", work / "foreign", work / "run"
        for out, corpus, extra in ((data, sample_corpus(), ["--vocab-size", "1000", "--dev", "200", "--test", "200"]),
                                   (small, None, ["--vocab-size", "100"]), (foreign, "ja", ["--vocab-size", "100"])):
            if corpus is None or corpus == "ja":
                corpus_path = work / f"{out.name}.tsv"
                other = "私はりんごを{}個食べた。" if corpus == "ja" else "I ate {} apples."
                corpus_path.write_text(f"ko\t{'ja' if corpus == 'ja' else 'en'}\n" + "".join(
                    f"나는 사과를 {i}개 먹었다.\t{other.format(i)}\n" for i in range(60)), encoding="utf-8")
                corpus = corpus_path
            if s2s("prepare", corpus, "--out", out, "--quiet", *extra).code != 0:
                raise SystemExit(f"robustness: could not prepare {out}")
        if s2s("train", work / "tiny.yaml", "--data", data, "--out", run, "--quiet").code != 0:
            raise SystemExit("robustness: could not train the tiny run")
        attacks = [lambda: attack_prepare(work, rng, args.rounds, small),
                   lambda: attack_prepare_kills(work, rng, args.rounds, small),
                   lambda: attack_recipes(work, data, foreign, small, run), sweep_recipe_keys,
                   lambda: attack_checkpoint_files(work, run, rng, args.rounds),
                   lambda: flip_checkpoint_bits(work, run, rng, args.rounds),
                   lambda: attack_translate(run, rng, args.rounds),
                   lambda: attack_checkpoint_kills(work, data, run, rng, args.rounds),
                   lambda: attack_training_kills(work, data, run, rng, args.rounds),
                   lambda: attack_full_disk(work, data, run, small)]
        tallies = []
        for attack in attacks:
            began = time.perf_counter()
            tally = attack()
            tally.seconds = time.perf_counter() - began
            tallies.append(tally)
            print(f"{tally.name}: {tally.attempts} tried in {tally.seconds:.0f} s", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    show(tallies, time.perf_counter() - started)
    return 1 if any(sum(t.failures.values()) for t in tallies) else 0


def show(tallies: list[Tally], seconds: float) -> None:
    heads = ["tried", *COUNTS, "seconds"]
    width = max(len(t.name) for t in tallies)
    print(f"\nrobustness ({seconds / 60:.1f} min)\n{'attack':<{width}}  " + "  ".join(heads))
    for t in tallies:
        cells = [t.attempts, *t.failures.values(), round(t.seconds)]
        print(f"{t.name:<{width}}  " + "  ".join(f"{c:>{len(h)}}" for c, h in zip(cells, heads)))
    for t in tallies:
        for note in t.notes:
            print(note)
    totals = {k: sum(t.failures[k] for t in tallies) for k in COUNTS}
    print(f"bad inputs tried: {sum(t.attempts for t in tallies)}; "
          + "; ".join(f"{k}{' (tracebacks)' if k == 'crashes' else ''}: {v}" for k, v in totals.items()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
