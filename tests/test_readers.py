"""Every input format read into rows; bad lines become rows with a problem, never exceptions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from s2s.data.readers import ReadOptions, language_of, open_sources
from s2s.data.rows import read_rows
from s2s.errors import S2SError


def rows_of(paths: list[Path], want=("ko", "en"), **options):
    sources = open_sources(paths, ReadOptions(**options))
    return [row for source in sources for row in read_rows(source, want)]


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_tsv_with_header_in_either_column_order(tmp_path):
    path = write(tmp_path / "c.tsv", "en\tko\nHello.\t안녕.\nBye.\t잘 가.\n")
    rows = rows_of([path])
    assert [r.texts for r in rows] == [("안녕.", "Hello."), ("잘 가.", "Bye.")]
    assert [r.line for r in rows] == [2, 3]
    assert rows_of([path], want=("en", "ko"))[0].texts == ("Hello.", "안녕.")


def test_ai_hub_korean_headers_and_other_columns(tmp_path):
    path = write(tmp_path / "aihub.tsv", "ID\t대분류\t원문\t번역문\n1\t일상\t고마워요.\tThank you.\n")
    (source,) = open_sources([path], ReadOptions())
    assert source.languages == ("ko", "en")
    assert rows_of([path])[0].texts == ("고마워요.", "Thank you.")


@pytest.mark.parametrize("cell, lang", [("ko", "ko"), ("EN", "en"), ("원문", "ko"), ("번역문", "en"), ("ID", None), ("src", None)])
def test_header_cells(cell, lang):
    assert language_of(cell) == lang


def test_fields_beginning_with_a_quote_are_literal_in_tsv(tmp_path):
    path = write(tmp_path / "q.tsv", 'ko\ten\n"안녕," 그가 말했다.\t"Hi," he said.\n"\t"\n')
    assert [r.texts for r in rows_of([path])] == [('"안녕," 그가 말했다.', '"Hi," he said.'), ('"', '"')]


def test_headerless_tsv_with_columns(tmp_path):
    path = write(tmp_path / "raw.tsv", "7\tHello.\t안녕.\n8\tBye.\t잘 가.\n")
    rows = rows_of([path], header=False, columns=(3, 2), langs=("ko", "en"))
    assert [r.texts for r in rows] == [("안녕.", "Hello."), ("잘 가.", "Bye.")]
    assert rows[0].line == 1


def test_headerless_defaults_to_columns_1_2_as_ko_en(tmp_path):
    path = write(tmp_path / "raw.tsv", "안녕.\tHello.\n")
    assert rows_of([path], header=False)[0].texts == ("안녕.", "Hello.")


def test_csv_quoting_with_header_and_without(tmp_path):
    path = write(tmp_path / "c.csv", 'ko,en\n"안녕, 친구","Hi, ""friend"""\n"두 줄\n문장",Two lines\n끝,End\n')
    rows = rows_of([path])
    assert [r.texts for r in rows] == [("안녕, 친구", 'Hi, "friend"'), ("두 줄\n문장", "Two lines"), ("끝", "End")]
    assert [r.line for r in rows] == [2, 3, 5]
    bare = write(tmp_path / "bare.txt", '"a, b",c\n')
    assert rows_of([bare], format="csv", header=False)[0].texts == ("a, b", "c")


def test_aligned_text_files_by_suffix(tmp_path):
    ko = write(tmp_path / "corpus.ko", "안녕.\n잘 가.\n")
    en = write(tmp_path / "corpus.en", "Hello.\nBye.\n")
    rows = rows_of([en, ko])  # order of the arguments doesn't matter: the suffix says the language
    assert [r.texts for r in rows] == [("안녕.", "Hello."), ("잘 가.", "Bye.")]


def test_text_files_with_explicit_languages(tmp_path):
    a = write(tmp_path / "a.txt", "안녕.\n")
    b = write(tmp_path / "b.txt", "Hello.\n")
    assert rows_of([a, b], format="text", langs=("ko", "en"))[0].texts == ("안녕.", "Hello.")


def test_misaligned_text_files_are_an_error(tmp_path):
    ko = write(tmp_path / "c.ko", "하나\n둘\n")
    en = write(tmp_path / "c.en", "one\n")
    with pytest.raises(S2SError, match=r"c\.en: ends after line 1 .* not aligned"):
        rows_of([ko, en])


def test_one_side_of_a_text_pair_alone_is_an_error(tmp_path):
    ko = write(tmp_path / "c.ko", "하나\n")
    with pytest.raises(S2SError, match=r"c\.ko: one side of an aligned text pair.*c\.en"):
        rows_of([ko])


def test_bom_crlf_and_nul(tmp_path):
    path = write(tmp_path / "w.tsv", b"\xef\xbb\xbfko\ten\r\n\xec\x95\x88\xeb\x85\x95\x00\tHi\r\n")
    (row,) = rows_of([path])
    assert row.texts == ("안녕\x00", "Hi")  # NUL is left for cleaning, which counts it


def test_undecodable_and_short_lines_become_problems_with_their_line(tmp_path):
    path = write(tmp_path / "bad.tsv", b"ko\ten\n\xff\xfe\tx\n\xec\x95\x88\n\xec\x95\x88\tok\n")
    rows = rows_of([path])
    assert [(r.line, r.problem is None) for r in rows] == [(2, False), (3, False), (4, True)]
    assert "not UTF-8" in rows[0].problem and "1 tab-separated fields, expected 2" in rows[1].problem
    assert rows[2].texts == ("안", "ok")


def test_undecodable_csv_record(tmp_path):
    path = write(tmp_path / "bad.csv", b"ko,en\n\xff,x\nok,fine\n")
    rows = rows_of([path])
    assert rows[0].problem and "not UTF-8" in rows[0].problem and rows[1].texts == ("ok", "fine")


def test_header_without_languages_says_what_to_do(tmp_path):
    path = write(tmp_path / "h.tsv", "source\ttarget\na\tb\n")
    with pytest.raises(S2SError, match=r"h\.tsv:1: .*--no-header"):
        rows_of([path])


def test_missing_language_column(tmp_path):
    path = write(tmp_path / "c.tsv", "ko\tja\n안녕\tこんにちは\n")
    with pytest.raises(S2SError, match="has no 'en' column"):
        rows_of([path])


def test_missing_file(tmp_path):
    with pytest.raises(S2SError, match="no such file"):
        rows_of([tmp_path / "nope.tsv"])


def test_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["ID", "원문", "번역문"])
    sheet.append([1, "고마워요.", "Thank you."])
    sheet.append([2, None, "Empty Korean."])
    book.save(tmp_path / "aihub.xlsx")
    rows = rows_of([tmp_path / "aihub.xlsx"])
    assert [(r.line, r.texts) for r in rows] == [(2, ("고마워요.", "Thank you.")), (3, ("", "Empty Korean."))]


def test_xlsx_without_openpyxl_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # makes `import openpyxl` fail
    path = write(tmp_path / "aihub.xlsx", b"PK\x03\x04")
    with pytest.raises(S2SError, match=r'pip install "s2s\[xlsx\]"'):
        rows_of([path])
