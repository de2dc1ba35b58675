"""Honest candidates: spans the local model did not output but scored, asked about so that linking can
add a missed entity or fix a boundary, using only the local model's own scores (issue 11, item 4).

Two kinds, both read from what ``linkner infer`` writes (:mod:`linkner.models.predict`), never from gold:

* **near-miss** spans (``meta["near_miss"]``, and any ``meta["candidates"]`` record that qualifies): spans
  decoded as O whose entity probability ``1 − P(O)`` is at least q, overlapping no decoded entity;
* **boundary variants** (``meta["boundary"]``): the scored spans with one end of a *routed* entity moved
  by one token, inside the sentence, at most L words, overlapping no other decoded entity.

Each candidate gets the same multiple-choice question as a routed entity (:mod:`linkner.link.options`):
its local top-k labels plus "not an entity"; its local distribution is its own probability table, so the
"not an entity" option carries its P(O) and with w = 0 fusion adds nothing. Fusion decides as for routed
entities, with the w and reliability fitted on dev.

Design of the boundary question: one question *per variant*, not one question listing the spans as
options. (1) The fused distribution then has the meaning fusion was fitted for (the same question, the
same w); a span-choice question would need a local distribution over spans, which the span model does
not have (it scores every span on its own, so per-span tables do not form one distribution). (2) The
prompt, its cached prefix and the answer cache are shared with routed questions. (3) The cost is bounded
(at most 4 per routed entity) and counted against the run's budget. The result of a group (the routed
entity and its variants, which all overlap it) is at most one span: the member whose fused decision is
an entity with the highest fused probability; the original wins ties, and when the original's own answer
failed nothing changes (there is nothing to compare with). Across groups and additions, edits are taken
greedily (boundary changes first, then additions, each by fused probability) and an edit that would
overlap an entity already kept is skipped, so the output stays flat (non-overlapping).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from linkner.data.predictions import model_info, scored_spans
from linkner.data.types import Entity, Sentence
from linkner.link.config import CANDIDATE_FLOOR, CANDIDATES
from linkner.link.decision import LABEL, REJECT, Decision
from linkner.link.routing import DECODED, Item

NEAR_MISS, BOUNDARY = "near_miss", "boundary"
KINDS = CANDIDATES  # --candidates
FLOOR = CANDIDATE_FLOOR  # the entity probability floor `linkner infer` writes near-misses at (linkner.models.predict)
PER_SENTENCE = 8  # near-misses per sentence at most (linkner.models.predict.NEAR_MISS_MAX)
Q_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)  # q values the dev gate considers (with --candidate-q: that one only)
Span = tuple[int, int]


@dataclass(frozen=True)
class Candidate(Item):
    """A candidate question: an :class:`~linkner.link.routing.Item` whose ``u`` is its entity probability,
    ``origin`` its kind, and ``of`` (boundary) the index of the routed item it varies."""

    of: int | None = None


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def near_misses(sentences: list[Sentence], floor: float = FLOOR, per_sentence: int = PER_SENTENCE) -> list[Candidate]:
    """Near-miss candidates of every sentence: entity probability ≥ ``floor``, no overlap with a decoded
    entity (``sentence.entities``), no duplicate span; the ``per_sentence`` most probable of each."""
    out = []
    for i, s in enumerate(sentences):
        kept = [e.span for e in s.entities]
        seen, mine = set(kept), []
        for sp in scored_spans(s, "near_miss") + scored_spans(s, "candidates"):
            if sp.span in seen or sp.entity_prob < floor or any(_overlaps(sp.span, k) for k in kept):
                continue
            seen.add(sp.span)
            mine.append(sp)
        mine.sort(key=lambda sp: (-sp.entity_prob, sp.span))
        out += [Candidate(i, sp.entity(), sp.entity_prob, NEAR_MISS) for sp in mine[:per_sentence]]
    return out


def is_variant(span: Span, of: Span) -> bool:
    """One end moved by exactly one token, the other unchanged."""
    return abs(span[0] - of[0]) + abs(span[1] - of[1]) == 1


def boundary_variants(sentences: list[Sentence], items: list[Item], which: list[int]) -> list[Candidate]:
    """Boundary variants of the items ``which`` (indices into ``items``; decoded entities only), in that
    order: scored, inside the sentence, within the model's L when the file records it, overlapping no
    other decoded entity."""
    out = []
    for idx in which:
        it = items[idx]
        if it.origin != DECODED:
            continue
        s = sentences[it.sentence]
        own = it.entity.span
        others = [e.span for e in s.entities if e.span != own]
        limit = model_info(s).max_span_len
        seen = set()
        for sp in scored_spans(s, "boundary"):
            if sp.of != own or sp.span in seen or not is_variant(sp.span, own):
                continue
            if (isinstance(limit, int) and sp.end - sp.start > limit) or any(_overlaps(sp.span, o) for o in others):
                continue
            seen.add(sp.span)
            out.append(Candidate(it.sentence, sp.entity(), sp.entity_prob, BOUNDARY, idx))
    return out


# --- from fused answers to edits ----------------------------------------------------------------------

def verdict(d: Decision) -> tuple[str, float] | None:
    """``(label, fused probability)`` when a fused decision says "this is an entity", else ``None``."""
    if d.kind == LABEL and d.detail is not None and d.detail.fused:
        return d.label, float(d.detail.fused.get(d.label, 0.0))
    return None


@dataclass(frozen=True)
class Edit:
    """One change to the linked output: add ``span`` as ``label`` (near-miss), or move the routed entity
    at ``replaces`` to ``span`` (boundary)."""

    candidate: Candidate
    decision: Decision
    label: str
    prob: float
    replaces: Span | None = None

    @property
    def sentence(self) -> int:
        return self.candidate.sentence

    @property
    def span(self) -> Span:
        return self.candidate.entity.span


def _winner(original: Decision, variants: list[tuple[Candidate, Decision]], of: Span) -> Edit | None:
    if original.detail is None or original.kind not in (LABEL, REJECT):
        return None  # the original's answer failed: nothing to compare a variant with
    v0 = verdict(original)
    best, best_p = None, (v0[1] if v0 else -1.0)
    for c, d in variants:
        v = verdict(d)
        if v is not None and v[1] > best_p:
            best, best_p = Edit(c, d, v[0], v[1], of), v[1]
    return best


def plan(finals: list[set[tuple[int, int, str]]], routed: dict[int, tuple[Item, Decision]],
         asked: list[tuple[Candidate, Decision]], q: float | None, boundary: bool) -> list[Edit]:
    """The edits an operating point makes (``q=None``: no near-misses; ``boundary``: variants on/off).

    ``finals[i]`` is sentence i's entity set after the routed decisions were merged; ``routed`` maps a
    routed item's index to it and its decision; ``asked`` are the candidates answered. See the module
    docstring for the rule.
    """
    wanted: dict[int, list[Edit]] = defaultdict(list)
    if boundary:
        groups: dict[int, list[tuple[Candidate, Decision]]] = defaultdict(list)
        for c, d in asked:
            if c.origin == BOUNDARY and c.of in routed:
                groups[c.of].append((c, d))
        for idx, variants in groups.items():
            it, d0 = routed[idx]
            w = _winner(d0, variants, it.entity.span)
            if w is not None:
                wanted[it.sentence].append(w)
    if q is not None:
        for c, d in asked:
            v = verdict(d) if c.origin == NEAR_MISS and c.u >= q else None
            if v is not None:
                wanted[c.sentence].append(Edit(c, d, *v))
    edits = []
    for s in sorted(wanted):
        occupied = {(a, b) for a, b, _ in finals[s]}
        for e in sorted(wanted[s], key=lambda e: (e.replaces is None, -e.prob, e.span)):
            trial = occupied - {e.replaces} if e.replaces is not None else occupied
            if not any(_overlaps(e.span, o) for o in trial):
                occupied = trial | {e.span}
                edits.append(e)
    return edits


def apply_to_sets(finals: list[set[tuple[int, int, str]]], edits: list[Edit]) -> list[set[tuple[int, int, str]]]:
    """``finals`` with the edits made (a copy)."""
    out = [set(f) for f in finals]
    for e in edits:
        if e.replaces is not None:
            out[e.sentence] = {x for x in out[e.sentence] if (x[0], x[1]) != e.replaces}
        out[e.sentence].add((*e.span, e.label))
    return out


def apply_to_sentences(linked: list[Sentence], asked: list[tuple[Candidate, Decision]], edits: list[Edit],
                       method: str) -> list[Sentence]:
    """The linked sentences with the edits made: added or re-bounded entities carry ``origin``
    (``near_miss``/``boundary``), the fusion record and, for a boundary change, ``boundary_of``; the
    entity a boundary change replaced moves to ``meta["replaced"]``; every candidate asked is listed in
    ``meta["candidates_asked"]`` with its decision."""
    taken = {(e.sentence, e.span): e for e in edits}
    per: dict[int, list[dict]] = defaultdict(list)
    for c, d in asked:
        e = taken.get((c.sentence, c.entity.span))
        rec = {"start": c.entity.start, "end": c.entity.end, "kind": c.origin, "entity_prob": round(c.u, 6),
               "decision": d.kind, "label": d.label, "taken": e is not None}
        if c.origin == BOUNDARY and e is not None:
            rec["of"] = list(e.replaces)
        if d.detail is not None:
            rec["fusion"] = d.detail.record()
        per[c.sentence].append(rec)
    by_sentence: dict[int, list[Edit]] = defaultdict(list)
    for e in edits:
        by_sentence[e.sentence].append(e)
    out = []
    for i, s in enumerate(linked):
        ents, replaced = list(s.entities), []
        for e in by_sentence.get(i, []):
            if e.replaces is not None:
                replaced += [x for x in ents if x.span == e.replaces]
                ents = [x for x in ents if x.span != e.replaces]
            c = e.candidate.entity
            extra = {"uncertainty": c.extra.get("uncertainty", {}), "probs": c.extra.get("probs", {}),
                     "local_label": "O", "llm_label": e.decision.detail.llm_answer, "u": e.candidate.u,
                     "uncertainty_method": method, "routed": True, "source": "fused", "origin": e.candidate.origin,
                     "entity_prob": round(e.candidate.u, 6), "fusion": e.decision.detail.record()}
            if e.replaces is not None:
                extra["boundary_of"] = list(e.replaces)
            ents.append(Entity(c.start, c.end, e.label, (c.extra.get("probs") or {}).get(e.label), extra))
        meta = dict(s.meta)
        if per.get(i):
            meta["candidates_asked"] = per[i]
        if replaced:
            meta["replaced"] = [{"start": x.start, "end": x.end, "label": x.label, **x.extra} for x in replaced]
        out.append(replace(s, entities=sorted(ents), meta=meta))
    return out


def edit_counts(edits: list[Edit], gold: list[set[tuple[int, int, str]]] | None) -> dict:
    """How many entities were added and re-bounded and, when gold is there for scoring, how many were right
    (and how many boundary changes moved away from the span of a gold entity)."""
    added = [e for e in edits if e.replaces is None]
    moved = [e for e in edits if e.replaces is not None]
    out = {"added": len(added), "boundary_changes": len(moved)}
    if gold is not None:
        right = lambda e: (*e.span, e.label) in gold[e.sentence]  # noqa: E731
        out["added_right"] = sum(map(right, added))
        out["boundary_changes_right"] = sum(map(right, moved))
        out["boundary_changes_from_gold_span"] = sum(any((g[0], g[1]) == e.replaces for g in gold[e.sentence]) for e in moved)
    return out
