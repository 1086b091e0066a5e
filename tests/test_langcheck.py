"""`s2s prepare` refuses a corpus whose columns hold another script than their language codes say
(`s2s/data/langcheck.py`): swapped or mislabelled columns, in one line, before any work; `--no-lang-check` lets
it through. Mixed text (Korean with Latin code names) passes, on made-up lines and on the real Python-docs pairs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reliability import leftovers, one_line_error

KO, EN = "나는 사과를 {}개 먹었다.", "I ate {} apples."
OTHER = {  # code: (a sentence with a number in it, the script its letters are in, as the message names it)
    "ja": ("私はりんごを{}個食べた。", "Hiragana"),
    "zh": ("我吃了{}个苹果。", "Han"),
    "ru": ("Я съел {} яблок.", "Cyrillic"),
    "el": ("Έφαγα {} μήλα.", "Greek"),
    "ar": ("أكلت {} تفاحات.", "Arabic"),
    "he": ("אכלתי {} תפוחים.", "Hebrew"),
    "th": ("ฉันกินแอปเปิ้ล {} ลูก", "Thai"),
    "hi": ("मैंने {} सेब खाए।", "Devanagari"),
}
SMALL = ("--vocab-size", "100", "--quiet")


def table(path: Path, header: str, left: str, right: str, n: int = 30) -> Path:
    rows = "".join(f"{left.format(i)}\t{right.format(i)}\n" for i in range(n))
    path.write_text(header + "\n" + rows, encoding="utf-8")
    return path


def refused(result) -> str:
    assert result.exit_code == 2, result.output
    return one_line_error(result.output)


def test_swapped_ko_en_columns_are_refused_and_the_old_output_is_kept(cli, tmp_path):
    out = tmp_path / "data"
    assert cli("prepare", table(tmp_path / "good.tsv", "ko\ten", KO, EN), "--out", out, *SMALL).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    swapped = table(tmp_path / "swapped.tsv", "ko\ten", EN, KO)
    line = refused(cli("prepare", swapped, "--out", out, "--force", *SMALL))
    assert line == (f"s2s: error: {swapped}: the 'ko' column looks like English (Latin script in 100% of letters) "
                    "and the 'en' column like Korean; swap the labels (--langs en,ko names the columns in file "
                    "order) or pass --no-lang-check")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and leftovers(tmp_path) == []
    # the fix the message names, and the way out
    assert cli("prepare", swapped, "--out", out, "--force", "--langs", "en,ko", *SMALL).exit_code == 0
    assert (out / "train.ko").read_text(encoding="utf-8").startswith("나는 사과를")
    assert cli("prepare", swapped, "--out", out, "--force", "--no-lang-check", *SMALL).exit_code == 0
    assert (out / "train.ko").read_text(encoding="utf-8").startswith("I ate")


def test_english_under_ai_hub_korean_column_names_is_refused(cli, tmp_path):
    swapped = tmp_path / "aihub.tsv"
    swapped.write_text("ID\t원문\t번역문\n" + "".join(f"{i}\t{EN.format(i)}\t{KO.format(i)}\n" for i in range(30)),
                       encoding="utf-8")
    line = refused(cli("prepare", swapped, "--out", tmp_path / "out", *SMALL))
    assert f"{swapped}: the 'ko' column looks like English" in line and "the 'en' column like Korean" in line
    english_twice = table(tmp_path / "en-en.tsv", "원문\t번역문", EN, "You ate {} pears.")
    line = refused(cli("prepare", english_twice, "--out", tmp_path / "out", *SMALL))
    assert line.startswith(f"s2s: error: {english_twice}: the 'ko' column looks like English (Latin script in 100% "
                           "of letters), not Korean; check the language labels")
    assert not (tmp_path / "out").exists()


def test_swapped_aligned_text_files_are_refused_naming_the_file(cli, tmp_path):
    ko, en = tmp_path / "corpus.ko", tmp_path / "corpus.en"
    ko.write_text("".join(EN.format(i) + "\n" for i in range(30)), encoding="utf-8")
    en.write_text("".join(KO.format(i) + "\n" for i in range(30)), encoding="utf-8")
    line = refused(cli("prepare", ko, en, "--out", tmp_path / "out", *SMALL))
    assert f"{ko} looks like English (Latin script in 100% of letters) and {en} like Korean" in line
    assert "--langs en,ko names the files in the order given" in line


@pytest.mark.parametrize("code", list(OTHER))
def test_each_script_is_checked_against_its_language_code(cli, tmp_path, code):
    sentence, script = OTHER[code]
    out = tmp_path / "out"
    result = cli("prepare", table(tmp_path / "right.tsv", f"{code}\ten", sentence, EN), "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    assert (out / f"train.{code}").read_text(encoding="utf-8").startswith(sentence.split("{}")[0])
    wrong = table(tmp_path / "wrong.tsv", "ko\ten", sentence, EN)  # labelled Korean
    line = refused(cli("prepare", wrong, "--out", tmp_path / "other", *SMALL))
    assert f"{wrong}: the 'ko' column" in line and "Korean" in line
    assert re.search(rf"\({script} script in \d+% of letters", line), line


def test_codes_without_a_known_script_are_not_checked(cli, tmp_path):
    corpus = table(tmp_path / "c.tsv", "ko\tqq", KO, KO.replace("사과", "배"))
    assert cli("prepare", corpus, "--out", tmp_path / "out", *SMALL).exit_code == 0


def test_korean_with_latin_code_names_passes(cli, tmp_path):
    """Python-docs-style lines: 56% of the Korean side's letters are Hangul, 44% Latin."""
    ko = "`sys.stdout` 에 {} 번째 값을 출력하는 함수는 반드시 `print` 입니다."
    en = "The function that writes value number {} to `sys.stdout` must be `print`."
    corpus = table(tmp_path / "docs.tsv", "ko\ten", ko, en)
    result = cli("prepare", corpus, "--out", tmp_path / "out", *SMALL)
    assert result.exit_code == 0, result.output


@pytest.mark.shared
def test_real_python_docs_pairs_pass_and_real_corpora_swapped_are_refused(cli, shared_data, tmp_path):
    """The most mixed real text (Korean Python-docs translations, 72% Hangul) prepares; every shared corpus with
    its header swapped is refused."""
    train = (shared_data / "ko-en" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    sources = (shared_data / "ko-en" / "train.sources.txt").read_text(encoding="utf-8").splitlines()
    docs = [pair for pair, source in zip(train, sources) if source == "python-docs-ko"][:3000]
    corpus = tmp_path / "python-docs.tsv"
    corpus.write_text("ko\ten\n" + "\n".join(docs) + "\n", encoding="utf-8")
    result = cli("prepare", corpus, "--out", tmp_path / "docs", "--vocab-size", "500", "--quiet")
    assert result.exit_code == 0, result.output
    for real in (corpus, shared_data / "tatoeba" / "kor-eng.tsv", shared_data / "noisy" / "kpc-news-dev.tsv",
                 shared_data / "ko-en" / "train.tsv"):
        lines = real.read_text(encoding="utf-8").split("\n", 1)[1]
        swapped = tmp_path / f"swapped-{real.name}"
        swapped.write_text("en\tko\n" + lines, encoding="utf-8")
        line = refused(cli("prepare", swapped, "--out", tmp_path / "out", *SMALL))
        assert "the 'en' column looks like Korean" in line and "the 'ko' column like English" in line
