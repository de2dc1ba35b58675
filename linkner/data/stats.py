"""Dataset statistics: sentence, token and entity counts, per type, and entity lengths."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from linkner.data.types import Sentence


@dataclass
class DatasetStats:
    sentences: int
    tokens: int
    entities: int
    per_type: dict[str, int] = field(default_factory=dict)
    length_histogram: dict[int, int] = field(default_factory=dict)

    @property
    def longer_than(self) -> dict[int, int]:
        """Entities longer than L tokens, for L = 1..10 (what a span model with width L cannot find)."""
        return {L: sum(c for n, c in self.length_histogram.items() if n > L) for L in range(1, 11)}

    def as_dict(self) -> dict:
        return {
            "sentences": self.sentences,
            "tokens": self.tokens,
            "entities": self.entities,
            "per_type": self.per_type,
            "length_histogram": {str(k): v for k, v in self.length_histogram.items()},
        }


def compute_stats(sentences: list[Sentence]) -> DatasetStats:
    types = Counter(e.label for s in sentences for e in s.entities)
    lengths = Counter(len(e) for s in sentences for e in s.entities)
    return DatasetStats(
        sentences=len(sentences),
        tokens=sum(len(s) for s in sentences),
        entities=sum(types.values()),
        per_type=dict(sorted(types.items())),
        length_histogram=dict(sorted(lengths.items())),
    )
