"""Normalise sentences and filter sentence pairs, counting what each rule did and keeping one example of each.

Normalisation keeps the pair; a rule is counted for each pair it changed (applied in this order):
- `control`: control characters (C0/C1 except tab, newline, CR, VT, FF) and invisible format characters (zero-width
  space, BOM, soft hyphen, bidi marks) are removed. ZWJ/ZWNJ stay: emoji and some scripts need them. A lone
  surrogate (only text built in Python has one; the readers never yield it) becomes U+FFFD.
- `nfc`: Unicode NFC, so decomposed Hangul jamo (U+1112 U+1161 U+11AB) become the syllable 한 (U+D55C) and
  the two spellings of a word share its subwords.
- `whitespace`: any run of Unicode whitespace (tabs, newlines, NBSP, the ideographic space) becomes one space;
  ends are trimmed.

Filters drop the pair; it is counted under the first rule that drops it:
- `empty`: a side is empty after normalisation.
- `too_long`: a side has more than `max_chars` characters. Characters, not subword tokens, because cleaning runs
  before SentencePiece exists; a token limit is training's (`token_batches(max_len=...)`).
- `ratio`: the longer side has more than `max_ratio` times the characters of the shorter, judged only when the
  longer side has at least `RATIO_MIN_CHARS` characters: short pairs vary naturally (초 / Seconds is 7:1).
  Korean is denser than English: on ko-en train the median en/ko ratio is 2.0 and the 99.9th percentile 5.5,
  hence a default of 6.

`duplicate`, `leak` and `malformed` are decided elsewhere (they need the whole corpus or the reader) but are
counted in the same `Tally`, so the summary is one table. `normalize` is also what `Vocab.encode` applies to
new text, so translation sees text exactly as training did.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from s2s.errors import S2SError

RULES = {  # name -> what it does, for the summary table; in the order they apply
    "malformed": "unreadable line, skipped",
    "control": "control chars removed (kept)",
    "nfc": "Unicode NFC (kept)",
    "whitespace": "whitespace collapsed (kept)",
    "empty": "a side is empty",
    "too_long": "a side over --max-chars",
    "ratio": "length ratio over --max-ratio",
    "duplicate": "exact duplicate pair",
    "leak": "train pair sharing a side with dev/test",
}
RATIO_MIN_CHARS = 20
_CONTROL = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone surrogates: only text built in Python has them
_EXAMPLE_CHARS = 50


@dataclass(frozen=True)
class CleaningOptions:
    """The filters' limits (see the module docstring for why these defaults)."""

    max_chars: int = 1000
    max_ratio: float = 6.0

    def check(self) -> None:
        if self.max_chars < 1:
            raise S2SError(f"--max-chars {self.max_chars}: must be at least 1")
        if self.max_ratio < 1:
            raise S2SError(f"--max-ratio {self.max_ratio}: must be at least 1 (it is longer / shorter)")


@dataclass(frozen=True)
class Example:
    where: str  # file:line
    text: str  # what the rule saw, shortened, invisible characters spelled out


class Tally:
    """How many pairs each rule touched, and where it first did."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(RULES, 0)
        self.examples: dict[str, Example] = {}

    def add(self, rule: str, path: Path, line: int, text: str) -> None:
        self.counts[rule] += 1
        if rule not in self.examples:
            self.examples[rule] = Example(f"{path}:{line}", shorten(text))


def normalize(text: str, changed: Optional[dict[str, tuple[str, str]]] = None) -> str:
    """Control characters removed, NFC, whitespace collapsed: the text as training and translation see it.

    With `changed`, each rule that altered the text records (once) its text before and after, for the summary.
    """
    # Controls go first: removing one can bring a letter and its combining mark together, which NFC then joins.
    stripped = _CONTROL.sub("", text)
    if _SURROGATE.search(stripped):  # no character at all, and unencodable: what undecodable bytes become
        stripped = _SURROGATE.sub("\ufffd", stripped)
    if changed is not None and len(stripped) != len(text):
        changed.setdefault("control", (text, stripped))
    if not unicodedata.is_normalized("NFC", stripped):
        composed = unicodedata.normalize("NFC", stripped)
        if changed is not None:
            changed.setdefault("nfc", (stripped, composed))
        stripped = composed
    spaced = " ".join(stripped.split())
    if changed is not None and spaced != stripped:
        changed.setdefault("whitespace", (stripped, spaced))
    return spaced


class Cleaner:
    """Applies the normalisation and the filters to rows, counting into `tally`."""

    def __init__(self, options: CleaningOptions, tally: Tally) -> None:
        self.options = options
        self.tally = tally

    def clean(self, texts: tuple[str, ...], path: Path, line: int, filters: bool = True) -> Optional[tuple[str, ...]]:
        """The normalised texts, or None when a filter drops the pair (`filters=False`: only `empty` applies)."""
        changed: dict[str, tuple[str, str]] = {}
        out = [normalize(text, changed) for text in texts]
        for rule, (before, after) in changed.items():
            self.tally.add(rule, path, line, change_example(before, after))
        drop = self._filter(out, filters)
        if drop:
            self.tally.add(drop, path, line, " ||| ".join(out))
            return None
        return tuple(out)

    def _filter(self, texts: list[str], filters: bool) -> Optional[str]:
        if not all(texts):
            return "empty"
        if not filters:
            return None
        lengths = [len(t) for t in texts]
        longest, shortest = max(lengths), min(lengths)
        if longest > self.options.max_chars:
            return "too_long"
        if longest >= RATIO_MIN_CHARS and longest > self.options.max_ratio * shortest:
            return "ratio"
        return None


def shorten(text: str, limit: int = _EXAMPLE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_example(before: str, after: str, context: int = 12) -> str:
    """Where `before` first differs from `after`, with what a terminal wouldn't show spelled out."""
    at = len(os.path.commonprefix([before, after]))
    start = max(0, at - context)
    window = visible(before[start:at + context], first=start == 0, last=at + context >= len(before))
    return ("…" if start else "") + window + ("…" if at + context < len(before) else "")


def visible(text: str, first: bool = True, last: bool = True) -> str:
    """`text` with what a terminal wouldn't show spelled out: controls, odd or doubled spaces, conjoining jamo.

    `first` / `last`: whether `text` starts / ends the sentence (so that a space there is shown as one).
    """
    out = []
    for i, ch in enumerate(text):
        odd_space = ch.isspace() and ch != " "
        if unicodedata.category(ch) in ("Cc", "Cf", "Mn") or odd_space or "\u1100" <= ch <= "\u11ff":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        elif ch == " " and ((first and i == 0) or (last and i == len(text) - 1) or text[i + 1:i + 2] == " "):
            out.append("␠")  # a space whitespace normalisation removes
        else:
            out.append(ch)
    return "".join(out)
