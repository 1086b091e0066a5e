"""`s2s translate`: stdin to stdout, one output line per input line, in order, streamed.

Input is read in chunks as it becomes available (`Translator.translate_stream`, through `s2s.streaming`), so
`tail -f log | s2s translate` and interactive use show each translation while the input is still open; inside a
chunk the `Translator` sorts by length and restores the order. The model is a run or an exported directory
(`Translator.load`). Only translations go to stdout, as UTF-8 whatever the locale; messages go to
stderr. An empty (or blank) input line gives an empty output line, whatever the options. A closed stdout
(`| head -3`) is the caller's to handle quietly (`s2s.commands.command`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO, Callable, Optional

from s2s.decoding.options import DecodeOptions
from s2s.errors import S2SError
from s2s.translator import ModelTranslator, Translation, Translator

# Lines translated together. A chunk is cut short whenever no more input is ready, so this bounds memory and
# the batch, never the latency of an interactive line.
CHUNK_LINES = 256

# Every character that str.splitlines() breaks at: none may survive inside a translation, or a reader that
# splits lines that way would see more output lines than input lines.
_LINE_BREAKS = str.maketrans({c: " " for c in "\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"})


def format_line(t: Translation, nbest: int = 1, scores: bool = False) -> str:
    """One output line: the translation; with `scores` a tab and its log-probability; with `nbest` > 1 up to
    `nbest` candidates, each followed by a tab and its score. An empty input gives an empty line."""
    if not t.hypotheses:
        return ""
    if nbest > 1:
        pairs = zip(t.candidates[:nbest], t.hypotheses[:nbest])
        return "\t".join(f"{text.translate(_LINE_BREAKS)}\t{hyp.score:.4f}" for text, hyp in pairs)
    text = t.text.translate(_LINE_BREAKS)
    return f"{text}\t{t.hypotheses[0].score:.4f}" if scores else text


def translate_stream(model: Optional[Path], options: DecodeOptions, input: Optional[Path] = None,
                     output: Optional[Path] = None, scores: bool = False, device: str = "cpu",
                     chunk_lines: int = CHUNK_LINES,
                     observe: Optional[Callable[[Translator, str, Translation], None]] = None) -> int:
    """Translate `input` (default stdin) to `output` (default stdout); returns the number of lines.

    `observe(translator, line, translation)` sees every input line in order before its output is written
    (`s2s translate --attention`: `s2s.plots.attention.AttentionReport`).
    """
    if input is not None and output is not None and Path(output).resolve() == Path(input).resolve():
        raise S2SError(f"-o {output}: is the input file too; writing it would erase the lines still to translate")
    nbest = options.nbest or 1
    translator = Translator.load(model, options, device)  # refuses --nbest with greedy
    if observe is not None and not isinstance(translator, ModelTranslator):
        raise S2SError(f"--attention: {model} is an exported model, which gives no attention weights; use the run "
                       "it was exported from (its manifest names it) with s2s's own decoder")
    source: BinaryIO
    if input is not None:
        try:
            source = open(input, "rb")
        except OSError as err:
            raise S2SError(f"{input}: cannot read: {err.strerror}") from None
    else:  # sys.stdin's bytes: read_chunks splits lines at b"\n" only and decodes UTF-8 itself
        source = getattr(sys.stdin, "buffer", sys.stdin)
    try:
        sink: BinaryIO = getattr(sys.stdout, "buffer", sys.stdout) if output is None else open(output, "wb")
    except OSError as err:
        if input is not None:
            source.close()
        raise S2SError(f"{output}: cannot write: {err.strerror}") from None
    if output is None:
        sys.stdout.flush()  # the bytes below go under the text layer: nothing of it may be left to come after
    count = 0
    try:
        for translation in translator.translate_stream(source, chunk_lines):
            if observe is not None:
                observe(translator, translation.source, translation)
            data = memoryview((format_line(translation, nbest, scores) + "\n").encode("utf-8"))
            while data:  # a short write (a full disk under stdout) must not drop lines silently: the retry raises
                data = data[sink.write(data):]
            sink.flush()  # each line as soon as it is translated: the next may wait for input
            count += 1
    except OSError as err:  # a full disk or a file-size limit; a reader that left (`| head`) is the CLI's to end
        if isinstance(err, BrokenPipeError):
            raise
        if output is not None:
            try:
                sink.close()  # closes the file even when its final flush fails again
            except OSError:
                pass
        raise S2SError(f"{output or 'standard output'}: cannot write: {err.strerror or err}") from None
    finally:
        if input is not None:
            source.close()
        if output is not None:
            sink.close()
    return count
