"""Typed dataclass configs ⇄ TOML / YAML / JSON files.

Every step of LinkNER takes a frozen-ish dataclass config instead of loose keyword flags. The
resolved config is written beside every checkpoint and result (as JSON, so it can be read back
without optional packages), and a config file given by the user may be TOML, YAML or JSON.
Unknown keys are an error (a typo in a config must not be silently ignored).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from linkner.errors import ConfigError

T = TypeVar("T")


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a (nested) dataclass config."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def from_dict(cls: type[T], data: dict, source: str = "config", _prefix: str = "") -> T:
    """Build ``cls`` from a dict, recursing into nested dataclass fields.

    Unknown keys raise, and so does every value whose type does not match the field's declared type
    (checked here, before the dataclass is built, so the message can name the key path such as
    ``train.batch_size`` and the type expected; a ``2.5`` batch size must fail at load time, not as a
    traceback deep inside training). ``source`` names where the dict came from (a file, "flags").
    """
    if not isinstance(data, dict):
        if _prefix:
            key = _prefix.rstrip(".")
            raise ConfigError(f"{source}: '{key}' must be a table of settings ([{key}]), not {_describe_value(data)}")
        raise ConfigError(f"{source}: expected a table/mapping for {cls.__name__}, not {_describe_value(data)}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(_prefix + str(k) for k in unknown)} for {cls.__name__}; "
                          f"known: {', '.join(sorted(names))}")
    kwargs = {key: check_value(value, hints[key], source, _prefix + key) for key, value in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


class _Mismatch(Exception):
    """Internal: a value does not fit a type (turned into a ConfigError naming the key)."""


def check_value(value: Any, typ: Any, source: str, key: str) -> Any:
    """``value`` checked against the declared type ``typ`` (and normalised: ints widened to float, lists
    to tuples, tables to nested dataclasses); a mismatch raises a :class:`ConfigError` naming ``key``.

    bool is strict: ``bf16 = "no"`` or ``bf16 = 0`` is refused rather than guessed, and a bool is not an
    int either (``epochs = true`` is a typo, not 1).
    """
    try:
        return _coerce(value, typ, source, key)
    except _Mismatch:
        raise ConfigError(f"{source}: key '{key}' must be {describe_type(typ)}, not {_describe_value(value)}") from None


def check_fields(obj: Any, allow_paths: bool = True) -> None:
    """Type-check (and normalise in place) every field of a dataclass instance.

    Called first in ``__post_init__`` of the configs, so a config built directly in Python with a wrong
    type gets the same :class:`ConfigError` as a config file, never a ``TypeError`` from a comparison.
    ``allow_paths`` accepts ``os.PathLike`` for ``str`` fields (and stores ``str``), as Python callers
    naturally pass ``Path`` objects.
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if allow_paths and isinstance(value, os.PathLike) and _accepts(hints[f.name], str):
            value = os.fspath(value)
        object.__setattr__(obj, f.name, check_value(value, hints[f.name], type(obj).__name__, f.name))


def _accepts(typ: Any, target: type) -> bool:
    return typ is target or target in typing.get_args(typ)


def _is_union(typ: Any) -> bool:
    return isinstance(typ, types.UnionType) or typing.get_origin(typ) is typing.Union


