"""Refuse a corpus whose language columns hold another script than their language codes say, before any work.

Why: a TSV whose header has ko and en the wrong way round, or English under AI Hub's `원문` column, has no
malformed line to report; without this check it prepares silently with English in `train.ko`, and the mistake
shows only as a useless model hours of training later. So `prepare` reads the first `SAMPLE_PAIRS` pairs of
each input, sorts each side's letters by the script their Unicode name begins with (`HANGUL SYLLABLE GA`,
`LATIN SMALL LETTER A`, `CJK UNIFIED IDEOGRAPH-4E00`), and refuses a side whose share of letters in the
script(s) its code expects (`SCRIPTS`) is under `MIN_SHARE`, saying what the side looks like instead.
`--no-lang-check` turns it off.

Mixed text passes: Korean sentences with Latin code names, numbers and units. Measured share of letters in
the expected script on the first 2,000 pairs (worst 2,000-pair stretch in brackets) of the shared corpora:
ko-en/train 0.863 (0.852) for `ko` and 1.000 for `en`; its Python-docs pairs alone, the most mixed, 0.716
(0.703) for `ko`; Tatoeba 1.000 / 1.000; noisy news 0.951 / 1.000. Swapped, the same files score at most 0.000
for `ko` and 0.284 for `en` (Korean Python docs read as English). `MIN_SHARE` = 0.4 is 0.30 under the lowest
real share and 0.12 over the highest swapped one. The check is on the whole sample, not per line: 6% of the
Korean lines of ko-en/train are mostly Latin (code, names), and they are right.

What it doesn't do: tell apart languages that share a script (French labelled `de` passes: both Latin), check
codes missing from `SCRIPTS`, judge a side with fewer than `MIN_LETTERS` letters in the sample, or look past the
sample (a file that changes language half-way passes).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache
from itertools import islice
from typing import Iterable, Optional

from s2s.data.readers import Source
from s2s.data.rows import read_rows
from s2s.errors import S2SError

SAMPLE_PAIRS = 2000  # read per input: enough letters to judge, a few milliseconds whatever the corpus size
MAX_CHARS = 200  # of each sentence: one huge line can't outvote the rest, and the check stays fast
MIN_LETTERS = 10  # fewer letters than this on a side (numbers, symbols): nothing to judge
MIN_SHARE = 0.4  # see the module docstring for the measured shares either side of it

_LATIN = ("LATIN",)
_CYRILLIC = ("CYRILLIC",)
# Language code -> (name, the scripts its letters are written in), as Unicode character names begin.
SCRIPTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ko": ("Korean", ("HANGUL",)),
    "ja": ("Japanese", ("HIRAGANA", "KATAKANA", "CJK")),
    "zh": ("Chinese", ("CJK",)),
    "ru": ("Russian", _CYRILLIC), "uk": ("Ukrainian", _CYRILLIC), "bg": ("Bulgarian", _CYRILLIC),
    "be": ("Belarusian", _CYRILLIC), "mk": ("Macedonian", _CYRILLIC), "mn": ("Mongolian", _CYRILLIC),
    "sr": ("Serbian", ("CYRILLIC", "LATIN")),
    "el": ("Greek", ("GREEK",)), "ar": ("Arabic", ("ARABIC",)), "fa": ("Persian", ("ARABIC",)),
    "ur": ("Urdu", ("ARABIC",)), "he": ("Hebrew", ("HEBREW",)), "th": ("Thai", ("THAI",)),
    "hi": ("Hindi", ("DEVANAGARI",)), "mr": ("Marathi", ("DEVANAGARI",)), "ne": ("Nepali", ("DEVANAGARI",)),
    "bn": ("Bengali", ("BENGALI",)), "ta": ("Tamil", ("TAMIL",)), "te": ("Telugu", ("TELUGU",)),
    "ka": ("Georgian", ("GEORGIAN",)), "hy": ("Armenian", ("ARMENIAN",)), "km": ("Khmer", ("KHMER",)),
    "lo": ("Lao", ("LAO",)), "my": ("Burmese", ("MYANMAR",)), "am": ("Amharic", ("ETHIOPIC",)),
    **{code: (name, _LATIN) for code, name in (
        ("en", "English"), ("fr", "French"), ("de", "German"), ("es", "Spanish"), ("it", "Italian"),
        ("pt", "Portuguese"), ("nl", "Dutch"), ("sv", "Swedish"), ("da", "Danish"), ("nb", "Norwegian"),
        ("fi", "Finnish"), ("et", "Estonian"), ("pl", "Polish"), ("cs", "Czech"), ("sk", "Slovak"),
        ("sl", "Slovenian"), ("hr", "Croatian"), ("ro", "Romanian"), ("hu", "Hungarian"), ("tr", "Turkish"),
        ("id", "Indonesian"), ("ms", "Malay"), ("vi", "Vietnamese"), ("tl", "Tagalog"), ("ca", "Catalan"),
        ("eu", "Basque"), ("ga", "Irish"), ("cy", "Welsh"), ("is", "Icelandic"), ("lv", "Latvian"),
        ("lt", "Lithuanian"), ("sq", "Albanian"), ("af", "Afrikaans"), ("sw", "Swahili"), ("eo", "Esperanto"),
        ("la", "Latin"),
    )},
}


@lru_cache(maxsize=None)
def script_of(char: str) -> Optional[str]:
    """The script of a letter as its Unicode name begins (`HANGUL`, `LATIN`, `CJK`), None for a non-letter.

    Width variants count as their script (`FULLWIDTH LATIN ...`, `HALFWIDTH KATAKANA ...`), and the prolonged
    sound mark `KATAKANA-HIRAGANA ...` as Katakana.
    """
    if not char.isalpha():
        return None
    words = unicodedata.name(char, "").split()
    if words[:1] in (["FULLWIDTH"], ["HALFWIDTH"]):
        words = words[1:]
    return words[0].split("-")[0] if words else None


def count_scripts(texts: Iterable[str]) -> Counter[str]:
    """Letters per script in `texts` (the first `MAX_CHARS` characters of each)."""
    chars: Counter[str] = Counter()
    for text in texts:
        chars.update(text[:MAX_CHARS])
    scripts: Counter[str] = Counter()
    for char, n in chars.items():
        script = script_of(char)
        if script is not None:
            scripts[script] += n
    return scripts


def expected_share(lang: str, scripts: Counter[str]) -> Optional[float]:
    """The share of letters in `lang`'s scripts; None when `lang` is not in `SCRIPTS` or there are too few
    letters to judge."""
    letters = sum(scripts.values())
    if lang not in SCRIPTS or letters < MIN_LETTERS:
        return None
    return sum(scripts[s] for s in SCRIPTS[lang][1]) / letters


def check_languages(sources: list[Source], langs: tuple[str, str]) -> None:
    """Raise S2SError for the first source whose `langs` sides look like other languages (see the docstring)."""
    for source in sources:
        rows = (row.texts for row in read_rows(source, langs) if row.problem is None)
        sample = list(islice(rows, SAMPLE_PAIRS))
        problem = mismatch(source, langs, [count_scripts(side) for side in zip(*sample)])
        if problem is not None:
            raise S2SError(problem)


def mismatch(source: Source, langs: tuple[str, str], counts: list[Counter[str]]) -> Optional[str]:
    """The one-line complaint about `source` whose sides `langs` have the letter `counts`, or None if they fit."""
    wrong = {}
    for lang, scripts in zip(langs, counts):
        share = expected_share(lang, scripts)
        if share is not None and share < MIN_SHARE:
            wrong[lang] = _looks_like(scripts, langs)
    if not wrong:
        return None
    first, second = langs
    if wrong.get(first, (None,))[0] == second and wrong.get(second, (None,))[0] == first:
        relabel = [{first: second, second: first}.get(lang, lang) for lang in source.languages]
        order = "files in the order given" if source.format == "text" else "columns in file order"
        return (f"{source.name}: {_side(source, first)} looks like {wrong[first][1]} and {_side(source, second)} "
                f"like {SCRIPTS[first][0]}; swap the labels (--langs {','.join(relabel)} names the {order}) "
                "or pass --no-lang-check")
    said = " and ".join(
        f"{_side(source, lang)} looks like {looks}, not {SCRIPTS[lang][0]}" if code else
        f"{_side(source, lang)} does not look like {SCRIPTS[lang][0]} ({looks})"
        for lang, (code, looks) in wrong.items()
    )
    return f"{source.name}: {said}; check the language labels (--langs, --columns) or pass --no-lang-check"


def _looks_like(scripts: Counter[str], langs: tuple[str, str]) -> tuple[Optional[str], str]:
    """The language the letters fit and how they look: ('en', 'English (Latin script in 97% of letters)').

    The language is one of `langs` written in the main script, else the only language of `SCRIPTS` written in
    it (Hiragana: Japanese), else None (Latin alone could be any of dozens).
    """
    script, n = scripts.most_common(1)[0]
    share = f"{_script_name(script)} script in {n / sum(scripts.values()):.0%} of letters"
    fits = [lang for lang in langs if script in SCRIPTS.get(lang, ("", ()))[1]]
    fits = fits or [lang for lang, (_, written) in SCRIPTS.items() if script in written]
    if len(fits) == 1:
        return fits[0], f"{SCRIPTS[fits[0]][0]} ({share})"
    return None, share


def _script_name(script: str) -> str:
    return {"CJK": "Han"}.get(script, script.title())


def _side(source: Source, lang: str) -> str:
    """How to name one language of a source: `the 'ko' column`, or the text file itself."""
    if source.format == "text":
        return str(source.paths[source.columns[source.languages.index(lang)]])
    return f"the {lang!r} column"
