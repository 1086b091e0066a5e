"""`s2s prepare` end to end: outputs, determinism, the cleaning and split rules, errors, overwriting; a prepare
killed midway, nasty and random-byte inputs, a full disk, and the real corpora of ../shared/data."""

from __future__ import annotations

import codecs
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from reliability import leftovers, one_line_error, tiny_corpus
from s2s.data.cleaning import Cleaner, CleaningOptions, Tally, _CONTROL
from s2s.data.dataset import ParallelData
from s2s.data.manifest import load_manifest
from s2s.data.prepare import PrepareOptions, prepare
from s2s.data.readers import ReadOptions, open_sources
from s2s.data.rows import read_rows
from s2s.data.staging import MARKER, clean_stale
from s2s.data.subwords import SubwordOptions
from s2s.errors import S2SError


REPO = Path(__file__).resolve().parents[1]
SMALL = ("--vocab-size", "200", "--quiet")


def pairs(n: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"나는 사과를 {i}개 먹었다.", f"I ate {i} apples.") for i in range(start, start + n)]


def write_tsv(path: Path, rows, header: str = "ko\ten") -> Path:
    lines = [header] + ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_sample_end_to_end(cli, sample_corpus, tmp_path):
    out = tmp_path / "data"
    result = cli("prepare", sample_corpus, "--out", out, "--vocab-size", "1000", "--dev", "100", "--test", "100")
    assert result.exit_code == 0, result.output
    assert "train" in result.stdout and "duplicate" in result.stdout  # the summary table
    for split in ("train", "dev", "test"):
        for lang in ("ko", "en"):
            for suffix in ("", ".bin", ".idx"):
                assert (out / f"{split}.{lang}{suffix}").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["splits"]["dev"] == 100 and manifest["splits"]["test"] == 100
    assert manifest["src"] == "ko" and manifest["tgt"] == "en" and manifest["dtype"] == "uint16"
    assert manifest["inputs"][0]["sha256"] and manifest["s2s_version"]
    assert manifest["vocab"]["files"] == {"ko": "spm.model", "en": "spm.model"}
    total = sum(manifest["splits"].values()) + manifest["cleaning"]["leak"] + manifest["cleaning"]["duplicate"]
    assert total == 2648  # every pair of the sample is in a split or counted by a rule
    assert not list(tmp_path.glob(".data.tmp-*"))


def test_same_seed_same_bytes_other_seed_other_split(sample_corpus, tmp_path):
    options = PrepareOptions(subwords=SubwordOptions(vocab_size=800), seed=7)
    prepare([sample_corpus], options, tmp_path / "a")
    prepare([sample_corpus], options, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir()) and "manifest.json" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    prepare([sample_corpus], PrepareOptions(subwords=SubwordOptions(vocab_size=800), seed=8), tmp_path / "c")
    assert lines(tmp_path / "a" / "dev.en") != lines(tmp_path / "c" / "dev.en")


def test_no_dev_or_test_sentence_in_train(prepared_sample):
    def side(split, lang):
        return lines(prepared_sample / f"{split}.{lang}")

    train = list(zip(side("train", "ko"), side("train", "en")))
    assert len(set(train)) == len(train)  # no duplicate pairs
    held_ko = set(side("dev", "ko")) | set(side("test", "ko"))
    held_en = set(side("dev", "en")) | set(side("test", "en"))
    assert not any(ko in held_ko or en in held_en for ko, en in train)


