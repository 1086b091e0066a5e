"""`s2s translate`: one output line per input line, in order, streamed, quiet in pipelines, clean errors, whatever
the input (hostile text and bytes) and wherever the output (a full disk, a place that cannot be written).

Driven through `CliRunner` in-process and as a subprocess in real pipes (streaming, `| head`, Ctrl-C). Every
subprocess read has a timeout, so a translate that stops streaming fails the test instead of hanging the suite.
"""

from __future__ import annotations

import io
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from reliability import one_line_error, train_tiny
from s2s.streaming import read_chunks
from s2s.translate import format_line
from s2s.translator import Translation, Translator


ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds for one answer from a subprocess: generous, for a loaded 2-core machine

AWKWARD = [
    "안녕하세요.",
    "",
    "나는 학생이다.",
    "   ",
    "이것은 아주 긴 문장입니다 " * 385,  # a 5,005-character line: cut to the model's limit, still one line
    "좋아요 😀🎉👍🏽 고마워요",
    "Hello 안녕 日本語 Привет مرحبا ελληνικά",
    "",
    "탭\t안에 있는 문장",
    "끝",
]


def translate(*args: str | Path, input: bytes = b""):
    """`s2s translate ARGS` in-process with `input` on stdin; click's Result (stdout and stderr apart)."""
    from typer.testing import CliRunner

    from s2s.cli import app

    return CliRunner().invoke(app, ["translate", *map(str, args)], input=input)


def lines_of(text: str) -> list[str]:
    assert text.endswith("\n") or text == ""
    return text.split("\n")[:-1]


def alone(run: Path, line: str) -> str:
    """`line` translated on its own, in-process, as `--scores` would write it."""
    translator = Translator.load(run / "checkpoints" / "best.pt")
    return format_line(translator.translate([line])[0], scores=True)


def test_line_count_and_order_hold_on_awkward_input(tiny_run):
    assert len(AWKWARD[4]) > 5000
    text = "\n".join(AWKWARD) + "\n"
    result = translate("-m", tiny_run, "--scores", input=text.encode("utf-8"))
    assert result.exit_code == 0, result.output
    out = lines_of(result.stdout)
    assert len(out) == len(AWKWARD)
    for line, got in zip(AWKWARD, out):
        if not line.strip():
            assert got == ""  # an empty line gives an empty line, even with --scores
            continue
        text_out, score = got.split("\t")
        assert text_out.strip() and float(score) < 0
        # Sorted by length and batched, yet each line gets its own translation back (the scores all differ).
        expected_text, expected_score = alone(tiny_run, line).split("\t")
        assert text_out == expected_text
        assert float(score) == pytest.approx(float(expected_score), abs=2e-3)
    assert len({o.split("\t")[1] for o in out if o}) == sum(1 for line in AWKWARD if line.strip())


def test_plain_output_and_odd_input_bytes(tiny_run):
    # No trailing newline, a CRLF line, bytes that are not UTF-8: still one line out per line in.
    result = translate("-m", tiny_run, input="안녕\r\n".encode() + b"\xff\xfe bad\n" + "끝".encode())
    assert result.exit_code == 0, result.output
    out = lines_of(result.stdout)
    assert len(out) == 3 and all(o.strip() and "\t" not in o for o in out)
    assert result.stderr == ""


def test_nbest_writes_candidates_with_scores(tiny_run):
    result = translate("-m", tiny_run, "--nbest", "3", input="안녕하세요.\n\n고마워요!\n".encode())
    assert result.exit_code == 0, result.output
    first, empty, last = lines_of(result.stdout)
    assert empty == ""
    for line in (first, last):
        fields = line.split("\t")
        assert len(fields) == 6
        texts, scores = fields[0::2], [float(s) for s in fields[1::2]]
        assert all(t.strip() for t in texts)  # three hypotheses (their texts may coincide: "▁." and ".")
        assert scores == sorted(scores, reverse=True)  # the tiny run's beam has no length penalty
    assert first.split("\t")[0] == alone(tiny_run, "안녕하세요.").split("\t")[0]  # the best is beam's 1-best


def test_decoder_options_that_do_not_apply_are_refused(tiny_run):
    cases = {("--decoder", "greedy", "--nbest", "2"): "--nbest 2: the greedy decoder has no such option (it applies to: beam, sample)",
             ("--decoder", "greedy", "--beam", "4"): "--beam 4: the greedy decoder has no such option (it applies to: beam)",
             ("--nbest", "5"): "--nbest 5: must be between 1 and beam_size (3)",
             ("--beam", "0"): "--beam 0: must be >= 1",
             ("--decoder", "beem"): "'beem' is not a decoding strategy; choose one of: beam, greedy, sample"}
    for args, message in cases.items():
        result = translate("-m", tiny_run, *args, input=b"a\n")
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)
        assert result.stdout == "" and "Traceback" not in result.output


