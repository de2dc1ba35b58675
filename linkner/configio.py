"""Typed dataclass configs ⇄ TOML / YAML / JSON files.

Every step of LinkNER takes a frozen-ish dataclass config instead of loose keyword flags. The
resolved config is written beside every checkpoint and result (as JSON, so it can be read back
without optional packages), and a config file given by the user may be TOML, YAML or JSON.
Unknown keys are an error (a typo in a config must not be silently ignored).
"""

from __future__ import annotations

import dataclasses
import json
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


def from_dict(cls: type[T], data: dict, source: str = "config") -> T:
    """Build ``cls`` from a dict, recursing into nested dataclass fields; unknown keys raise."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table/mapping for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)} for {cls.__name__}; known: {', '.join(sorted(names))}")
    kwargs = {}
    for key, value in data.items():
        typ = hints[key]
        inner = _dataclass_in(typ)
        if inner is not None and isinstance(value, dict):
            value = from_dict(inner, value, f"{source}.{key}")
        elif isinstance(value, list) and typing.get_origin(typ) is tuple:
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _dataclass_in(typ: Any) -> type | None:
    if dataclasses.is_dataclass(typ):
        return typ
    if isinstance(typ, types.UnionType) or typing.get_origin(typ) is typing.Union:
        for arg in typing.get_args(typ):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def read_config_file(path: str | Path) -> dict:
    """Parse a TOML, YAML or JSON config file into a dict."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix == ".toml":
            return tomllib.loads(text)
        if p.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text) or {}
        return json.loads(text)
    except Exception as exc:  # each parser has its own error type
        raise ConfigError(f"{p}: cannot parse config ({exc})") from None


def load_config(cls: type[T], path: str | Path | None = None, overrides: dict | None = None) -> T:
    """Defaults, then the file, then explicit overrides (e.g. CLI flags that were set)."""
    data = read_config_file(path) if path else {}
    data = {**data, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return from_dict(cls, data, str(path or "config"))


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n", encoding="utf-8")
