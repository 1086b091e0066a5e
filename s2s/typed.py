"""Build frozen dataclasses from plain YAML data, checking every key and type.

Kept apart from `config.py` because the registries use it too: one checker for every recipe section.
A dataclass may define `check(self) -> None` raising `ValueError("field: why")` for ranges; the message is
re-raised as a `ConfigError` naming the full key path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from s2s.errors import ConfigError


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if get_origin(tp) in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` checked (and where lossless, converted: int -> float, list -> tuple) against type `tp`."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(get_args(tp)):
            return None
        if len(options) == 1:  # Optional[X]: X's own message is the precise one
            return coerce(value, options[0], key)
        for option in options:
            try:
                return coerce(value, option, key)
            except ConfigError:
                pass
        raise ConfigError(key, f"{value!r} is not {_type_name(tp)}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise ConfigError(key, f"{value!r} is not valid; choose one of: {', '.join(map(str, get_args(tp)))}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(key, f"{value!r} is not null")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(key, f"{value!r} is not a boolean (true or false)")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(key, f"{value!r} is not an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(key, f"{value!r} is not a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(key, f"{value!r} is not a string")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"{value!r} is not a list")
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(key, f"{value!r} must have {len(args)} items")
        return tuple(coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, key)
    raise TypeError(f"unsupported config type {tp!r} at {key}")


def from_mapping(cls: type, values: Any, path: str) -> Any:
    """An instance of dataclass `cls` from `values`; unknown keys, bad types and bad ranges name `path.key`."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(path, f"expected a mapping of keys to values, got {values!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in values if k not in fields]
    if unknown:
        key = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(key, f"unknown key; valid keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = coerce(value, hints[name], f"{path}.{name}" if path else name)
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{path}.{missing[0]}" if path else missing[0], "is required")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        try:
            check()
        except ValueError as err:
            field, _, why = str(err).partition(": ")
            raise ConfigError(f"{path}.{field}" if path else field, why or str(err)) from None
    return obj


def to_mapping(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) from a dataclass tree, for YAML, JSON and checkpoints."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj


def require(condition: bool, message: str) -> None:
    """For `check()` methods: `require(self.lr > 0, "lr: must be positive")`."""
    if not condition:
        raise ValueError(message)


__all__ = ["coerce", "from_mapping", "to_mapping", "require", "typing"]
