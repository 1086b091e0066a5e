"""Open parallel corpora: each file's format, its language columns and its partner files, as `Source`s whose rows
`s2s/data/rows.py` reads one line at a time, reporting the lines that can't be read.

Formats (`--format`, default `auto`: from the file name):

| format | files | how |
|---|---|---|
| `tsv` | `.tsv` and anything not listed below | split on tabs literally (as `csv.QUOTE_NONE`): many fields begin with `"` |
| `csv` | `.csv` | real CSV quoting (a field may hold commas, quotes, even newlines) |
| `xlsx` | `.xlsx` (AI Hub) | the first worksheet; needs the optional `openpyxl` (`pip install "s2s[xlsx]"`) |
| `text` | `corpus.ko corpus.en` | aligned plain-text files, one sentence a line; the language is the suffix |

With a header row (the default for tables), the language columns are the ones named by a two-letter code
(`ko`, `en`, `ja`, ...) or by AI Hub's Korean names (`원문` = ko, `번역문` = en, `한국어`, `영어`); other columns
(`ID`, `대분류`, ...) are ignored. `--columns 2,3` picks columns by number (from 1) instead. Without a header
(`--no-header`) the columns default to `1,2` and their languages to `--langs ko,en`.

Bytes are decoded line by line so that one bad line costs one line, not the file: a BOM and CR/LF endings are
removed there; an undecodable line, or one with a different number of fields than the header (or, without a
header, than the first line), comes back as a `Row` with a `problem` for the caller to skip or fail on. NUL and
other control characters are left to `cleaning.py`. This module does not clean, filter or count.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Optional

from s2s.errors import S2SError
from s2s.wording import count

FORMATS = ("auto", "tsv", "csv", "text", "xlsx")
BOM = b"\xef\xbb\xbf"
# Header names AI Hub and others use for language columns, beside plain two-letter codes.
HEADER_ALIASES = {
    "원문": "ko", "번역문": "en", "한국어": "ko", "영어": "en",
    "korean": "ko", "english": "en", "kor": "ko", "eng": "en",
}
# Two-letter header cells that are common column names, not languages.
NOT_LANGUAGES = {"id", "no"}
SURROGATE = re.compile("[\udc80-\udcff]")
PROGRESS_EVERY = 4096  # lines between progress callbacks: often enough to move a bar, rare enough to be free

Advance = Callable[[int], None]


@dataclass(frozen=True)
class ReadOptions:
    """How to read the inputs; defaults suit AI Hub-style files with a `ko<TAB>en` header."""

    format: str = "auto"  # one of FORMATS
    header: bool = True  # tables only: the first row names the columns
    columns: Optional[tuple[int, ...]] = None  # 1-based column numbers of the languages (tables)
    langs: Optional[tuple[str, ...]] = None  # languages of `columns`, or of text files without a language suffix


@dataclass(frozen=True)
class Source:
    """One corpus: a table file, or aligned text files, with the languages it holds and where they are."""

    paths: tuple[Path, ...]
    format: str
    languages: tuple[str, ...]  # in column (or file) order
    columns: tuple[int, ...]  # 0-based column of each language; for `text`, the index into `paths`
    first_row: int  # 1-based line (row) of the first sentence pair: 2 after a header
    width: Optional[int]  # fields a line must have; None: as many as the first line has

    @property
    def name(self) -> str:
        return " + ".join(str(p) for p in self.paths)


class Row(NamedTuple):
    """One line of a source: its sentences in the requested language order, or the `problem` with it."""

    path: Path
    line: int
    texts: tuple[str, ...]
    problem: Optional[str] = None


def language_of(cell: str) -> Optional[str]:
    """The language a header cell names (`ko`, `원문` -> ko), or None for any other column."""
    cell = cell.strip().lstrip("\ufeff")
    if cell in HEADER_ALIASES or cell.lower() in HEADER_ALIASES:
        return HEADER_ALIASES.get(cell, HEADER_ALIASES.get(cell.lower()))
    low = cell.lower()
    if re.fullmatch("[a-z]{2}", low) and low not in NOT_LANGUAGES:
        return low
    return None


def suffix_language(path: Path) -> Optional[str]:
    """`corpus.ko` -> ko: a two-letter suffix (or kor/eng) marks one side of an aligned text pair."""
    suffix = path.suffix[1:]
    if re.fullmatch("[a-z]{2}", suffix) and suffix not in NOT_LANGUAGES:
        return suffix
    return HEADER_ALIASES.get(suffix) if suffix in ("kor", "eng") else None


def table_format(path: Path) -> str:
    return {".csv": "csv", ".xlsx": "xlsx"}.get(path.suffix.lower(), "tsv")


def open_sources(paths: list[Path], options: ReadOptions) -> list[Source]:
    """Group the input paths into sources and read their headers; raises S2SError naming the file."""
    if options.format not in FORMATS:
        raise S2SError(f"--format {options.format}: choose one of {', '.join(FORMATS)}")
    for path in paths:
        if path.is_dir():
            raise S2SError(f"{path}: is a directory, not a corpus file; give the files in it (e.g. {path / '*.tsv'})")
        if not path.is_file():
            raise S2SError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    sources: list[Source] = []
    pending = list(paths)
    while pending:
        path = pending.pop(0)
        if options.format == "text" or (options.format == "auto" and suffix_language(path)):
            group = [path] + _partners(path, pending, options)
            sources.append(_text_source(tuple(group), options))
        else:
            fmt = table_format(path) if options.format == "auto" else options.format
            sources.append(_table_source(path, fmt, options))
    return sources


def _partners(path: Path, pending: list[Path], options: ReadOptions) -> list[Path]:
    """The other sides of a text pair: the next inputs with the same stem (auto) or the next ones (--format text)."""
    want = len(options.langs) if options.langs else 2
    if options.format == "text":
        group = pending[: want - 1]
        del pending[: want - 1]
    else:
        group = [p for p in pending if p.with_suffix("") == path.with_suffix("") and suffix_language(p)]
        for p in group:
            pending.remove(p)
    if len(group) + 1 < 2:
        lang = suffix_language(path)
        hint = f" (e.g. {path.with_suffix('.en' if lang != 'en' else '.ko')})" if lang else ""
        raise S2SError(f"{path}: one side of an aligned text pair; give the other side too{hint}")
    return group


def _text_source(paths: tuple[Path, ...], options: ReadOptions) -> Source:
    if options.langs:
        languages = tuple(options.langs)
    else:
        languages = tuple(suffix_language(p) or "" for p in paths)
        if "" in languages:
            bad = paths[languages.index("")]
            raise S2SError(f"{bad}: can't tell its language; name text files like corpus.ko / corpus.en or give --langs ko,en")
    if len(languages) != len(paths):
        raise S2SError(f"--langs {','.join(languages)}: names {count(len(languages), 'language')} for {count(len(paths), 'text file')}")
    if len(set(languages)) != len(languages):
        raise S2SError(f"{' + '.join(map(str, paths))}: two files of the same language ({', '.join(languages)})")
    return Source(paths, "text", languages, tuple(range(len(paths))), 1, None)


def _table_source(path: Path, fmt: str, options: ReadOptions) -> Source:
    header = _header_cells(path, fmt) if options.header else None
    if options.columns is not None:
        if any(c < 1 for c in options.columns):
            raise S2SError(f"--columns {','.join(map(str, options.columns))}: column numbers start at 1")
        columns = tuple(c - 1 for c in options.columns)
    elif header is not None:
        found: dict[str, int] = {}  # the first column of each language
        for i, cell in enumerate(header):
            lang = language_of(cell)
            if lang and lang not in found:
                found[lang] = i
        columns = tuple(found.values())
    else:
        columns = (0, 1)
    if options.langs:
        languages = tuple(options.langs)
    elif header is not None:
        languages = tuple(language_of(header[c]) or "" if c < len(header) else "" for c in columns)
    else:
        languages = ("ko", "en")[: len(columns)]
    if header is not None and (len(columns) < 2 or "" in languages):
        shown = ", ".join(repr(c if len(c) <= 24 else c[:23] + "…") for c in header[:6])
        raise S2SError(
            f"{path}:1: the header ({shown}) names no two language columns; expected codes like ko, en or "
            f"원문/번역문. For a file without a header use --no-header (with --columns 1,2 --langs ko,en)"
        )
    if len(languages) != len(columns):
        raise S2SError(f"--langs {','.join(languages)}: names {count(len(languages), 'language')} for {count(len(columns), 'column')}")
    if len(set(languages)) != len(languages):
        raise S2SError(f"{path}: language {languages[0]!r} names two columns; pick columns with --columns")
    width = len(header) if header is not None and fmt != "xlsx" else None
    return Source((path,), fmt, languages, columns, 2 if header is not None else 1, width)


def _header_cells(path: Path, fmt: str) -> list[str]:
    if fmt == "xlsx":
        for row in xlsx_values(path):
            return [cell_text(v) for v in row]
        raise S2SError(f"{path}: empty worksheet, no header row")
    with open(path, "rb") as f:
        raw = f.readline().removeprefix(BOM).rstrip(b"\r\n")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise S2SError(f"{path}:1: header is not UTF-8 (byte {err.start}); save the file as UTF-8") from None
    if not line:
        raise S2SError(f"{path}:1: empty first line where the header should be (or use --no-header)")
    if "\r" in line:
        raise S2SError(f"{path}:1: lines end with a bare CR (classic Mac line endings); convert the file to LF "
                       "or CRLF")
    if fmt != "csv":
        return line.split("\t")
    try:
        return next(csv.reader([line]))
    except csv.Error as err:
        raise S2SError(f"{path}:1: the header is not valid CSV ({err})") from None


def _openpyxl(path: Path):
    try:
        import openpyxl
    except ImportError:
        raise S2SError(f'{path}: reading .xlsx needs openpyxl: pip install "s2s[xlsx]"') from None
    return openpyxl


def xlsx_values(path: Path) -> Iterator[tuple]:
    openpyxl = _openpyxl(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises zipfile, KeyError, ValueError... for a damaged file
        raise S2SError(f"{path}: not a readable .xlsx file ({type(err).__name__}: {err})") from None
    try:
        yield from book.worksheets[0].iter_rows(values_only=True)
    finally:
        book.close()


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
