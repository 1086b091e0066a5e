"""Line-oriented streaming for `s2s translate`: chunks of input lines as soon as they are available.

A pipeline such as `tail -f log | s2s translate` never closes its input, so waiting for a full chunk would hang.
`read_chunks` returns a chunk when it is full *or* when no more input is ready right now, so the first
translations appear while the input is still open, and a batch still forms when input arrives quickly.
Memory stays bounded: nothing more is read while a full chunk waits, so a large file is never held whole.
Lines end at b"\\n" only (a trailing "\\r" is dropped); bytes that are not UTF-8 are replaced (U+FFFD) rather
than failing, so every input line gets an output line. Not here: translating, writing the output.
"""

from __future__ import annotations

import os
import select
from typing import IO, Iterator, Optional


def _decode(raw: bytes | str) -> str:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
    return text[:-1] if text.endswith("\r") else text


def read_chunks(stream: IO, max_lines: int = 64) -> Iterator[list[str]]:
    """Lists of at most `max_lines` lines of `stream` (without their newlines), in order, each yielded as soon
    as the lines before the input still to come are all there."""
    fd = _fileno(stream)
    if fd is None:  # an in-memory stream (CliRunner, tests): everything is already there
        chunk: list[str] = []
        for raw in stream:
            chunk.append(_decode(raw.rstrip(b"\n" if isinstance(raw, bytes) else "\n")))
            if len(chunk) >= max_lines:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        return
    parts: list[bytes] = []  # the line being read, in pieces: joined once its newline arrives
    lines: list[str] = []
    eof = False
    while True:
        # Block for input only while there is nothing to translate; otherwise take just what is ready now.
        while not eof and len(lines) < max_lines and (not lines or _ready(fd)):
            data = os.read(fd, 1 << 16)
            if not data:
                eof = True
                if parts:
                    lines.append(_decode(b"".join(parts)))
                    parts = []
            elif b"\n" in data:
                *complete, rest = b"".join([*parts, data]).split(b"\n")
                lines.extend(_decode(raw) for raw in complete)
                parts = [rest] if rest else []
            else:
                parts.append(data)
        if not lines:
            return
        yield lines[:max_lines]
        lines = lines[max_lines:]


def _fileno(stream: IO) -> Optional[int]:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _ready(fd: int) -> bool:
    """Whether a read on `fd` would return at once (data or end of input)."""
    try:
        poller = select.poll()  # poll, unlike select, has no limit on the descriptor's number
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows): a blocking read still gives every line
        return True
