"""The one data model every LinkNER step speaks.

Convention (used everywhere in the package): an entity is a **token span with an exclusive end**,
``tokens[start:end]``, exactly like Python slicing. Raw-text sentences also carry the character
offsets of every token into the original string, so an entity's characters are
``text[token_offsets[start][0]:token_offsets[end - 1][1]]``.

Why exclusive ends: they make lengths ``end - start``, empty spans impossible to confuse with
one-token spans, and slicing free of ``+ 1`` corrections. The original code's spanner JSON uses
inclusive ends; its reader and writer are the only places that convert.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, order=True)
class Entity:
    """A labelled token span ``[start, end)`` of one sentence.

    ``score`` and ``extra`` carry model outputs (probability, uncertainties…) and do not take part in
    equality, so a predicted entity equals a gold one when span and label match.
    """

    start: int
    end: int
    label: str
    score: float | None = field(default=None, compare=False)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"invalid entity span [{self.start}, {self.end}) for label {self.label!r}")
        if not self.label:
            raise ValueError("an entity needs a non-empty label")

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    def __len__(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Entity) -> bool:
        return self.start < other.end and other.start < self.end

    def with_label(self, label: str) -> Entity:
        return replace(self, label=label)


@dataclass
class Sentence:
    """Tokens, their gold (or predicted) entities, and where the tokens came from.

    ``token_offsets`` is set only for raw-text input: ``(char_start, char_end)`` per token into
    ``text``. ``id`` is stable across every step so that predictions, LLM answers and gold can be
    joined without relying on file order.
    """

    tokens: list[str]
    entities: list[Entity] = field(default_factory=list)
    id: str = ""
    text: str | None = None
    token_offsets: list[tuple[int, int]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.tokens)
        for e in self.entities:
            if e.end > n:
                raise ValueError(
                    f"sentence {self.id or '?'}: entity [{e.start}, {e.end}) {e.label} lies beyond its {n} tokens"
                )
        if self.token_offsets is not None and len(self.token_offsets) != n:
            raise ValueError(f"sentence {self.id or '?'}: {len(self.token_offsets)} offsets for {n} tokens")

    def __len__(self) -> int:
        return len(self.tokens)

    def surface(self, entity: Entity) -> str:
        """The entity's text: the exact original characters when known, else tokens joined by spaces."""
        if self.text is not None and self.token_offsets is not None:
            return self.text[self.token_offsets[entity.start][0] : self.token_offsets[entity.end - 1][1]]
        return " ".join(self.tokens[entity.start : entity.end])

    def char_span(self, entity: Entity) -> tuple[int, int] | None:
        if self.token_offsets is None:
            return None
        return (self.token_offsets[entity.start][0], self.token_offsets[entity.end - 1][1])

    def with_entities(self, entities: list[Entity]) -> Sentence:
        return replace(self, entities=sorted(entities))


def labels_of(sentences: list[Sentence]) -> list[str]:
    """Sorted distinct entity labels found in ``sentences``."""
    return sorted({e.label for s in sentences for e in s.entities})
