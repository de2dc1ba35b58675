"""Entity-level precision, recall and F1, micro and per type.

The numbers are, by construction and by test, identical to seqeval's default (conlleval-compatible)
mode on the same tag sequences: entities are exact (start, end, label) matches, every gold entity
counts (none is dropped for being long or truncated), and F1 is computed from precision and recall
exactly as seqeval does, so even the last floating-point digit agrees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from linkner.data.types import Entity, Sentence
from linkner.errors import DataError


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    tp: int
    n_pred: int
    n_gold: int

    @classmethod
    def from_counts(cls, tp: int, n_pred: int, n_gold: int) -> PRF:
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_gold if n_gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return cls(p, r, f, tp, n_pred, n_gold)


@dataclass(frozen=True)
class Scores:
    micro: PRF
    per_type: dict[str, PRF] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"micro": asdict(self.micro), "per_type": {k: asdict(v) for k, v in self.per_type.items()}}


def score_entity_sets(gold: list[set[tuple[int, int, str]]], pred: list[set[tuple[int, int, str]]]) -> Scores:
    """Score aligned per-sentence sets of ``(start, end, label)``."""
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred, strict=True):
        for (_, _, lab) in g:
            n_gold[lab] += 1
        for (_, _, lab) in p:
            n_pred[lab] += 1
        for (_, _, lab) in g & p:
            tp[lab] += 1
    types = sorted(set(n_gold) | set(n_pred))
    per_type = {t: PRF.from_counts(tp[t], n_pred[t], n_gold[t]) for t in types}
    micro = PRF.from_counts(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return Scores(micro, per_type)


def _key(e: Entity) -> tuple[int, int, str]:
    return (e.start, e.end, e.label)


def evaluate(gold: list[Sentence], pred: list[Sentence]) -> Scores:
    """Score predicted sentences against gold ones, aligned by position.

    The two lists must describe the same sentences: equal counts and equal token counts per
    sentence, else :class:`DataError` (a silent misalignment would produce a meaningless score).
    """
    if len(gold) != len(pred):
        raise DataError(f"gold has {len(gold)} sentences but predictions have {len(pred)}; they must be the same sentences")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise DataError(
                f"sentence {i} ({g.id}): gold has {len(g)} tokens, prediction ({p.id}) has {len(p)}; files are not aligned"
            )
    return score_entity_sets([{_key(e) for e in s.entities} for s in gold], [{_key(e) for e in s.entities} for s in pred])