def test_input_and_output_files(tiny_run, tmp_path):
    src = tmp_path / "in.ko"
    src.write_text("안녕하세요.\n\n고마워요!\n", encoding="utf-8")
    out = tmp_path / "sub" / "out.en"
    out.parent.mkdir()
    result = translate("-m", tiny_run, "-i", src, "-o", out, "--decoder", "greedy")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    written = lines_of(out.read_text(encoding="utf-8"))
    assert len(written) == 3 and written[1] == "" and written[0] and written[2]
    result = translate("-m", tiny_run, "-i", tmp_path / "missing.ko")
    assert result.exit_code == 2 and "missing.ko: cannot read" in result.stderr
    result = translate("-m", tiny_run, "-i", src, "-o", src)
    assert result.exit_code == 2 and "is the input file too" in result.stderr
    assert src.read_text(encoding="utf-8") == "안녕하세요.\n\n고마워요!\n"


def test_runs_latest_is_the_default(tiny_run, monkeypatch):
    monkeypatch.chdir(tiny_run.parent.parent)  # holds runs/latest -> tiny
    with_default = translate("--scores", input="안녕하세요.\n".encode())
    named = translate("-m", tiny_run, "--scores", input="안녕하세요.\n".encode())
    assert with_default.exit_code == 0 and with_default.stdout == named.stdout != ""


def test_missing_or_bad_model_is_one_clean_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    cases = {(): "runs/latest does not exist", ("-m", "nowhere"): "nowhere: no such run directory or checkpoint",
             ("-m", garbage): "garbage.pt: not", ("-m", tmp_path): "no checkpoints"}
    for args, message in cases.items():
        result = translate(*args, input=b"a\n")
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("s2s: error: ") and message in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stdout == ""


# ---- real pipes -------------------------------------------------------------------------------------------------


