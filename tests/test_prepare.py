"""`s2s prepare` end to end: outputs, determinism, the cleaning and split rules, errors, overwriting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from s2s.data.cleaning import CleaningOptions
from s2s.data.dataset import ParallelData
from s2s.data.manifest import load_manifest
from s2s.data.prepare import PrepareOptions, prepare
from s2s.data.subwords import SubwordOptions

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
