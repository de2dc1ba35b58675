"""A user's own entity-type definitions for linking (``linkner link --types types.toml``).

Why this exists: a model trained on a person's own labels (``politicalparty``, ``drug``) otherwise reaches
the LLM only as "an entity of the type called politicalparty", which tells a small LLM next to nothing. A
types file gives each label a short description and, optionally, examples, counter-examples and the word
the LLM should answer with; it replaces the built-in dataset schema of :mod:`linkner.link.prompts`.

The file (TOML, YAML or JSON, read by :func:`linkner.configio.read_config_file`)::

    context = "The sentences come from parliamentary debates."     # optional, said once in the prompt

    [types.politicalparty]
    description = "a political party or movement"
    examples = ["Labour", "the Greens"]                              # optional
    counter_examples = ["Parliament (an institution, not a party)"]  # optional
    option = "political party"                                       # optional answer word

    [types]
    drug = "a medicine or recreational drug"                          # shorthand: the description alone

Everything is checked before a backend is created or any LLM call is made (:func:`types_schema`): each
label of the predictions needs a definition (unless ``partial``, when the generic wording is used for the
rest and the record says which), a definition for a label the predictions do not have is an error (most
often a typo), and every field has the right type. The definitions and the file's SHA-256 go into
``metrics.json``; the answer cache keys on the prompt, so edited definitions are asked afresh.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from linkner.configio import read_config_file
from linkner.errors import ConfigError
from linkner.link.parse import REJECT_WORDS, _norm
from linkner.link.prompts import NONE_OPTION, Schema, TypeInfo, generic_type, option_word

TOP_KEYS = ("context", "types")
ENTRY_KEYS = ("description", "examples", "counter_examples", "option")


@dataclass(frozen=True)
class TypeDefinition:
    """What the user wrote about one label."""

    label: str
    description: str
    examples: tuple[str, ...] = ()
    counter_examples: tuple[str, ...] = ()
    option: str | None = None  # the answer word; default: derived from the label

    def type_info(self) -> TypeInfo:
        return TypeInfo(self.label, self.option or option_word(self.label), self.description.strip(),
                        examples=self.examples, counter_examples=self.counter_examples)

    def as_dict(self) -> dict:
        return {"description": self.description, "examples": list(self.examples),
                "counter_examples": list(self.counter_examples), "option": self.option or option_word(self.label)}


@dataclass(frozen=True)
class TypesFile:
    """A parsed, well-formed types file (not yet checked against any predictions)."""

    path: str
    sha256: str
    definitions: dict[str, TypeDefinition] = field(default_factory=dict)
    context: str = ""

    def record(self, schema: Schema) -> dict:
        """What ``metrics.json`` keeps: the file, its hash, the definitions, and labels left generic."""
        return {"file": self.path, "sha256": self.sha256, "context": self.context,
                "definitions": {lab: d.as_dict() for lab, d in sorted(self.definitions.items())},
                "generic": sorted(set(schema.labels) - set(self.definitions))}


def _text(value: object, key: str, source: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{source}: {key} must be a string, not {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ConfigError(f"{source}: {key} must not be empty")
    return value.strip()


def _texts(value: object, key: str, source: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{source}: {key} must be a list of strings, not {type(value).__name__}")
    return tuple(_text(v, f"{key}[{i}]", source) for i, v in enumerate(value))


def _definition(label: str, entry: object, source: str) -> TypeDefinition:
    key = f"types.{label}"
    if isinstance(entry, str):  # shorthand: label = "description"
        return TypeDefinition(label, _text(entry, key, source))
    if not isinstance(entry, dict):
        raise ConfigError(f"{source}: {key} must be a table with a description (or a description string), "
                          f"not {type(entry).__name__}")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(f'{key}.{k}' for k in unknown)}; known: {', '.join(ENTRY_KEYS)}")
    if "description" not in entry:
        raise ConfigError(f"{source}: {key}.description is missing (a short definition of the type)")
    option = _text(entry["option"], f"{key}.option", source) if "option" in entry else None
    return TypeDefinition(label, _text(entry["description"], f"{key}.description", source),
                          _texts(entry.get("examples", []), f"{key}.examples", source),
                          _texts(entry.get("counter_examples", []), f"{key}.counter_examples", source), option)


def parse_types(data: object, source: str) -> tuple[dict[str, TypeDefinition], str]:
    """The definitions and the context note of a types file's parsed content."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a table with a [types] section")
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {', '.join(unknown)}; known: {', '.join(TOP_KEYS)} "
                          "(definitions go under [types.LABEL])")
    types = data.get("types")
    if not isinstance(types, dict) or not types:
        raise ConfigError(f"{source}: no type definitions; write one [types.LABEL] table per label with a description")
    definitions = {}
    for label, entry in types.items():
        if not isinstance(label, str) or not label.strip() or label == "O":
            raise ConfigError(f"{source}: {label!r} is not an entity label")
        definitions[label] = _definition(label, entry, source)
    context = _text(data.get("context", ""), "context", source, allow_empty=True)
    return definitions, context


def read_types(path: str | Path) -> TypesFile:
    """Read and check the form of a types file; every problem is a :class:`ConfigError` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"types file not found: {p}" if not p.exists() else f"types file {p} is not a file")
    try:
        raw = p.read_bytes()
        raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read types file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"types file {p} is not UTF-8 text") from None
    definitions, context = parse_types(read_config_file(p), str(p))
    return TypesFile(str(p), hashlib.sha256(raw).hexdigest(), definitions, context)


def types_schema(types: TypesFile, labels: list[str], partial: bool = False) -> Schema:
    """The prompt schema for ``labels`` (the predictions' label set) from the user's definitions.

    Missing definitions are an error unless ``partial`` (then those labels get the generic wording);
    definitions of labels the predictions do not have are always an error, since they are most often a
    typo that would otherwise silently leave the real label undescribed.
    """
    src, have = types.path, set(labels)
    unknown = sorted(set(types.definitions) - have)
    if unknown:
        hint = ""
        folded = {lab.lower(): lab for lab in labels}
        close = [f"{u!r} → {folded[u.lower()]!r}" for u in unknown if u.lower() in folded]
        if close:
            hint = f" (labels are case-sensitive: {', '.join(close)})"
        raise ConfigError(f"{src}: definitions for label(s) the predictions do not have: {', '.join(unknown)}{hint}; "
                          f"the predictions' labels are: {', '.join(sorted(have)) or '(none)'}")
    missing = sorted(have - set(types.definitions))
    if missing and not partial:
        raise ConfigError(f"{src}: no definition for label(s) {', '.join(missing)}; add a [types.LABEL] table for each, "
                          "or pass --types-partial to describe those by their name alone")
    infos = tuple(types.definitions[lab].type_info() if lab in types.definitions else generic_type(lab)
                  for lab in sorted(have))
    seen: dict[str, str] = {}
    for t in infos:
        word = _norm(t.option)
        if word == _norm(NONE_OPTION) or word in REJECT_WORDS:
            raise ConfigError(f"{src}: label {t.label!r} would be answered as {t.option!r}, which reads as a rejection; "
                              f"set types.{t.label}.option to another word")
        if word in seen:
            raise ConfigError(f"{src}: labels {seen[word]!r} and {t.label!r} would both be answered as {t.option!r}; "
                              "set a distinct option for one of them")
        seen[word] = t.label
    return Schema("custom", types.context, infos)