class Process:
    """`python -m s2s translate ...` with stdin/stdout pipes, read with a timeout (select) in this thread."""

    def __init__(self, *args: str | Path, env: dict | None = None):
        self.proc = subprocess.Popen([sys.executable, "-m", "s2s", "translate", *map(str, args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     cwd=ROOT, env={**os.environ, **(env or {})},
                                     # as from a terminal: a test suite started in the background (CI scripts,
                                     # `make test &`) has SIGINT ignored, and a child would inherit that
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.buffer = b""

    def send(self, text: str) -> None:
        self.proc.stdin.write(text.encode("utf-8"))
        self.proc.stdin.flush()

    def receive(self) -> str:
        """The next output line; fails (never hangs) if none comes within TIMEOUT seconds."""
        deadline = time.monotonic() + TIMEOUT
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.proc.kill()
                pytest.fail(f"no output line within {TIMEOUT}s while the input was still open: no streaming")
            data = os.read(fd, 1 << 16)
            assert data, f"translate ended early: {self.finish()}"
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8")

    def finish(self) -> tuple[int, str]:
        """Close stdin, wait for the exit; (exit code, stderr)."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"translate did not end within {TIMEOUT}s")
        return self.proc.returncode, self.proc.stderr.read().decode("utf-8", errors="replace")


def test_translations_stream_while_the_input_is_open(tiny_run):
    # A non-UTF-8 locale must not matter: the output is UTF-8 bytes.
    p = Process("-m", tiny_run, "--scores", env={"PYTHONIOENCODING": "ascii"})
    p.send("안녕하세요.\n")
    first = p.receive()  # answered while stdin is still open
    p.send("\n")
    assert p.receive() == ""
    p.send("고마워요!\n")
    third = p.receive()
    code, err = p.finish()
    assert code == 0 and err == ""
    assert first == alone(tiny_run, "안녕하세요.") and third == alone(tiny_run, "고마워요!")


def test_a_reader_that_leaves_early_ends_it_quietly(tiny_run):
    # `s2s translate | head -3`: read three lines, close the pipe, then give it more to write.
    p = Process("-m", tiny_run, "--decoder", "greedy")
    p.send("하나\n둘\n셋\n")
    for _ in range(3):
        p.receive()
    p.proc.stdout.close()
    try:
        p.send("넷\n다섯\n" * 50)
    except BrokenPipeError:  # it may already have gone
        pass
    code, err = p.finish()
    assert code == 0, err
    assert err == ""  # no traceback, no "Exception ignored ... BrokenPipeError"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_exits_cleanly(tiny_run):
    p = Process("-m", tiny_run, "--decoder", "greedy")
    p.send("안녕\n")
    p.receive()  # loaded and waiting for input
    p.proc.send_signal(signal.SIGINT)
    code, err = p.finish()
    assert code == 130 and err == "s2s: interrupted\n"


# ---- pieces -----------------------------------------------------------------------------------------------------


def test_read_chunks_yields_what_is_ready_without_waiting_for_the_end():
    read_fd, write_fd = os.pipe()
    with open(read_fd, "rb", buffering=0) as reader:
        chunks = read_chunks(reader, max_lines=4)
        os.write(write_fd, "하나\r\n둘\n".encode())
        assert next(chunks) == ["하나", "둘"]  # the pipe is still open: nothing more was waited for
        os.write(write_fd, b"".join(b"%d\n" % i for i in range(10)))
        assert next(chunks) == ["0", "1", "2", "3"]  # full chunks while more is ready
        assert next(chunks) == ["4", "5", "6", "7"]
        assert next(chunks) == ["8", "9"]
        os.write(write_fd, b"\xff no newline at the end")
        os.close(write_fd)
        assert next(chunks) == ["\ufffd no newline at the end"]
        assert next(chunks, None) is None


def test_format_line_keeps_one_line_per_translation():
    from s2s.decoding import Hypothesis

    hyps = [Hypothesis([5], -1.5, -1.5), Hypothesis([6], -2.25, -2.25)]
    t = Translation(["a\tb\nc\u2028d", "e"], hyps, [])
    assert format_line(t) == "a b c d"
    assert format_line(t, scores=True) == "a b c d\t-1.5000"
    assert format_line(t, nbest=2) == "a b c d\t-1.5000\te\t-2.2500"
    assert format_line(Translation([], [], []), nbest=2, scores=True) == ""


def test_a_line_longer_than_the_transformer_gives_one_line(prepared_sample, tmp_path):
    """A Transformer of 16 positions, trained and validated on the sample (whose dev sentences run longer), then
    given a 5,000-character line: the source is cut to what the model can encode, the output stops within its
    positions, and each input line still gives one output line."""
    from reliability import train_quietly

    from s2s.config import recipe_from_dict

    raw = {
        "data": {"max_tokens": 600, "max_len": 15},
        "model": {"arch": "transformer", "d_model": 32, "heads": 4, "ffn": 64, "encoder_layers": 1,
                  "decoder_layers": 1, "dropout": 0.0, "max_positions": 16},
        "train": {"seed": 3, "max_steps": 4, "lr": 0.01, "log_every": 2, "valid_every": 4,
                  "valid_bleu": True, "valid_max_sentences": 20, "metric": "loss"},
        "decode": {"strategy": "beam", "beam_size": 2, "max_len_b": 100},
    }
    run = train_quietly(recipe_from_dict(raw, name="short-positions"), prepared_sample, tmp_path / "runs" / "short")
    lines = ["이것은 아주 긴 문장입니다 " * 385, "안녕하세요."]
    for decoder in ("beam", "greedy", "sample"):
        result = translate("-m", run, "--decoder", decoder, input="\n".join(lines).encode() + b"\n")
        assert result.exit_code == 0, result.stderr
        assert len(lines_of(result.stdout)) == 2
    translator = Translator.load(run / "checkpoints" / "best.pt")
    assert translator.max_src_len == 16
    long = translator.translate(lines[:1])[0]
    assert len(long.src_pieces) == 16 and len(long.hypotheses[0].tokens) <= 15


# ---- outputs that cannot be written -----------------------------------------------------------------------------


def test_translate_and_evaluate_outputs_that_cant_be_written_are_one_line(cli, tmp_path, prepared_sample):
    run = train_tiny(prepared_sample, tmp_path / "run", max_steps=1, valid_every=1)
    (tmp_path / "in.txt").write_text("안녕\n", encoding="utf-8")
    blocker = tmp_path / "blocker"
    blocker.write_text("x\n")
    result = cli("translate", "-m", run, "-i", tmp_path / "in.txt", "-o", blocker / "out.txt")
    assert result.exit_code == 2 and str(blocker / "out.txt") in one_line_error(result.output)
    result = cli("evaluate", "-m", run, "--save-hyp", blocker / "hyp.txt")
    assert result.exit_code == 2 and str(blocker / "hyp.txt") in one_line_error(result.output)
    shutil.rmtree(run)


@pytest.mark.parametrize("to", ["stdout", "-o"])
def test_translate_on_a_full_disk_is_one_line_not_a_truncated_success(prepared_sample, tmp_path, to):
    """A real limit (the child's RLIMIT_FSIZE, as a full disk): short writes must not drop lines silently."""
    import resource
    import subprocess
    import sys

    run = train_tiny(prepared_sample, tmp_path / "run", max_steps=1, valid_every=1)
    (tmp_path / "in.txt").write_text("안녕하세요.\n" * 200, encoding="utf-8")
    out = tmp_path / "out.txt"
    args = [sys.executable, "-m", "s2s", "translate", "-m", str(run), "-i", str(tmp_path / "in.txt")]
    with open(out if to == "stdout" else os.devnull, "wb") as stdout:
        child = subprocess.run(args + (["-o", str(out)] if to == "-o" else []), stdout=stdout, stderr=subprocess.PIPE,
                               preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64)), timeout=300,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert child.returncode == 2
    name = "standard output" if to == "stdout" else str(out)
    assert one_line_error(child.stderr.decode()) == f"s2s: error: {name}: cannot write: File too large"


# ---- hostile input ----------------------------------------------------------------------------------------------

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
    return Translator.load(run / "checkpoints" / "last.pt")


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


# ---- below the CLI, fuzzed --------------------------------------------------------------------------------------

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