def test_cleaning_rules_are_counted(tmp_path):
    rows = pairs(40) + [
        ("\u1112\u1161\u11ab\uad6d\uc5b4 문장", "A Korean sentence."),  # nfc
        ("공백이   많은\u3000문장", "Lots  of   space."),  # whitespace
        ("제어\x00문자", "Control\x07 chars."),  # control
        ("", "Empty Korean side."),  # empty
        ("긴" * 60, "Long."),  # too_long at --max-chars 50
        ("짧다", "This side is much too long."),  # ratio
        pairs(1)[0],  # duplicate
    ]
    path = write_tsv(tmp_path / "c.tsv", rows)
    options = PrepareOptions(clean=CleaningOptions(max_chars=50), subwords=SubwordOptions(vocab_size=100), dev=2, test=2)
    report = prepare([path], options, tmp_path / "out")
    counts = {r.rule: r.count for r in report.rules}
    rules = ("nfc", "whitespace", "control", "empty", "too_long", "ratio", "duplicate")
    assert {rule: counts[rule] for rule in rules} == dict.fromkeys(rules, 1)
    examples = {r.rule: r.example for r in report.rules}
    assert examples["duplicate"].where == f"{path}:48"
    text = "\n".join(lines(tmp_path / "out" / "train.ko") + lines(tmp_path / "out" / "dev.ko") + lines(tmp_path / "out" / "test.ko"))
    assert "한국어 문장" in text and "공백이 많은 문장" in text and "제어문자" in text
    assert "\u1112" not in text
    assert load_manifest(tmp_path / "out").raw["cleaning"]["ratio"] == 1


