"""Normalisation and each filter, with the counts and examples the summary shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s2s.data.cleaning import RATIO_MIN_CHARS, Cleaner, CleaningOptions, Tally, normalize, visible

WHERE = Path("corpus.tsv")


def clean(*texts: str, filters: bool = True, **options):
    tally = Tally()
    out = Cleaner(CleaningOptions(**options), tally).clean(texts, WHERE, 7, filters)
    return out, tally


def test_nfc_joins_hangul_jamo():
    assert normalize("\u1112\u1161\u11ab") == "\ud55c"  # ᄒ ᅡ ᆫ -> 한
    assert normalize("\u1112\x00\u1161\u11ab") == "\ud55c"  # a control between them goes first
    out, tally = clean("\u1112\u1161\u11ab\uad6d\uc5b4", "Korean")
    assert out == ("한국어", "Korean")
    assert tally.counts["nfc"] == 1
    assert tally.examples["nfc"].where == "corpus.tsv:7"
    assert "\\u1112" in tally.examples["nfc"].text  # the example shows what changed


def test_whitespace_is_collapsed():
    assert normalize("  a\t b\u3000c\xa0d\n ") == "a b c d"
    out, tally = clean("가  나", "a b")
    assert out == ("가 나", "a b") and tally.counts["whitespace"] == 1


def test_control_and_invisible_characters_are_removed():
    assert normalize("a\x00b\u200bc\x07\ufeffd\u00ad") == "abcd"
    assert normalize("👩\u200d💻") == "👩\u200d💻"  # ZWJ sequences survive
    out, tally = clean("가\x00나", "ab")
    assert out == ("가나", "ab") and tally.counts["control"] == 1
    assert "\\x00" in tally.examples["control"].text


def test_empty_side_is_dropped():
    out, tally = clean("  \u200b ", "Hello")
    assert out is None
    assert tally.counts["empty"] == 1 and tally.examples["empty"].where == "corpus.tsv:7"


def test_too_long():
    assert clean("가" * 11, "b" * 11, max_chars=10)[0] is None
    assert clean("가" * 10, "b" * 10, max_chars=10)[0] is not None
    assert clean("가" * 11, "b" * 11, max_chars=10)[1].counts["too_long"] == 1


def test_ratio_only_judged_on_long_enough_pairs():
    long_side = "x" * RATIO_MIN_CHARS
    assert clean("초", "Seconds", max_ratio=3)[0] is not None  # 7:1 but short
    out, tally = clean("가나", long_side, max_ratio=3)
    assert out is None and tally.counts["ratio"] == 1
    assert clean("가" * 7, long_side, max_ratio=3)[0] is not None


def test_only_empty_applies_without_filters():
    assert clean("가나", "x" * 200, filters=False, max_ratio=2)[0] is not None
    assert clean("", "x", filters=False)[0] is None


def test_first_dropping_rule_counts():
    out, tally = clean("", "x" * 2000)
    assert out is None and tally.counts["empty"] == 1 and tally.counts["too_long"] == 0


def test_visible_spells_out_what_a_terminal_hides():
    assert visible("a\u200bb\tc") == "a\\u200bb\\x09c"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_normalize_is_idempotent_and_leaves_no_odd_spaces(text):
    once = normalize(text)
    assert normalize(once) == once
    assert "  " not in once and once == once.strip()
    assert "\t" not in once and "\n" not in once


@pytest.mark.parametrize("options", [{"max_chars": 0}, {"max_ratio": 0.5}])
def test_bad_options_are_user_errors(options):
    from s2s.errors import S2SError

    with pytest.raises(S2SError):
        CleaningOptions(**options).check()


def test_change_examples_point_at_the_change():
    from s2s.data.cleaning import change_example

    before = "This article explains the new features,  compared to the old ones"
    assert change_example(before, normalize(before)) == "…w features,␠ compared to…"
    assert change_example("trailing ", "trailing") == "trailing␠"
