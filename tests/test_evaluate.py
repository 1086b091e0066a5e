"""`s2s evaluate`: the default run and split, other splits and files, existing output, sacrebleu's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu

from s2s.metrics import bleu_tokenizer


def scores(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_default_is_the_newest_run_on_its_test_split(cli, tiny_run, prepared_sample, monkeypatch):
    monkeypatch.chdir(tiny_run.parent.parent)  # holds runs/latest
    result = cli("evaluate", "--bleu")
    assert result.exit_code == 0, result.output
    words = " ".join(result.stdout.split())  # the title may wrap
    assert "test split of" in words and "(200 sentences, target en)" in words
    assert "BLEU" in result.stdout and "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" in result.stdout
    result = cli("evaluate", "--bleu", "--chrf", "--ter", "--json")
    got = scores(result)
    assert got["source"] == f"test split of {prepared_sample.resolve()}" and got["sentences"] == 200
    assert got["tgt_lang"] == "en" and got["BLEU"]["tokenizer"] == "13a" and got["notes"] == []
    assert {"BLEU", "chrF2", "TER"} <= set(got) and got["chrF2"]["signature"].startswith("nrefs:1|")


def test_dev_split_with_saved_translations_matches_translate(cli, tiny_run, prepared_sample, tmp_path):
    saved = tmp_path / "out" / "dev.hyp"
    got = scores(cli("evaluate", "-m", tiny_run, "--split", "dev", "--bleu", "--chrf", "--json", "--save-hyp", saved))
    assert got["source"].startswith("dev split of") and got["sentences"] == 200
    hyps = saved.read_text(encoding="utf-8").split("\n")[:-1]
    refs = (prepared_sample / "dev.en").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(hyps) == len(refs) == 200
    # evaluate and translate decode the same way: the saved hypotheses are translate's output
    translated = tmp_path / "translated"
    assert cli("translate", "-m", tiny_run, "-i", prepared_sample / "dev.ko", "-o", translated).exit_code == 0
    assert translated.read_text(encoding="utf-8") == saved.read_text(encoding="utf-8")
    assert got["BLEU"]["score"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-4)
    assert got["chrF2"]["score"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-4)


def test_src_and_ref_files(cli, tiny_run, prepared_sample, tmp_path):
    src = write(tmp_path / "s.ko", (prepared_sample / "test.ko").read_text(encoding="utf-8").splitlines()[:20])
    ref = write(tmp_path / "r.en", (prepared_sample / "test.en").read_text(encoding="utf-8").splitlines()[:20])
    got = scores(cli("evaluate", "-m", tiny_run, "--src", src, "--ref", ref, "--json", "--decoder", "greedy",
                     "--save-hyp", tmp_path / "h.en"))
    assert got["source"] == f"{src} vs {ref}" and got["sentences"] == 20
    hyps = (tmp_path / "h.en").read_text(encoding="utf-8").splitlines()
    assert got["BLEU"]["score"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [ref.read_text().splitlines()]).score,
                                                 abs=1e-4)


def test_hyp_and_ref_scores_by_hand(cli, tmp_path):
    ref = write(tmp_path / "ref", ["the cat sat on a mat"])
    same = scores(cli("evaluate", "--hyp", ref, "--ref", ref, "--bleu", "--chrf", "--ter", "--json"))
    assert same["BLEU"]["score"] == 100 and same["chrF2"]["score"] == 100 and same["TER"]["score"] == 0
    hyp = write(tmp_path / "hyp", ["the cat sat on the mat"])
    got = scores(cli("evaluate", "--hyp", hyp, "--ref", ref, "--bleu", "--chrf", "--ter", "--json"))
    # n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths, so no brevity penalty
    by_hand = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert got["BLEU"]["score"] == pytest.approx(by_hand, abs=1e-4) == pytest.approx(53.7285, abs=1e-4)
    assert got["BLEU"]["score"] == pytest.approx(sacrebleu.corpus_bleu(["the cat sat on the mat"],
                                                                       [["the cat sat on a mat"]]).score, abs=1e-4)
    assert got["TER"]["score"] == pytest.approx(100 / 6, abs=1e-3)  # one substitution in six words
    assert got["chrF2"]["score"] == pytest.approx(
        sacrebleu.corpus_chrf(["the cat sat on the mat"], [["the cat sat on a mat"]]).score, abs=1e-4)


def test_table_shows_full_signatures(cli, tmp_path):
    ref = write(tmp_path / "ref", ["the cat sat on a mat"])
    result = cli("evaluate", "--hyp", ref, "--ref", ref, "--bleu", "--chrf", "--ter")
    assert result.exit_code == 0, result.output
    flat = "".join(line.strip("│┃ ") for line in result.stdout.splitlines())  # signatures wrap, never cut
    for name in ("BLEU", "chrF2", "TER"):
        assert name in result.stdout
    assert "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" in flat and "…" not in result.stdout


def test_korean_targets_name_their_tokenizer(cli, tmp_path):
    ref = write(tmp_path / "ref.ko", ["나는 학교에 가는 학생이다.", "정말 고마워요, 내일 또 만나요!"])
    got = scores(cli("evaluate", "--hyp", ref, "--ref", ref, "--json"))  # Hangul references: target ko
    assert got["tgt_lang"] == "ko" and got["BLEU"]["score"] == 100
    table = cli("evaluate", "--hyp", ref, "--ref", ref, "--bleu", "--chrf").stdout
    if bleu_tokenizer("ko") == "ko-mecab":
        assert got["BLEU"]["tokenizer"] == "ko-mecab" and "tok:ko-mecab" in got["BLEU"]["signature"]
        assert got["notes"] == []
    else:  # the fallback is said in the JSON and under the table, with the fix
        assert got["BLEU"]["tokenizer"] == "13a" and "tok:13a" in got["BLEU"]["signature"]
        assert len(got["notes"]) == 1 and 'pip install "sacrebleu[ko]"' in got["notes"][0]
        assert "BLEU (13a fallback)" in table and 'pip install "sacrebleu[ko]"' in table
    assert "chrF2" in table
    english = scores(cli("evaluate", "--hyp", ref, "--ref", ref, "--json", "--tgt-lang", "en"))
    assert english["tgt_lang"] == "en" and english["notes"] == []


def test_misaligned_or_missing_files_are_one_clean_line(cli, tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    three, four = write(tmp_path / "three", ["a", "b", "c"]), write(tmp_path / "four", ["a", "b", "c", "d"])
    cases = {
        ("--hyp", three, "--ref", four): f"{three} has 3 lines but {four} has 4: the files must align line by line",
        ("-m", tiny_run, "--src", three, "--ref", four): f"{three} has 3 lines but {four} has 4",
        ("--hyp", three): "--hyp needs --ref",
        ("-m", tiny_run, "--src", three): "--src and --ref go together",
        ("--hyp", tmp_path / "nope", "--ref", four): "nope: no such hypothesis file",
        ("--split", "train"): "--split: 'train' is not a split; choose one of: dev, test",
        (): "runs/latest does not exist",
        ("--hyp", write(tmp_path / "empty", []), "--ref", write(tmp_path / "empty2", [])): "nothing to score",
    }
    for args, message in cases.items():
        result = cli("evaluate", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
        assert "Traceback" not in result.output