def test_leaks_into_train_are_removed_by_either_side(cli, tmp_path):
    corpus = write_tsv(tmp_path / "c.tsv", pairs(30) + [("고양이", "a cat"), ("개", "cat"), ("고양이들", "cats")])
    dev = write_tsv(tmp_path / "dev.tsv", [("고양이", "cat")])
    out = tmp_path / "out"
    result = cli("prepare", corpus, "--dev-file", dev, "--test", "3", "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    assert lines(out / "dev.ko") == ["고양이"] and lines(out / "dev.en") == ["cat"]
    assert "고양이" not in lines(out / "train.ko") and "cat" not in lines(out / "train.en")
    assert "고양이들" in lines(out / "train.ko") + lines(out / "test.ko")
    manifest = load_manifest(out).raw
    assert manifest["cleaning"]["leak"] == 2 and manifest["splits"]["dev"] == 1
    assert [i["role"] for i in manifest["inputs"]] == ["corpus", "dev"]


def test_every_input_format_together(tmp_path, cli):
    tsv = write_tsv(tmp_path / "a.tsv", pairs(10, 0), header="원문\t번역문")
    csv = tmp_path / "b.csv"
    csv.write_text("".join(f'"{ko}","{en}"\n' for ko, en in pairs(10, 10)), encoding="utf-8")
    (tmp_path / "c.ko").write_text("".join(ko + "\n" for ko, _ in pairs(10, 20)), encoding="utf-8")
    (tmp_path / "c.en").write_text("".join(en + "\n" for _, en in pairs(10, 20)), encoding="utf-8")
    out = tmp_path / "out"
    # csv has no header: --no-header applies to every table input, so give the tsv its own run below
    result = cli("prepare", csv, tmp_path / "c.ko", tmp_path / "c.en", "--no-header", "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    assert sum(load_manifest(out).splits.values()) == 20
    result = cli("prepare", tsv, tmp_path / "c.ko", tmp_path / "c.en", "--out", out, "--force", *SMALL)
    assert result.exit_code == 0, result.output
    assert sum(load_manifest(out).splits.values()) == 20


def test_reverse_direction_and_separate_vocabularies(cli, sample_corpus, tmp_path):
    out = tmp_path / "out"
    result = cli("prepare", sample_corpus, "--src", "en", "--tgt", "ko", "--separate", "--vocab-size", "900",
                 "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(out)
    assert (manifest.src, manifest.tgt) == ("en", "ko") and manifest.languages == ("en", "ko")
    assert manifest.vocab_files == {"en": "spm.en.model", "ko": "spm.ko.model"}
    forward = ParallelData.open(out, "test", "en", "ko")
    assert forward.src == "en" and len(forward) == manifest.splits["test"]


def test_tiny_corpus_and_oversized_vocabulary_still_work(cli, tmp_path):
    path = write_tsv(tmp_path / "tiny.tsv", pairs(30))
    out = tmp_path / "out"
    result = cli("prepare", path, "--out", out, "--vocab-size", "5000")
    assert result.exit_code == 0, result.output
    assert "too large for this corpus" in result.stdout
    manifest = load_manifest(out)
    assert manifest.splits == {"train": 24, "dev": 3, "test": 3}
    assert manifest.vocab_sizes["ko"] < 5000 and manifest.raw["vocab"]["requested_size"] == 5000


def test_malformed_lines_are_skipped_and_reported(cli, tmp_path):
    path = tmp_path / "bad.tsv"
    body = "".join(f"{ko}\t{en}\n" for ko, en in pairs(30)).encode()
    path.write_bytes(b"ko\ten\r\n\xff\xfe\tbroken\r\nonly one field\n" + body)
    out = tmp_path / "out"
    result = cli("prepare", path, "--out", out, "--vocab-size", "200")
    assert result.exit_code == 0, result.output
    assert f"{path}:2: undecodable" in result.stdout and f"{path}:3: 1 tab-separated" in result.stdout
    assert load_manifest(out).raw["cleaning"]["malformed"] == 2


def test_strict_stops_at_the_first_malformed_line(cli, tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"ko\ten\n\xec\x95\x88\tHi\n\xff\tx\n")
    result = cli("prepare", path, "--out", tmp_path / "out", "--strict", "--quiet")
    assert result.exit_code == 2
    assert f"{path}:3: undecodable" in result.output and "--strict" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_refuses_to_overwrite_without_force(cli, tmp_path):
    corpus = write_tsv(tmp_path / "c.tsv", pairs(30))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = cli("prepare", corpus, "--out", out, *SMALL)
    assert result.exit_code == 2 and "--force" in result.output and "Traceback" not in result.output
    assert (out / "keep.txt").read_text() == "mine"
    result = cli("prepare", corpus, "--out", out, "--force", *SMALL)
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tsv", "out"]


@pytest.mark.parametrize("n, hint", [
    (2, "train, dev and test need at least 1 pair each, so at least 3 even with --dev 1 --test 1"),
    (5, "give --dev 1 --test 1 to hold out 1 pair each"),
])
def test_a_corpus_too_small_to_split_is_refused_and_the_old_output_kept(cli, tmp_path, n, hint):
    """Under 10 pairs the default 10% dev and test are empty, which only `train` used to notice."""
    out = tmp_path / "out"
    assert cli("prepare", write_tsv(tmp_path / "old.tsv", pairs(30)), "--out", out, *SMALL).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    tiny = write_tsv(tmp_path / "tiny.tsv", pairs(n, start=100))
    result = cli("prepare", tiny, "--out", out, "--force", *SMALL)
    assert result.exit_code == 2, result.output
    assert result.output == (f"s2s: error: {tiny}: only {n} sentence pairs after cleaning, too few for the default "
                             f"dev and test of 10% each (at least 10 pairs); {hint}\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.tsv", "out", "tiny.tsv"]
    if n >= 3:  # the way out the message gives
        assert cli("prepare", tiny, "--out", out, "--force", "--dev", "1", "--test", "1", *SMALL).exit_code == 0
        assert load_manifest(out).splits == {"train": n - 2, "dev": 1, "test": 1}


@pytest.mark.parametrize("args, message", [
    (("--dev", "0"), "--dev 0: dev and test need at least 1 pair each"),
    (("--test", "0"), "--test 0: dev and test need at least 1 pair each"),
    (("--dev", "1", "--test-file", "{empty}"), "--test-file {empty}: no sentence pairs in it"),
])
def test_an_empty_dev_or_test_split_is_refused(cli, tmp_path, args, message):
    empty = write_tsv(tmp_path / "empty.tsv", [])
    corpus = write_tsv(tmp_path / "c.tsv", pairs(30))
    args = [a.replace("{empty}", str(empty)) for a in args]
    result = cli("prepare", corpus, *args, "--out", tmp_path / "out", *SMALL)
    assert result.exit_code == 2
    assert result.output.startswith(f"s2s: error: {message.replace('{empty}', str(empty))}")
    assert len(result.output.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_ten_pairs_are_enough_for_the_default_split(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("prepare", write_tsv(tmp_path / "c.tsv", pairs(10)), "--out", out, *SMALL).exit_code == 0
    assert load_manifest(out).splits == {"train": 8, "dev": 1, "test": 1}


def test_a_directory_given_as_a_corpus_is_called_a_directory(cli, tmp_path):
    folder = tmp_path / "adir"
    folder.mkdir()
    result = cli("prepare", folder, "--out", tmp_path / "out", *SMALL)
    assert result.exit_code == 2
    assert result.output == f"s2s: error: {folder}: is a directory, not a corpus file; give the files in it " \
                            f"(e.g. {folder / '*.tsv'})\n"


def test_an_empty_target_directory_is_fine(cli, tmp_path):
    corpus = write_tsv(tmp_path / "c.tsv", pairs(30))
    (tmp_path / "out").mkdir()
    assert cli("prepare", corpus, "--out", tmp_path / "out", *SMALL).exit_code == 0
    assert sum(load_manifest(tmp_path / "out").splits.values()) == 30  # prepared into it, every pair placed
    assert len((tmp_path / "out" / "train.ko").read_text(encoding="utf-8").splitlines()) == 24


def test_sample_goes_to_data_sample_by_default(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("prepare", "--sample", "--vocab-size", "1000", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""  # --quiet
    assert load_manifest(tmp_path / "data" / "sample").splits["dev"] == 264


@pytest.mark.parametrize(
    "args, message",
    [
        (("--sample", "x.tsv"), "no INPUT files"),
        ((), "no input files"),
        (("{c}", "--columns", "a,b"), "--columns a,b"),
        (("{c}", "--model-type", "wordpiece"), "choose one of unigram, bpe"),
        (("{c}", "--dev", "20", "--test", "20"), "leave no training pairs"),
        (("{c}", "--src", "ja"), "has no 'ja' column"),
        (("{c}", "--dev", "3", "--dev-file", "{c}"), "give one or the other"),
        (("{c}", "--format", "json"), "choose one of auto"),
    ],
)
def test_user_errors_are_one_line(cli, tmp_path, args, message):
    corpus = write_tsv(tmp_path / "c.tsv", pairs(30))
    result = cli("prepare", *(a.replace("{c}", str(corpus)) for a in args), "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_as_a_subprocess(tmp_path):
    corpus = write_tsv(tmp_path / "c.tsv", pairs(30))
    done = subprocess.run(
        [sys.executable, "-m", "s2s", "prepare", str(corpus), "--out", str(tmp_path / "out"), *SMALL],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = ParallelData.open(tmp_path / "out", "train", "ko", "en")
    assert len(data) == 24 and np.all(data.src_lengths > 0)
    bad = subprocess.run(
        [sys.executable, "-m", "s2s", "prepare", str(corpus), "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("s2s: error:") and "Traceback" not in bad.stderr


def test_ai_hub_xlsx(cli, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["ID", "대분류", "원문", "번역문"])
    for i, (ko, en) in enumerate(pairs(30)):
        book.active.append([i, "일상", ko, en])
    book.save(tmp_path / "aihub.xlsx")
    result = cli("prepare", tmp_path / "aihub.xlsx", "--out", tmp_path / "out", *SMALL)
    assert result.exit_code == 0, result.output
    manifest = load_manifest(tmp_path / "out")
    assert sum(manifest.splits.values()) == 30 and manifest.raw["inputs"][0]["format"] == "xlsx"


# ---- a full disk, an unwritable place ---------------------------------------------------------------------------


@pytest.mark.parametrize("previous", [False, True], ids=["fresh", "over-a-previous-target"])
def test_prepare_on_a_full_disk_leaves_no_partial_output(cli, monkeypatch, tmp_path, previous):
    import s2s.data.prepare as prepare_module

    out = tmp_path / "data"
    if previous:
        assert cli("prepare", tiny_corpus(tmp_path / "old.tsv"), "--out", out, "--vocab-size", "100",
                   "--quiet").exit_code == 0
        before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(prepare_module, "write_manifest", full)
    result = cli("prepare", tiny_corpus(tmp_path / "new.tsv", offset=100), "--out", out, "--vocab-size", "100",
                 "--force", "--quiet")
    assert result.exit_code == 2
    line = one_line_error(result.output)
    state = "left as it was" if previous else "not created"
    assert f"{out}: cannot prepare: No space left on device ({out} {state})" in line
    if previous:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    else:
        assert not out.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["a-file", "under-a-file", "deep-under-a-file"])
def test_prepare_refuses_an_unwritable_out_in_one_line(cli, tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x\n")
    out = {"a-file": blocker, "under-a-file": blocker / "data", "deep-under-a-file": blocker / "a" / "data"}[where]
    result = cli("prepare", tiny_corpus(tmp_path / "c.tsv"), "--out", out, "--vocab-size", "100", "--quiet")
    assert result.exit_code == 2
    why = "exists and is not a directory" if where == "a-file" else f"{blocker} is not a directory"
    assert one_line_error(result.output) == f"s2s: error: --out {out}: {why}"  # not mkdir's "File exists"
    assert blocker.read_text() == "x\n" and leftovers(tmp_path) == []


# ---- killed mid-prepare -----------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]

# Runs `s2s prepare ARGS...` with the encoding stage replaced by a stall that first touches SIGNAL_FILE:
# by then the staging directory holds the split files and the vocabulary.
STALLING_PREPARE = """
import sys, time
from pathlib import Path
import s2s.data.prepare as prepare_module

signal_file = Path(sys.argv[1])

def stall(*args, **kwargs):
    signal_file.touch()
    time.sleep(300)

prepare_module._encode = stall
from s2s.cli import main
sys.argv = ["s2s", "prepare", *sys.argv[2:]]
main()
"""


def corpus(path: Path, n: int = 40, offset: int = 0) -> Path:
    rows = [f"나는 사과를 {i}개 먹었다.\tI ate {i} apples." for i in range(offset, offset + n)]
    path.write_text("ko\ten\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("previous", [True, False], ids=["over-a-previous-target", "fresh"])
def test_sigkill_mid_prepare_leaves_no_partial_target(cli, tmp_path, previous):
    out = tmp_path / "out"
    if previous:
        assert cli("prepare", corpus(tmp_path / "old.tsv"), "--out", out, "--vocab-size", "100", "--quiet").exit_code == 0
        before = snapshot(out)
    flag = tmp_path / "stalled"
    child = subprocess.Popen(
        [sys.executable, "-c", STALLING_PREPARE, str(flag), str(corpus(tmp_path / "new.tsv", offset=100)),
         "--out", str(out), "--vocab-size", "100", "--force", "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "prepare never reached the encoding stage"
            time.sleep(0.05)
        staging = tmp_path / f".out.tmp-{child.pid}"
        assert (staging / "train.ko").exists() and (staging / MARKER).exists()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert staging.exists()  # SIGKILL can't be cleaned up after...
    if previous:
        assert snapshot(out) == before  # ...but the target is untouched
    else:
        assert not out.exists()
    result = cli("prepare", tmp_path / "new.tsv", "--out", out, "--vocab-size", "100", "--force", "--quiet")
    assert result.exit_code == 0, result.output
    assert not staging.exists() and not list(tmp_path.glob(".out.*"))  # the next run removed the leftovers
    assert "나는 사과를 100개 먹었다." in (out / "train.ko").read_text() + (out / "dev.ko").read_text() + (
        out / "test.ko"
    ).read_text()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_cleanup_restores_a_target_moved_away_and_spares_others(tmp_path):
    pid = dead_pid()
    target = tmp_path / "out"
    moved = tmp_path / f".out.old-{pid}"
    moved.mkdir()
    (moved / "manifest.json").write_text("{}")
    unmarked = tmp_path / f".out.tmp-{pid}"  # no marker: not ours, left alone
    unmarked.mkdir()
    other = tmp_path / f".other.tmp-{pid}"  # another target's: left alone
    other.mkdir()
    (other / MARKER).touch()
    live = tmp_path / f".out.tmp-{os.getpid()}"  # a live process's
    live.mkdir()
    (live / MARKER).touch()
    clean_stale(target)
    assert (target / "manifest.json").exists() and not moved.exists()
    assert unmarked.exists() and other.exists() and live.exists()


# ---- the real corpora -------------------------------------------------------------------------------------------


def read(path):
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.shared
def test_noisy_news_is_cleaned_not_fatal(cli, shared_data, tmp_path):
    corpus = shared_data / "noisy" / "kpc-news-dev.tsv"
    out = tmp_path / "news"
    result = cli("prepare", corpus, "--out", out, "--vocab-size", "1000", "--dev", "50", "--test", "50")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(out).raw
    dropped = sum(manifest["cleaning"][rule] for rule in ("empty", "too_long", "ratio", "duplicate", "leak"))
    assert sum(manifest["splits"].values()) + dropped == 1000
    assert manifest["cleaning"]["whitespace"] > 0 and manifest["cleaning"]["ratio"] > 0


@pytest.mark.shared
def test_tatoeba_with_the_ko_en_dev_set(cli, shared_data, tmp_path):
    out = tmp_path / "tatoeba"
    dev = shared_data / "ko-en" / "dev.tsv"
    result = cli("prepare", shared_data / "tatoeba" / "kor-eng.tsv", "--dev-file", dev, "--test", "200",
                 "--out", out, "--vocab-size", "1000", "--quiet")
    assert result.exit_code == 0, result.output
    assert load_manifest(out).splits["dev"] == 2000
    held = set(read(out / "dev.ko")) | set(read(out / "test.ko"))
    assert not held & set(read(out / "train.ko"))


@pytest.mark.shared
@pytest.mark.slow
def test_full_ko_en_train(cli, shared_data, tmp_path):
    out = tmp_path / "ko-en"
    result = cli("prepare", shared_data / "ko-en" / "train.tsv", "--dev-file", shared_data / "ko-en" / "dev.tsv",
                 "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(out)
    assert manifest.splits["dev"] == 2000 and manifest.splits["test"] == 1000
    assert manifest.splits["train"] > 75_000 and manifest.vocab_sizes == {"ko": 8000, "en": 8000}
    held_ko = set(read(out / "dev.ko")) | set(read(out / "test.ko"))
    held_en = set(read(out / "dev.en")) | set(read(out / "test.en"))
    assert not held_ko & set(read(out / "train.ko")) and not held_en & set(read(out / "train.en"))


# ---- nasty files ------------------------------------------------------------------------------------------------

BOM = codecs.BOM_UTF8
NASTY_PIECES = [
    b"\t", b"\r", b"\r\n", b"\n", b"\x00", b"\x1b[31m", BOM, b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf0\x9f",
    "사과를".encode("euc-kr"), "café".encode("latin-1"), "한국어".encode("utf-16-le"), b'"', b'""', b",",
    "ko\ten\n".encode(), "\u200b\u200f\u202e".encode(), "e\u0301".encode(), "👩‍👩‍👧".encode(), "\u2028".encode(),
]
pieces = st.one_of(
    st.text(max_size=12).map(lambda s: s.encode("utf-8", "surrogatepass")),  # any code point, lone surrogates too
    st.sampled_from(NASTY_PIECES),
    st.binary(max_size=12),
    st.sampled_from(["나는 학생이다.\tI am a student.\n", "안녕\t\"Hi\", he said\n"]).map(str.encode),
)
contents = st.tuples(st.lists(pieces, max_size=40).map(b"".join), st.sampled_from([0, 0, 0, 70_000, 300_000])).map(
    lambda c: c[0] + b"x" * c[1] + b"\tend\n" if c[1] else c[0])
headers = st.sampled_from([b"", b"ko\ten\n", BOM + b"ko\ten\r\n", b"en\tko\tid\n", b"ko,en\n"])
# S2S_FUZZ_EXAMPLES=2000 for a longer hunt than the default 60.
FUZZ = settings(max_examples=int(os.environ.get("S2S_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def check_rows(source, path_lines: int) -> int:
    """Read and clean every row, checking each one's promise; the number of pairs kept."""
    cleaner, kept = Cleaner(CleaningOptions(), Tally()), 0
    for row in read_rows(source, ("ko", "en")):
        assert 1 <= row.line <= max(path_lines, 1)
        if row.problem is not None:
            assert row.texts == () and "\n" not in row.problem and row.problem
            continue
        assert len(row.texts) == 2
        for text in row.texts:
            text.encode("utf-8")  # no lone surrogates got through
        texts = cleaner.clean(row.texts, row.path, row.line)
        if texts is None:
            continue
        kept += 1
        for text in texts:
            assert text and text == text.strip() and not _CONTROL.search(text)
            assert not any(c in text for c in "\t\n\r\x0b\x0c\x85\u2028\u2029")
            assert unicodedata.is_normalized("NFC", text)
    return kept


def lines_in(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


@FUZZ
@given(header=headers, body=contents, suffix=st.sampled_from([".tsv", ".csv"]), has_header=st.booleans())
def test_tables_of_random_bytes_read_cleanly_or_fail_in_one_line(header, body, suffix, has_header):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"corpus{suffix}"
        data = header + body
        path.write_bytes(data)
        try:
            (source,) = open_sources([path], ReadOptions(header=has_header, langs=None if has_header else ("ko", "en")))
            check_rows(source, lines_in(data))
        except S2SError as err:
            assert "\n" not in str(err) and str(path) in str(err) or str(err).startswith("--")
            assert len(str(err)) < 400


@FUZZ
@given(ko=contents, en=contents)
def test_aligned_text_files_of_random_bytes_read_cleanly_or_fail_in_one_line(ko, en):
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / "c.ko", Path(tmp) / "c.en"]
        paths[0].write_bytes(ko)
        paths[1].write_bytes(en)
        try:
            (source,) = open_sources(paths, ReadOptions())
            check_rows(source, max(lines_in(ko), lines_in(en)))
        except S2SError as err:
            assert "\n" not in str(err) and "not aligned" in str(err)
            assert lines_in(ko) != lines_in(en)


# ---- the whole `s2s prepare` on nasty files ---------------------------------------------------------------------

GOOD = [f"나는 사과를 {i}개 먹었다.\tI ate {i} apples." for i in range(60)]


def table(rows: list[str], header: str = "ko\ten") -> bytes:
    return ((header + "\n") if header else "").encode() + "".join(r + "\n" for r in rows).encode()


NASTY = {  # name: (file name, bytes, what must happen: "ok" or the start of the one-line error)
    "empty": ("c.tsv", b"", "c.tsv:1: empty first line"),
    "header-only": ("c.tsv", b"ko\ten\n", "c.tsv: no sentence pairs (no rows after the header)"),
    "random-bytes": ("c.tsv", bytes(range(255, -1, -1)) * 20, "c.tsv:1: header is not UTF-8"),
    "control-bytes": ("c.tsv", bytes(range(256)) * 20, "c.tsv:1: the header ("),
    "utf-16": ("c.tsv", "ko\ten\n안녕\thi\n".encode("utf-16"), "c.tsv:1: header is not UTF-8"),
    "all-euc-kr": ("c.tsv", table(GOOD).replace("나는".encode(), "나는".encode("euc-kr")),
                   "c.tsv: no sentence pairs left of 60 rows (60 unreadable); first: "),
    "missing-column": ("c.tsv", table([r.split("\t")[0] for r in GOOD]), "c.tsv: no sentence pairs left of 60 rows"),
    "bare-cr-endings": ("c.tsv", table(GOOD).replace(b"\n", b"\r"), "c.tsv:1: lines end with a bare CR"),
    "only-whitespace": ("c.tsv", table([" \t\u3000"] * 60),
                        "c.tsv: no sentence pairs left of 60 rows (60 with an empty side)"),
    "misaligned-text": ("c.ko", None, "c.en: ends after line 59 but"),
    "bom-crlf-nul-controls": ("c.tsv", BOM + table([r.replace("사과", "사\x00과\x1b") for r in GOOD]).replace(
        b"\n", b"\r\n"), "ok"),
    "some-bad-lines": ("c.tsv", table(GOOD[:30]) + b"\xff\xfe\tbad\n" + b"one field\n" + "\t".join(["a"] * 5).encode()
                       + b"\n" + table(GOOD[30:], header=""), "ok"),
    "huge-lines": ("c.tsv", table(GOOD + ["가" * 1_000_000 + "\tlong", "a\t" + "b" * 300_000]), "ok"),
    "csv-quotes-and-huge-field": ("c.csv", table([r.replace("\t", ",") for r in GOOD] + ['"open, never closed'],
                                                 header="ko,en") + b'"' + b"x" * 200_000 + b'",y\n', "ok"),
    "mixed-scripts-and-emoji": ("c.tsv", table(GOOD + ["مرحبا 👩‍👩‍👧\tสวัสดี \u200f🏳️‍🌈"]), "ok"),
}


@pytest.mark.parametrize("case", list(NASTY))
def test_prepare_on_nasty_files_succeeds_or_fails_in_one_line(cli, tmp_path, case):
    name, data, expected = NASTY[case]
    inputs = [tmp_path / name]
    if data is None:  # aligned text files of different lengths
        inputs = [tmp_path / "c.ko", tmp_path / "c.en"]
        inputs[0].write_text("".join(r.split("\t")[0] + "\n" for r in GOOD), encoding="utf-8")
        inputs[1].write_text("".join(r.split("\t")[1] + "\n" for r in GOOD[:59]), encoding="utf-8")
    else:
        inputs[0].write_bytes(data)
    out = tmp_path / "out"
    result = cli("prepare", *inputs, "--out", out, "--vocab-size", "100", "--quiet")
    if expected == "ok":
        assert result.exit_code == 0, result.output
        assert all((out / f).is_file() for f in ("manifest.json", "train.ko.bin", "dev.en.idx", "test.ko"))
    else:
        assert result.exit_code == 2
        line = one_line_error(result.output)
        assert expected in line and len(line) < 400
        assert not out.exists()
    assert leftovers(tmp_path) == []


def test_skipped_lines_are_reported_with_file_and_line(cli, tmp_path):
    data = table(GOOD[:30]) + b"\xff\xfe\tbad\n" + b"one field\n" + table(GOOD[30:], header="")
    (tmp_path / "c.tsv").write_bytes(data)
    result = cli("prepare", tmp_path / "c.tsv", "--out", tmp_path / "out", "--vocab-size", "100")
    assert result.exit_code == 0, result.output
    assert f"{tmp_path / 'c.tsv'}:32: undecodable bytes (not UTF-8) at byte 0" in result.output
    assert f"{tmp_path / 'c.tsv'}:33: 1 tab-separated fields, expected 2" in result.output
    assert "Traceback" not in result.output


@pytest.mark.shared
def test_a_real_dirty_corpus_prepares_and_reports_what_it_dropped(cli, shared_data, tmp_path):
    corpus = shared_data / "noisy" / "kpc-news-dev.tsv"
    out = tmp_path / "news"
    result = cli("prepare", corpus, "--out", out, "--vocab-size", "500")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    kept = sum(manifest["splits"].values())
    dropped = sum(manifest["cleaning"][r] for r in ("malformed", "empty", "too_long", "ratio", "duplicate"))
    assert kept + dropped + manifest["cleaning"]["leak"] >= 990 and kept > 900
    for split in ("train", "dev", "test"):
        for lang in ("ko", "en"):
            text = (out / f"{split}.{lang}").read_text(encoding="utf-8")
            assert not _CONTROL.search(text) and "\r" not in text
    assert leftovers(tmp_path) == []
