"""Pictures of what a model does, through matplotlib (the optional `plot` extra), with Hangul that renders.

`figure()` hands out a bare `matplotlib.figure.Figure` (no pyplot: no global figure list, no GUI backend) inside
a style that puts a Korean font first; `save()` writes it. Without matplotlib both raise one line that says
what to install. Each picture has a plain-text twin for terminals and CI, which never needs matplotlib:

- `attention.py`: `s2s translate --attention`: heatmaps of source x target subwords, or top-attended words;
- `curves.py`: `s2s plot`: training and validation curves of one or more runs, or a table;
- `by_length.py`: `s2s compare -o`: BLEU by source-length bucket (the scoring itself is `s2s/compare.py`).

The Korean font: the `plot` extra installs `koreanize-matplotlib`, which bundles NanumGothic (SIL Open Font
Licence); we only read its font file and never import the package (its import rewrites matplotlib's global
settings and needs `distutils`, gone in Python 3.12). Without it, a system font with Hangul is looked for
(NanumGothic, Noto Sans CJK, UnDotum, Malgun Gothic, Apple SD Gothic Neo...). DejaVu Sans, matplotlib's own,
stays second in the list for the glyphs a Korean font lacks, such as SentencePiece's word mark `▁`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import sys
import warnings
from pathlib import Path
from typing import Iterator, Optional

from s2s.errors import S2SError

INSTALL = 'pip install "s2s[plot]"'

# Families known to hold Hangul, best first. Noto Sans CJK JP/SC hold all of Hangul too.
KOREAN_FAMILIES = (
    "NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR", "Source Han Sans KR", "UnDotum",
    "Malgun Gothic", "Apple SD Gothic Neo", "AppleGothic", "Baekmuk Gulim", "Noto Sans CJK JP", "Noto Sans CJK SC",
)


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def require_matplotlib() -> None:
    """Raise the one-line install hint if matplotlib is missing (call it before any slow work)."""
    if not has_matplotlib():
        raise S2SError(f"matplotlib is not installed; for pictures: {INSTALL}")


@functools.lru_cache(maxsize=None)
def korean_font() -> Optional[str]:
    """The family name of a font with Hangul that matplotlib can use, registering the bundled one; or None."""
    from matplotlib import font_manager

    spec = importlib.util.find_spec("koreanize_matplotlib")  # finds the package without running its __init__
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "NanumGothic.ttf"
        if bundled.is_file():
            font_manager.fontManager.addfont(str(bundled))
            return font_manager.FontProperties(fname=str(bundled)).get_name()
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in KOREAN_FAMILIES if name in installed), None)


def has_hangul(texts: list[str]) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e" for text in texts for ch in text)


@contextlib.contextmanager
def figure(width: float, height: float, texts: tuple[str, ...] | list[str] = ()) -> Iterator:
    """A `Figure` of width x height inches, drawn in a Korean-capable font.

    `texts` are the labels about to be drawn: if they hold Hangul and no Korean font exists, one warning line
    says what to install and matplotlib's one-warning-per-missing-glyph flood is silenced.
    """
    require_matplotlib()
    import matplotlib
    from matplotlib.figure import Figure

    font = korean_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    style = {"font.family": families, "axes.unicode_minus": False, "savefig.dpi": 100}
    with matplotlib.rc_context(style), warnings.catch_warnings():
        if font is None and has_hangul(list(texts)):
            _say_no_korean_font()
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        yield Figure(figsize=(width, height), layout="constrained")


@functools.lru_cache(maxsize=None)  # once per process, not once per picture
def _say_no_korean_font() -> None:
    print(f"s2s: no font with Hangul found, Korean labels will show as boxes; {INSTALL} bundles one "
          "(or install fonts-nanum / fonts-noto-cjk)", file=sys.stderr)


def save(fig, path: Path) -> Path:
    """Write `fig` to `path`; the format follows the suffix (.png, .svg, .pdf)."""
    path = Path(path)
    if path.parent and not path.parent.is_dir():
        raise S2SError(f"{path}: the folder {path.parent} does not exist")
    try:
        fig.savefig(path)
    except OSError as err:
        raise S2SError(f"{path}: cannot write: {err.strerror or err}") from None
    except ValueError as err:  # an unknown suffix
        raise S2SError(f"{path}: {err}") from None
    return path