def _coerce(value: Any, typ: Any, source: str, key: str) -> Any:
    if typ is Any or typ is object:
        return value
    if typ is None or typ is type(None):
        if value is None:
            return None
        raise _Mismatch
    if _is_union(typ):
        args = typing.get_args(typ)
        # a nested table goes to the dataclass member, so its own errors name the inner key
        if isinstance(value, dict):
            for arg in args:
                if dataclasses.is_dataclass(arg):
                    return from_dict(arg, value, source, key + ".")
        for arg in args:
            try:
                return _coerce(value, arg, source, key)
            except _Mismatch:
                continue
        raise _Mismatch
    if dataclasses.is_dataclass(typ):
        if isinstance(value, typ):
            return value
        if isinstance(value, dict):
            return from_dict(typ, value, source, key + ".")
        raise _Mismatch
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if typ is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    origin = typing.get_origin(typ) or typ
    args = typing.get_args(typ)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], source, f"{key}[{i}]") for i, v in enumerate(value))
        if args:
            if len(args) != len(value):
                raise _Mismatch
            return tuple(_coerce(v, a, source, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        return tuple(value)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        return [_coerce(v, args[0], source, f"{key}[{i}]") for i, v in enumerate(value)] if args else list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise _Mismatch
        if len(args) == 2:
            return {_coerce(k, args[0], source, key): _coerce(v, args[1], source, f"{key}.{k}") for k, v in value.items()}
        return value
    if typing.get_origin(typ) is typing.Literal:
        if value in args:
            return value
        raise _Mismatch
    if isinstance(origin, type):
        if isinstance(value, origin):
            return value
        raise _Mismatch
    return value  # an annotation this checker does not model: leave it to the dataclass


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null (unset)",
               dict: "a table/mapping", list: "a list", tuple: "a list"}


def describe_type(typ: Any) -> str:
    """Plain words for a declared type, as used in error messages ("an integer or null (unset)")."""
    if typ is None or typ is type(None):
        return _TYPE_WORDS[type(None)]
    if _is_union(typ):
        return " or ".join(describe_type(a) for a in typing.get_args(typ))
    if dataclasses.is_dataclass(typ):
        return f"a table of {typ.__name__} settings"
    if typ in _TYPE_WORDS:
        return _TYPE_WORDS[typ]
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin in (tuple, list) and args:
        return f"a list of {describe_type(args[0]).removeprefix('an ').removeprefix('a ')}s"
    if origin is dict:
        return _TYPE_WORDS[dict]
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    return getattr(typ, "__name__", str(typ))


def _describe_value(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def read_config_file(path: str | Path) -> dict:
    """Parse a TOML, YAML or JSON config file into a dict (the top level must be a table/mapping)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}" + (" (it is a folder)" if p.is_dir() else ""))
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p} is not valid UTF-8 (byte {exc.start}); save the config as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    try:
        if p.suffix == ".toml":
            data = tomllib.loads(text)
        elif p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as exc:  # each parser has its own error type
        raise ConfigError(f"{p}: cannot parse config ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config file must hold a table/mapping of settings, not {type(data).__name__}")
    return data


def layered(cls: type[T], flags: dict | None = None, file: str | Path | None = None, base: dict | None = None) -> T:
    """The one way every command builds its config: defaults < ``base`` < ``file`` < ``flags``.

    ``base`` is a saved config to continue from (``linkner train --resume``), ``file`` a TOML/YAML/JSON
    config (``--config``), ``flags`` the settings given explicitly on the command line or by a caller
    (``None`` values count as not given). Tables (``[llm]``, ``[train]``, …) are merged key by key, so a
    flag overrides one setting of a table without dropping the file's others. Types are then checked by
    :func:`from_dict`, which names the key and the source.
    """
    data: dict = {}
    source = "command line"
    if base:
        _merge(data, base, "saved config")
    if file is not None:
        source = str(file)
        _merge(data, read_config_file(file), source)
    _merge(data, _given(flags or {}), source)
    return from_dict(cls, data, source)


def _given(flags: dict) -> dict:
    out = {}
    for k, v in flags.items():
        if isinstance(v, dict):
            v = _given(v)
            if v:
                out[k] = v
        elif v is not None:
            out[k] = v
    return out


def _merge(into: dict, values: dict, source: str, prefix: str = "") -> None:
    for k, v in values.items():
        if isinstance(v, dict):
            cur = into.get(k)
            if cur is None:
                into[k] = cur = {}
            elif not isinstance(cur, dict):
                raise ConfigError(f"{source}: '{prefix}{k}' must be a table of settings ([{prefix}{k}]), not {cur!r}")
            _merge(cur, v, source, f"{prefix}{k}.")
        elif isinstance(into.get(k), dict):
            raise ConfigError(f"{source}: '{prefix}{k}' must be a table of settings ([{prefix}{k}]), not {v!r}")
        else:
            into[k] = v


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n", encoding="utf-8")
