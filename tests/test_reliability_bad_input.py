"""Bad corpora, tried systematically: `prepare` keeps what is valid and reports the rest by file:line, or fails
in one clear line; never a traceback, never a partial output directory.

The reader and cleaning layer is fuzzed with hypothesis (random bytes, invalid UTF-8, BOM, CRLF and bare CR,
NUL and other controls, other encodings, wrong column counts, quotes, huge lines); the whole `s2s prepare` runs
on a smaller catalogue of nasty files, and on a real dirty corpus (loosely aligned news with HTML entities and
mojibake) when `../shared/data` is there.
"""

from __future__ import annotations

import codecs
import os
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2s.data.cleaning import _CONTROL, Cleaner, CleaningOptions, Tally
from s2s.data.readers import ReadOptions, open_sources, read_rows
from s2s.errors import S2SError

from reliability import leftovers, one_line_error

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
