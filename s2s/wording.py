"""Counted nouns in messages: "1 step", "2 steps", "1 process", "decoding strategies".

One rule for every message that shows a number, so none says "1 steps" or "strategys".
"""

from __future__ import annotations


def plural(noun: str) -> str:
    """English plural of a regular noun, or of the last word of a phrase ("decoding strategy" -> "... strategies")."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def count(n: int, noun: str) -> str:
    """`n` and `noun`, in the plural unless n is 1: count(1, "step") -> "1 step"; count(1200, "line") -> "1,200 lines"."""
    return f"{n:,} {noun if n == 1 else plural(noun)}"
