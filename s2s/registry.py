"""One `Registry` class and its three instances: architectures, decoding strategies, teacher-forcing schedules.

An entry is registered where it is defined, with the dataclass that configures it:

    @ARCHITECTURES.register("attention", config=AttentionConfig)
    class AttentionSeq2Seq(Seq2Seq): ...

A recipe section names its entry (`model: {arch: attention, hidden: 256}`); `Registry.build_config` turns the
rest of the section into that dataclass, so a misspelt key fails with the key path, the entry and the choices.
The registries are filled by the explicit imports in `s2s/models/__init__.py`, `s2s/decoding/__init__.py` and
`s2s/teacher_forcing.py`: no folder scanning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from s2s.errors import ConfigError
from s2s.typed import from_mapping

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    config: type
    help: str


class Registry(Generic[T]):
    """Named entries of one kind, each with the config dataclass that parameterises it."""

    def __init__(self, kind: str, key: str):
        self.kind = kind  # "architecture", used in messages
        self.key = key  # the recipe key that names an entry, e.g. "arch"
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, config: type) -> Callable[[T], T]:
        if not dataclasses.is_dataclass(config):
            raise TypeError(f"{self.kind} {name!r}: config must be a dataclass, got {config!r}")

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
            self._entries[name] = Entry(name, obj, config, doc[0] if doc else "")
            return obj

        return add

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def entry(self, name: str, path: str = "") -> Entry[T]:
        if name not in self._entries:
            choices = ", ".join(self.names())
            article = "an" if self.kind[0] in "aeiou" else "a"
            raise ConfigError(path or self.key, f"{name!r} is not {article} {self.kind}; choose one of: {choices}")
        return self._entries[name]

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def build_config(self, name: str, values: dict[str, Any], path: str) -> Any:
        """The entry's config dataclass from a recipe section's values (without the naming key)."""
        entry = self.entry(name, f"{path}.{self.key}" if path else self.key)
        return from_mapping(entry.config, values, path)

    def __iter__(self):
        return iter(self._entries[name] for name in self.names())


ARCHITECTURES: Registry = Registry("architecture", key="arch")
DECODERS: Registry = Registry("decoding strategy", key="strategy")
SCHEDULES: Registry = Registry("teacher-forcing schedule", key="schedule")
