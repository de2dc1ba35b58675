"""The prediction record: what ``linkner infer`` writes and every later stage reads, as typed values.

A predicted :class:`~linkner.data.types.Sentence` carries, beside its decoded entities, the spans the
model scored but did not output, the gold entities of labelled input, and the model that made it. On
disk these are top-level keys of the JSONL record (``candidates``, ``near_miss``, ``boundary``, ``gold``,
``gold_scored``, ``model``; the reader keeps them in ``Sentence.meta``); this module is the one place that
parses them, so no stage re-reads dicts by hand:

* :class:`ScoredSpan`: a span with the model's probability table and uncertainties (its label, probability
  and ``entity_prob`` = 1 − P(O) follow from the table; ``of`` = the entity a boundary variant moves);
* :class:`ModelInfo`: the checkpoint, its loss, uncertainty methods, maximal span width, MC seed, label
  schema and training data;
* :class:`Prediction`: the sentence with all of the above, built by :meth:`Prediction.of`.

Records written before a key existed read as empty (``near_miss``/``boundary``) or ``None`` (``gold`` of
unlabelled input); a scored span without a probability table (older files) is skipped, malformed gold
raises :class:`~linkner.errors.DataError` naming the sentence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from linkner.data.types import Entity, Sentence
from linkner.errors import DataError

SPAN_KINDS = ("candidates", "near_miss", "boundary", "gold_scored")


@dataclass(frozen=True)
class ScoredSpan:
    """A span the local model scored: its full probability table (``"O"`` included), its uncertainty
    scores and, for a boundary variant, ``of`` = the decoded entity it varies."""

    start: int
    end: int
    probs: Mapping[str, float] = field(default_factory=dict, compare=False)
    uncertainty: Mapping[str, float] = field(default_factory=dict, compare=False)
    of: tuple[int, int] | None = None

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    @property
    def label(self) -> str:
        """The model's argmax label (possibly ``"O"``)."""
        return max(self.probs, key=self.probs.get)

    @property
    def prob(self) -> float:
        return float(self.probs[self.label])

    @property
    def entity_prob(self) -> float:
        """1 − P(O): how likely the span is an entity of any type."""
        return 1.0 - float(self.probs.get("O", 0.0))

    @classmethod
    def from_record(cls, rec: object) -> ScoredSpan | None:
        """The typed value of one JSON record, or ``None`` when it is not one: a record without a
        probability table (older files) cannot be scored or fused honestly, so readers skip it."""
        if not isinstance(rec, dict) or not isinstance(rec.get("probs"), dict) or not rec["probs"]:
            return None
        try:
            start, end = int(rec["start"]), int(rec["end"])
            probs = {str(k): float(v) for k, v in rec["probs"].items()}
            of = rec.get("of")
            of = (int(of[0]), int(of[1])) if isinstance(of, (list, tuple)) and len(of) == 2 else None
        except (KeyError, TypeError, ValueError):
            return None
        if start < 0 or end <= start or any(math.isnan(p) for p in probs.values()):
            return None
        unc = rec.get("uncertainty") if isinstance(rec.get("uncertainty"), dict) else {}
        return cls(start, end, probs, {str(k): float(v) for k, v in unc.items()}, of)

    def record(self, with_entity_prob: bool = False) -> dict:
        """The JSON form ``linkner infer`` writes (the inverse of :meth:`from_record`)."""
        rec: dict = {"start": self.start, "end": self.end, "label": self.label, "prob": self.prob,
                     "uncertainty": dict(self.uncertainty), "probs": dict(self.probs)}
        if with_entity_prob:
            rec["entity_prob"] = self.entity_prob
        if self.of is not None:
            rec["of"] = list(self.of)
        return rec

    def entity(self) -> Entity:
        """The span as the local model left it, for a linking question: label ``O`` (it was not output),
        with its probability table and uncertainties."""
        return Entity(self.start, self.end, "O", self.probs.get("O"),
                      {"probs": dict(self.probs), "uncertainty": dict(self.uncertainty), "entity_prob": self.entity_prob})


@dataclass(frozen=True)
class ModelInfo:
    """Which model made a prediction file (``meta["model"]``); every field is optional in old files."""

    path: str | None = None
    loss: str | None = None
    uncertainty_methods: tuple[str, ...] = ()
    max_span_len: int | None = None
    mc_seed: int | None = None
    labels: tuple[str, ...] | None = None  # the complete schema without "O" (older files: None)
    dataset: str | None = None  # the training data (a registry name or a file)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> ModelInfo:
        m = meta.get("model") or {}
        if not isinstance(m, Mapping):
            return cls()
        labels = m.get("labels")
        return cls(m.get("path"), m.get("loss"), tuple(m.get("uncertainty_methods") or ()), m.get("max_span_len"),
                   m.get("mc_seed"), tuple(labels) if isinstance(labels, list) else None,
                   m.get("dataset") or m.get("data"))


@dataclass(frozen=True)
class Prediction:
    """One predicted sentence with everything the model said about it (see the module docstring)."""

    sentence: Sentence
    candidates: tuple[ScoredSpan, ...] = ()
    near_miss: tuple[ScoredSpan, ...] = ()
    boundary: tuple[ScoredSpan, ...] = ()
    gold: tuple[Entity, ...] | None = None
    gold_scored: tuple[ScoredSpan, ...] = ()
    model: ModelInfo = field(default_factory=ModelInfo)

    @property
    def entities(self) -> list[Entity]:
        return self.sentence.entities

    @classmethod
    def of(cls, s: Sentence) -> Prediction:
        spans = {k: scored_spans(s, k) for k in SPAN_KINDS}
        return cls(s, spans["candidates"], spans["near_miss"], spans["boundary"], gold_entities(s),
                   spans["gold_scored"], ModelInfo.from_meta(s.meta))


def _list(meta: Mapping[str, Any], key: str, where: str) -> list:
    value = meta.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"{where}: '{key}' must be a list of spans, not {type(value).__name__}")
    return value


def gold_entities(s: Sentence) -> tuple[Entity, ...] | None:
    """The gold entities a prediction record carries (``None``: unlabelled input)."""
    gold = s.meta.get("gold")
    if gold is None:
        return None
    where = f"sentence {s.id or '?'}"
    try:
        return tuple(sorted(Entity(int(g["start"]), int(g["end"]), str(g["label"])) for g in gold))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: malformed gold entities ({type(exc).__name__}: {exc})") from None


def gold_keys(s: Sentence) -> set[tuple[int, int, str]]:
    """``{(start, end, label)}`` of the gold entities (empty for unlabelled input)."""
    return {(e.start, e.end, e.label) for e in gold_entities(s) or ()}


def scored_spans(s: Sentence, kind: str) -> tuple[ScoredSpan, ...]:
    """One kind of scored span (``candidates``, ``near_miss``, ``boundary``, ``gold_scored``) of a sentence."""
    if kind not in SPAN_KINDS:
        raise ValueError(f"unknown span kind {kind!r}; one of {', '.join(SPAN_KINDS)}")
    spans = (ScoredSpan.from_record(r) for r in _list(s.meta, kind, f"sentence {s.id or '?'}"))
    return tuple(sp for sp in spans if sp is not None and sp.end <= len(s.tokens))


def model_info(s: Sentence) -> ModelInfo:
    return ModelInfo.from_meta(s.meta)
