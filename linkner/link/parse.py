"""Turn whatever an LLM replied into a decision: a dataset label, a rejection, or "unparseable".

Small local models and servers without constrained decoding answer in many shapes: ``{"type": "LOC"}``,
``"Location."``, ``<Organization>``, ``Answer: organisation``, a ``<think>…</think>`` block followed by
the answer, or a sentence. The original code accepted only an exact, case-sensitive match and turned
every other reply into a (list-valued) ``O``; here the parser is tolerant, and the three outcomes are
kept apart because they are merged differently: a label re-types the entity, a rejection removes it,
an unparseable reply keeps the local label and is counted.
"""

from __future__ import annotations

import json
import re

from linkner.link.decision import LABEL, REJECT, UNPARSED, Decision
from linkner.link.prompts import NONE_OPTION, Schema

REJECT_WORDS = (NONE_OPTION, "none", "no entity", "non-entity", "non entity", "nonentity", "not entity",
                "not a named entity", "not a entity", "no", "o", "null", "nil", "n/a", "na", "neither",
                "not applicable", "not an entity type", "no type", "nothing", "not a name", "non")
_JSON_KEYS = ("type", "label", "entity_type", "entity type", "answer", "category", "class", "entity")
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_PREFIX = re.compile(r"^(final answer|answer|the answer is|type|entity type|label|category|output)\s*[:=\-]?\s*", re.I)
_NEGATED = re.compile(r"\bnot (?:an? |the )?[\w\-]+", re.I)


def _norm(text: str) -> str:
    """Lower-case, unify separators, strip quotes, brackets and punctuation around the answer."""
    t = text.strip().lower()
    t = t.replace("_", " ").replace("\u2019", "'")
    t = re.sub(r"\s+", " ", t)
    return t.strip(" \t\n\"'`*<>[](){}.,;:!?")


def vocabulary(schema: Schema) -> dict[str, str]:
    """Every accepted spelling → dataset label: labels, options, synonyms (normalised)."""
    vocab: dict[str, str] = {}
    for t in schema.types:  # options and labels first so that synonyms never shadow them
        for word in (t.option, t.label):
            vocab.setdefault(_norm(word), t.label)
    for t in schema.types:
        for word in t.synonyms:
            vocab.setdefault(_norm(word), t.label)
        # "creative work" also matches "creative-work"
        vocab.setdefault(_norm(t.option.replace(" ", "-")), t.label)
        vocab.setdefault(_norm(t.option.replace(" ", "")), t.label)
    return vocab


def _from_json(text: str) -> str | None:
    """The answer string inside a JSON reply (object with a known key, or a bare JSON string)."""
    for m in re.finditer(r"\{[^{}]*\}", text, re.S):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            lowered = {str(k).lower(): v for k, v in obj.items()}
            for key in _JSON_KEYS:
                if key in lowered:
                    v = lowered[key]
                    return "none" if v is None else str(v)
            if len(obj) == 1:
                v = next(iter(obj.values()))
                return "none" if v is None else str(v)
    stripped = text.strip()
    if stripped.startswith('"') and stripped.endswith('"'):
        try:
            v = json.loads(stripped)
            return v if isinstance(v, str) else None
        except json.JSONDecodeError:
            return None
    return None


def _exact(text: str, vocab: dict[str, str]) -> Decision | None:
    n = _norm(_PREFIX.sub("", _norm(text)))
    if n in vocab:
        return Decision(LABEL, vocab[n])
    if n in REJECT_WORDS:
        return Decision(REJECT)
    return None


def _search(text: str, vocab: dict[str, str]) -> Decision | None:
    """Whole-word search in a longer reply; ambiguous (two labels) means unparseable."""
    t = _norm(text)
    if re.search(r"\b(not an? (named )?entity|non-?entity|no entity|none of (the|these))\b", t):
        return Decision(REJECT)
    t = _NEGATED.sub(" ", t)  # "it is not a person but a place" → drop "not a person"
    found = {label for word, label in vocab.items() if len(word) > 2 and re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", t)}
    if len(found) == 1:
        return Decision(LABEL, found.pop())
    return None


def parse_answer(raw: str | None, schema: Schema) -> Decision:
    """Map a raw reply to a :class:`Decision` for ``schema``."""
    if raw is None:
        return Decision(UNPARSED)
    text = _THINK.sub(" ", raw)
    if re.search(r"<think>", text, re.I):  # an unterminated thinking block never reached an answer
        text = text[: re.search(r"<think>", text, re.I).start()]
    text = text.strip()
    if not text:
        return Decision(UNPARSED)
    vocab = vocabulary(schema)
    inner = _from_json(text)
    if inner is not None:
        return _exact(inner, vocab) or _search(inner, vocab) or Decision(UNPARSED)
    first_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    return _exact(text, vocab) or _exact(first_line, vocab) or _search(text, vocab) or Decision(UNPARSED)
