"""`s2s translate` on hostile input keeps its promise: exit 0 and exactly one output line per input line.

Very long lines, control characters, only punctuation, other scripts (Arabic, Hebrew, Thai, CJK), emoji and
zero-width joiners, bidi marks, lone surrogates and bytes that are not UTF-8, Unicode line separators inside a
line: through the CLI in-process, through a real pipe, and fuzzed with hypothesis below the CLI.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2s.streaming import read_chunks
from s2s.translate import format_line
from s2s.translator import Translator

from reliability import train_tiny

ROOT = Path(__file__).resolve().parents[1]

HOSTILE_TEXT = [
    "안녕하세요.",
    "",
    "이것은 아주 긴 문장입니다 " * 1500,  # 21,000 characters
    "a" * 50_000,  # one 50,000-character word
    "😀" * 5_000,
    "\x00\x01\x07\x1b[31m\x7f\x9b",
    "!!!???...,,,;;;",
    "。、「」『』！？",
    "مرحبا بالعالم",
    "\u202eשלום עולם\u202c \u200f",
    "สวัสดีครับ ภาษาไทยไม่มีช่องว่าง",
    "你好，世界。日本語の文章です。",
    "👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 🇰🇷",
    "\u200d\u200c\u200b\u2060",
    "\ufeff맨 앞에 BOM",
    "e\u0301\u0301\u0301 \u1112\u1161\u11ab",
    "line\u2028separator\u2029paragraph\x85next\x0bvertical\x0cfeed",
    "a\tb\tc",
    "mid\rline carriage return",
    "\u3000\u3000",
]
HOSTILE_BYTES = [b"\xff\xfe not utf-8", b"\xed\xa0\x80 a lone surrogate", b"\xc0\xaf overlong", b"\xe4\xb8 cut short"]


def hostile_input() -> bytes:
    return b"\n".join([t.encode("utf-8") for t in HOSTILE_TEXT] + HOSTILE_BYTES) + b"\n\n" + "끝".encode()


def lines_in(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def output_lines(stdout: bytes) -> list[str]:
    text = stdout.decode("utf-8")  # only UTF-8 comes out, whatever came in
    assert text.endswith("\n") or text == ""
    return text.split("\n")[:-1]


@pytest.fixture(scope="module")
def run(tmp_path_factory, prepared_sample) -> Path:
    return train_tiny(prepared_sample, tmp_path_factory.mktemp("translate") / "run")


@pytest.fixture(scope="module")
def translator(run) -> Translator:
    return Translator.from_checkpoint(run / "checkpoints" / "last.pt")


@pytest.mark.parametrize("options, fields", [([], 1), (["--scores"], 2),
                                             (["--decoder", "beam", "--beam", "2", "--nbest", "2"], 4)],
                         ids=["plain", "scores", "nbest"])
def test_hostile_input_keeps_one_output_line_per_input_line(cli, run, translator, tmp_path, options, fields):
    data = hostile_input()
    (tmp_path / "in.txt").write_bytes(data)
    result = cli("translate", "-m", run, "-i", tmp_path / "in.txt", "-o", tmp_path / "out.txt", *options)
    assert result.exit_code == 0, result.output
    out = output_lines((tmp_path / "out.txt").read_bytes())
    assert len(out) == lines_in(data) == len(HOSTILE_TEXT) + len(HOSTILE_BYTES) + 2
    for line, got in zip(HOSTILE_TEXT, out):
        if not line.strip() or not translator.src_vocab.encode(line):  # nothing left to translate
            assert got == ""
        else:
            assert len(got.split("\t")) == fields


def test_hostile_bytes_through_a_real_pipe(run):
    data = hostile_input()
    child = subprocess.run([sys.executable, "-m", "s2s", "translate", "-m", str(run)], input=data,
                           capture_output=True, cwd=ROOT, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert child.returncode == 0, child.stderr.decode(errors="replace")
    assert len(output_lines(child.stdout)) == lines_in(data)
    assert child.stderr == b""


# ---- below the CLI, fuzzed ----------------------------------------------------------------------------------------

FUZZ = settings(max_examples=int(os.environ.get("S2S_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
any_line = st.text(st.characters(blacklist_characters="\n"), max_size=60)  # lone surrogates included


@FUZZ
@given(lines=st.lists(any_line, max_size=8))
def test_any_text_gets_exactly_one_single_line_answer(translator, lines):
    results = translator.translate(lines)
    assert len(results) == len(lines)
    for line, result in zip(lines, results):
        text = format_line(result, scores=True)
        assert not any(c in text for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        text.encode("utf-8")
        if not line.strip():
            assert text == ""


@FUZZ
@given(data=st.binary(max_size=3000), chunk=st.integers(1, 70), through_a_pipe=st.booleans())
def test_any_bytes_are_read_as_one_string_per_line(data, chunk, through_a_pipe):
    if through_a_pipe:
        read_fd, write_fd = os.pipe()
        os.write(write_fd, data)  # under the 64 KiB pipe buffer
        os.close(write_fd)
        stream = os.fdopen(read_fd, "rb")
    else:
        stream = io.BytesIO(data)
    with stream:
        chunks = list(read_chunks(stream, chunk))
    lines = [line for c in chunks for line in c]
    assert all(0 < len(c) <= chunk for c in chunks)
    assert len(lines) == lines_in(data)
    assert all("\n" not in line for line in lines) and all(line.encode("utf-8") for line in lines if line)
