"""`s2s translate --attention`: where the decoder looked while it wrote each word.

For every translated line, the best hypothesis's attention (one row per output subword, plus the row that chose
end-of-sentence, over the source subwords) becomes either a heatmap, `FILE-N.png` for input line N (one file
per sentence, so each picture is as large as its sentence needs; empty lines get none), or, with `-`, a few
lines on stderr naming the most-attended source subword of each output subword. stdout keeps translations only.

Which weights: the `attention` architecture's own (Bahdanau or Luong) weights; for the Transformer, its
encoder-decoder attention in the last decoder layer, averaged over the heads (what `Transformer.step` returns).
Models without attention (`rnn`, `lstm`, `gru`) pass one context vector and have nothing to show: one line says
so. Not here: decoding (`s2s.translator`), the translate loop (`s2s.translate`).
"""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, TextIO

from s2s.errors import S2SError
from s2s.translator import Translation, Translator

EOS_PIECE = "</s>"


@dataclass
class AttentionMap:
    source: str  # the input line
    translation: str  # the best translation, detokenised
    src: list[str]  # source subwords (columns)
    tgt: list[str]  # output subwords and a final "</s>" (rows)
    weights: list[list[float]]  # (len(tgt), len(src)); each row sums to 1

    def top(self) -> list[tuple[str, str, float]]:
        """(output subword, its most-attended source subword, that weight) per row."""
        out = []
        for piece, row in zip(self.tgt, self.weights):
            j = max(range(len(row)), key=row.__getitem__)
            out.append((piece, self.src[j], row[j]))
        return out


def attention_map(translator: Translator, line: str, translation: Translation) -> Optional[AttentionMap]:
    """The best hypothesis's attention as labelled rows; None for an empty line. Raises for models without it."""
    if not translation.hypotheses:
        return None
    best = translation.hypotheses[0]
    if best.attention is None:
        raise S2SError(f"--attention: {_arch_name(translator)} model has no attention weights to show (without "
                       "attention the decoder reads one context vector); use an attention or transformer run")
    tgt = translator.tgt_vocab.pieces(best.tokens) + [EOS_PIECE]
    return AttentionMap(line, translation.text, translation.src_pieces, tgt, best.attention.tolist())


def _arch_name(translator: Translator) -> str:
    from s2s.registry import ARCHITECTURES

    names = [entry.name for entry in ARCHITECTURES if entry.obj is type(translator.model)]
    return f"this {names[0]}" if names else "this"


class AttentionReport:
    """Called by `translate_stream` once per input line, in order: a PNG per sentence, or text with `-`."""

    def __init__(self, target: str, stream: TextIO | None = None):
        self.path = None if target == "-" else Path(target)
        if self.path is not None:
            from s2s.plots import require_matplotlib

            require_matplotlib()  # before any input is read or translated
            if not self.path.suffix:
                self.path = self.path.with_suffix(".png")
            if not self.path.parent.is_dir():
                raise S2SError(f"--attention {target}: the folder {self.path.parent} does not exist")
        self.stream = stream
        self.line = 0

    def file_for(self, number: int) -> Path:
        assert self.path is not None
        return self.path.with_name(f"{self.path.stem}-{number}{self.path.suffix}")

    def __call__(self, translator: Translator, line: str, translation: Translation) -> None:
        self.line += 1
        found = attention_map(translator, line, translation)
        if found is None:
            return
        stream = self.stream or sys.stderr
        if self.path is None:
            stream.write(format_top(found, self.line))
        else:
            written = heatmap(found, self.file_for(self.line))
            stream.write(f"attention: {written}\n")
        stream.flush()


def format_top(m: AttentionMap, number: int) -> str:
    """`line N: source → translation`, then one aligned row per output subword: ← source subword, weight, bar."""
    rows = m.top()
    width = max(_width(piece) for piece, _, _ in rows)
    lines = [f"line {number}: {m.source.strip()} → {m.translation}"]
    for piece, src, weight in rows:
        pad = " " * (width - _width(piece))
        lines.append(f"  {piece}{pad}  ← {src}  {weight:.2f} {'█' * round(weight * 10)}")
    return "\n".join(lines) + "\n"


def _width(text: str) -> int:
    """Terminal columns: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cut(text: str, most: int = 70) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def heatmap(m: AttentionMap, path: Path) -> Path:
    """Source subwords across the top, output subwords down the side, weight as colour (0 to 1)."""
    from s2s.plots import figure, save

    rows, cols = len(m.tgt), len(m.src)
    longest = max(rows, cols)
    fontsize = 10 if longest <= 30 else max(5.0, 300 / longest)
    scale = fontsize / 10
    width = min(18.0, 2.6 + 0.36 * scale * cols)
    height = min(18.0, 1.9 + 0.3 * scale * rows)
    with figure(width, height, m.src + m.tgt + [m.source, m.translation]) as fig:
        ax = fig.add_subplot()
        image = ax.imshow(m.weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(cols), m.src, rotation=50, ha="left", rotation_mode="anchor", fontsize=fontsize)
        ax.set_yticks(range(rows), m.tgt, fontsize=fontsize)
        ax.xaxis.tick_top()
        ax.set_xlabel("source subwords", fontsize=9)
        ax.xaxis.set_label_position("top")
        ax.set_ylabel("output subwords", fontsize=9)
        ax.tick_params(length=0)
        fig.colorbar(image, ax=ax, shrink=0.8, label="attention weight")
        fig.suptitle(f"{_cut(m.source.strip())}\n{_cut(m.translation)}", fontsize=10)
        return save(fig, path)
