"""The rows of an opened source (`readers.open_sources`), format by format: TSV, CSV, aligned text files, xlsx.

Each reader yields `Row`s with the sentences in the order asked for, and reports a line it cannot read (bytes that
are not UTF-8, a wrong number of fields) as a `Row` with a problem rather than stopping: `prepare` counts and
names them.
"""

from __future__ import annotations

import csv
from itertools import zip_longest
from pathlib import Path
from typing import Iterator, Optional

from s2s.data.readers import BOM, PROGRESS_EVERY, SURROGATE, Advance, Row, Source, cell_text, xlsx_values
from s2s.errors import S2SError


def read_rows(source: Source, langs: tuple[str, ...], advance: Optional[Advance] = None) -> Iterator[Row]:
    """The rows of `source` with their sentences in the order of `langs`; `advance(n)` gets bytes read."""
    missing = [lang for lang in langs if lang not in source.languages]
    if missing:
        raise S2SError(f"{source.name}: has no {missing[0]!r} column (it has {', '.join(source.languages)})")
    want = tuple(source.columns[source.languages.index(lang)] for lang in langs)
    reader = {"tsv": _tsv_rows, "csv": _csv_rows, "text": _text_rows, "xlsx": _xlsx_rows}[source.format]
    return reader(source, want, advance or (lambda n: None))


def _decode(raw: bytes) -> tuple[Optional[str], Optional[str]]:
    """(text, None) or (None, problem): one line's bytes without its line ending."""
    try:
        return raw.rstrip(b"\r\n").decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, f"undecodable bytes (not UTF-8) at byte {err.start}"


def _tsv_rows(source: Source, want: tuple[int, ...], advance: Advance) -> Iterator[Row]:
    path, width, done = source.paths[0], source.width, 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            done += len(raw)
            if lineno % PROGRESS_EVERY == 0:
                advance(done)
                done = 0
            if lineno == 1:
                raw = raw.removeprefix(BOM)
            if lineno < source.first_row:
                continue
            line, problem = _decode(raw)
            if line is None:
                yield Row(path, lineno, (), problem)
                continue
            if not line:  # a blank line: an empty pair, for the cleaning rule to count
                yield Row(path, lineno, ("",) * len(want))
                continue
            fields = line.split("\t")
            width = width or len(fields)
            yield _row(path, lineno, fields, width, want, "tab-separated fields")
    advance(done)


def _row(path: Path, lineno: int, fields: list[str], width: int, want: tuple[int, ...], kind: str) -> Row:
    """The wanted columns of a table row, or the row marked malformed when it has the wrong number of fields."""
    if len(fields) != width or len(fields) <= max(want):
        expected = f"expected {width}" if len(fields) != width else f"no column {max(want) + 1}"
        return Row(path, lineno, (), f"{len(fields)} {kind}, {expected}")
    return Row(path, lineno, tuple(fields[c] for c in want))


def _csv_rows(source: Source, want: tuple[int, ...], advance: Advance) -> Iterator[Row]:
    path, width = source.paths[0], source.width

    def lines(f) -> Iterator[str]:
        # surrogateescape: a bad byte survives decoding as a lone surrogate, found below per record.
        done = 0
        for i, raw in enumerate(f):
            done += len(raw)
            if i % PROGRESS_EVERY == 0:
                advance(done)
                done = 0
            yield (raw.removeprefix(BOM) if i == 0 else raw).decode("utf-8", "surrogateescape")
        advance(done)

    with open(path, "rb") as f:
        reader = csv.reader(lines(f), strict=True)
        start = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                yield Row(path, start, (), f"bad CSV ({err})")  # unbalanced quotes, a field over csv's limit
                start = reader.line_num + 1
                continue
            lineno, start = start, reader.line_num + 1
            if lineno < source.first_row:
                continue
            if not fields:
                yield Row(path, lineno, ("",) * len(want))
                continue
            if any(SURROGATE.search(field) for field in fields):
                yield Row(path, lineno, (), "undecodable bytes (not UTF-8)")
                continue
            width = width or len(fields)
            yield _row(path, lineno, fields, width, want, "CSV fields")


def _text_rows(source: Source, want: tuple[int, ...], advance: Advance) -> Iterator[Row]:
    files = [open(p, "rb") for p in source.paths]
    done = 0
    try:
        for lineno, raws in enumerate(zip_longest(*files), 1):
            if None in raws:
                short = source.paths[raws.index(None)]
                longer = source.paths[[r is not None for r in raws].index(True)]
                raise S2SError(f"{short}: ends after line {lineno - 1} but {longer} goes on; the files are not aligned")
            done += sum(len(r) for r in raws)
            if lineno % PROGRESS_EVERY == 0:
                advance(done)
                done = 0
            if lineno == 1:
                raws = tuple(r.removeprefix(BOM) for r in raws)
            texts = []
            for i in want:
                text, problem = _decode(raws[i])
                if text is None:
                    yield Row(source.paths[i], lineno, (), problem)
                    break
                texts.append(text)
            else:
                yield Row(source.paths[want[0]], lineno, tuple(texts))
        advance(done)
    finally:
        for f in files:
            f.close()


def _xlsx_rows(source: Source, want: tuple[int, ...], advance: Advance) -> Iterator[Row]:
    path = source.paths[0]
    for rowno, values in enumerate(xlsx_values(path), 1):
        if rowno < source.first_row:
            continue
        yield Row(path, rowno, tuple(cell_text(values[c]) if c < len(values) else "" for c in want))
