"""Span logic: enumeration, BIO ⇄ entity spans, and greedy non-overlapping decoding.

All spans here are token spans with an exclusive end (see :mod:`linkner.data.types`).

The chunking rule of :func:`tags_to_entities` is the conlleval one, written as the same state
machine seqeval uses in its default mode, so that an entity set computed here and one computed by
seqeval from the same tags are identical, even for invalid sequences (``I-X`` after ``O``, ``I-X``
after ``B-Y``, stray ``E-``). It therefore reads IOB1, IOB2, BIOES/IOBES and mixtures alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from linkner.data.types import Entity

OUTSIDE = "O"
_VALID_PREFIXES = frozenset("BIESO")


def enumerate_spans(n_tokens: int, max_width: int) -> list[tuple[int, int]]:
    """Every span ``[s, e)`` of 1..``max_width`` tokens, ordered by start then end.

    A sentence of n ≥ L tokens yields ``L·n − L(L−1)/2`` spans.
    """
    if max_width < 1:
        raise ValueError("max_width must be at least 1")
    return [(s, e) for s in range(n_tokens) for e in range(s + 1, min(s + max_width, n_tokens) + 1)]


def split_tag(tag: str) -> tuple[str, str]:
    """Split ``B-creative-work`` into (``B``, ``creative-work``); ``O`` into (``O``, ``""``).

    Only the first hyphen separates, so hyphenated types survive. Raises ``ValueError`` for tags
    whose prefix is not one of B, I, E, S, O (IOB1, IOB2 and BIOES use nothing else).
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, sep, typ = tag.partition("-")
    if not sep or prefix not in _VALID_PREFIXES or prefix == OUTSIDE or not typ:
        raise ValueError(f"not a B/I/E/S-TYPE or O tag: {tag!r}")
    return prefix, typ


def _ends(prev: str, tag: str, prev_type: str, typ: str) -> bool:
    if prev in ("E", "S"):
        return True
    if prev in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev != "O" and prev_type != typ


def _starts(prev: str, tag: str, prev_type: str, typ: str) -> bool:
    if tag in ("B", "S"):
        return True
    if prev in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag != "O" and prev_type != typ


def tags_to_entities(tags: Sequence[str]) -> list[Entity]:
    """Chunk one sentence's tags into entities, conlleval/seqeval style (see module docstring)."""
    entities: list[Entity] = []
    prev, prev_type, begin = "O", "", 0
    for i, tag in enumerate([*tags, OUTSIDE]):
        prefix, typ = split_tag(tag)
        if _ends(prev, prefix, prev_type, typ):
            entities.append(Entity(begin, i, prev_type))
        if _starts(prev, prefix, prev_type, typ):
            begin = i
        prev, prev_type = prefix, typ
    return entities


def entities_to_tags(n_tokens: int, entities: Iterable[Entity], scheme: str = "IOB2") -> list[str]:
    """Write non-overlapping entities as a tag sequence in ``IOB2`` (default) or ``BIOES``.

    Raises ``ValueError`` on overlapping entities: a flat tag sequence cannot hold them, and
    silently dropping one would lose data.
    """
    tags = [OUTSIDE] * n_tokens
    for e in sorted(entities):
        if e.end > n_tokens:
            raise ValueError(f"entity [{e.start}, {e.end}) beyond {n_tokens} tokens")
        if any(t != OUTSIDE for t in tags[e.start : e.end]):
            raise ValueError(f"entity [{e.start}, {e.end}) {e.label} overlaps another entity")
        if scheme == "IOB2":
            tags[e.start : e.end] = [f"B-{e.label}"] + [f"I-{e.label}"] * (len(e) - 1)
        elif scheme == "BIOES":
            if len(e) == 1:
                tags[e.start] = f"S-{e.label}"
            else:
                tags[e.start : e.end] = [f"B-{e.label}"] + [f"I-{e.label}"] * (len(e) - 2) + [f"E-{e.label}"]
        else:
            raise ValueError(f"unknown tagging scheme {scheme!r} (use IOB2 or BIOES)")
    return tags


class Candidate(NamedTuple):
    """A scored span proposed by a model, before decoding."""

    start: int
    end: int
    label: str
    prob: float


def greedy_decode(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Keep the most probable non-overlapping candidates.

    Highest probability first; ties go to the longer span, then the earlier start (so the result is
    deterministic). A candidate is accepted if it overlaps no accepted one. Returned in text order.
    This is SpanNER's heuristic decoding with its tie-break bug fixed.
    """
    order = sorted(candidates, key=lambda c: (-c.prob, -(c.end - c.start), c.start, c.end))
    taken: list[Candidate] = []
    occupied: set[int] = set()
    for c in order:
        if c.label == OUTSIDE:
            continue
        if occupied.isdisjoint(range(c.start, c.end)):
            taken.append(c)
            occupied.update(range(c.start, c.end))
    return sorted(taken, key=lambda c: (c.start, c.end))
