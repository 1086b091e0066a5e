"""`DecodeOptions`: what a caller asks of the decoder on top of a recipe's `decode` section; `decoder_from` turns
the two into the registered strategy and its config.

The command line builds one from its flags (`s2s translate --decoder beam --beam 8`), the Python API takes one
(`Translator.load(run, DecodeOptions(beam_size=8))`), and each field's metadata says how the command line spells
it, so that an option the chosen strategy lacks is refused under the name the user typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional

from s2s.config import Recipe
from s2s.errors import ConfigError, S2SError
from s2s.registry import DECODERS
from s2s.typed import to_mapping


def _flag(name: str) -> Any:
    return field(default=None, metadata={"flag": name})


@dataclass(frozen=True)
class DecodeOptions:
    """None keeps the recipe's value. A `beam_size` without a `strategy` asks for beam search."""

    strategy: Optional[str] = _flag("--decoder")  # greedy, beam or sample; None: the recipe's
    beam_size: Optional[int] = _flag("--beam")
    length_penalty: Optional[float] = _flag("--alpha")
    nbest: Optional[int] = _flag("--nbest")
    temperature: Optional[float] = _flag("--temperature")
    top_k: Optional[int] = _flag("--top-k")
    top_p: Optional[float] = _flag("--top-p")
    seed: Optional[int] = _flag("--seed")
    max_len_a: Optional[float] = None
    max_len_b: Optional[int] = None
    min_len: Optional[int] = None

    def overrides(self) -> dict[str, Any]:
        """The decoder keys given, as a recipe's `decode` section spells them."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "strategy" and getattr(self, f.name) is not None}

    @staticmethod
    def spelling(key: str) -> str:
        """How the command line names `key` (`--beam`), or the recipe key for one it has no flag for."""
        known = DecodeOptions.__dataclass_fields__.get(key)
        return (known.metadata.get("flag") if known else None) or f"decode.{key}"


def decoder_from(recipe: Recipe, options: Optional[DecodeOptions] = None) -> tuple[str, Any]:
    """The recipe's decoder, or the strategy `options` names, with `options`' keys checked like recipe keys.

    Another strategy keeps the recipe's shared limits (max length). A key the strategy has no field for is refused
    with the strategies that do have it (`--beam` with `--decoder greedy`), not silently ignored.
    """
    options = options or DecodeOptions()
    strategy = options.strategy or ("beam" if options.beam_size is not None else None)
    name = strategy or recipe.decode.name
    accepted = DECODERS.entry(name, "--decoder" if strategy else "decode.strategy").config.__dataclass_fields__
    given = options.overrides()
    for key, value in given.items():
        if key not in accepted:
            takers = [e.name for e in DECODERS if key in e.config.__dataclass_fields__]
            raise S2SError(f"{DecodeOptions.spelling(key)} {value}: the {name} decoder has no such option "
                           f"(it applies to: {', '.join(takers) or 'no decoder'})")
    values = {k: v for k, v in to_mapping(recipe.decode.config).items() if k in accepted}
    values.update(given)
    try:
        return name, DECODERS.build_config(name, values, "decode")
    except ConfigError as err:
        key = err.key.removeprefix("decode.")
        if key in given and DecodeOptions.spelling(key).startswith("--"):  # as typed: "--beam 0: must be >= 1"
            raise S2SError(f"{DecodeOptions.spelling(key)} {given[key]}: {str(err).partition(': ')[2]}") from None
        raise
