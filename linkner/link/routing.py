"""Which spans go to the LLM: the uncertainty method, a threshold τ, an optional budget, and tuning τ.

An *item* is one span the local model scored. Under the honest protocol the items are the decoded
entities only. Under the paper protocol they are what the original exported (method notes §6.2, §6.4,
§11.1): every non-O span, including those decoding dropped for overlapping (``candidates``), and the
gold spans the model did not output (``gold_scored``).

Routing sends items with ``u > τ`` (raw values; the original rounded u first). A budget
(``max_routed``, a fraction of the items, and/or ``max_calls``) keeps only the most uncertain of those.
Tuning (``threshold=auto``) asks the LLM about a dev sample (:func:`tuning_sample`, its own budget),
scores every distinct cut of the sample's items sorted by uncertainty in one pass, puts a paired
bootstrap interval on each cut's ΔF1 over the sample's sentences, and takes a cut only when that
interval is above 0 (:func:`tune_threshold`). Otherwise it routes none, and route-none is τ = +∞, so no
test entity is routed either (a finite "max dev u" would still route the test entities above it).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from linkner.data.predictions import ScoredSpan, scored_spans
from linkner.data.types import Entity, Sentence
from linkner.errors import DataError
from linkner.metrics import BOOTSTRAP_RESAMPLES, PRF, bootstrap_deltas, percentile_ci

DECODED, CANDIDATE, GOLD_SCORED = "decoded", "candidate", "gold_scored"


@dataclass(frozen=True)
class Item:
    """One span that may be routed: sentence index, the local entity (label ``O`` allowed), its u."""

    sentence: int
    entity: Entity
    u: float
    origin: str = DECODED


def uncertainty(entity: Entity, method: str, where: str) -> float:
    """The entity's uncertainty under ``method``; a missing one is a data error naming what exists."""
    unc = entity.extra.get("uncertainty")
    if not isinstance(unc, dict):
        raise DataError(f"{where}: entity [{entity.start}, {entity.end}) has no 'uncertainty' scores; "
                        "link needs the predictions written by `linkner infer`")
    if method not in unc or unc[method] is None:
        raise DataError(f"{where}: no {method!r} uncertainty (available: {', '.join(sorted(unc)) or 'none'}); "
                        "choose another --uncertainty or re-run infer with that method")
    value = float(unc[method])
    if math.isnan(value):
        raise DataError(f"{where}: {method} uncertainty is NaN")
    return value


def _scored(sp: ScoredSpan) -> Entity:
    """A scored span as the paper protocol routes it: labelled with the model's argmax (possibly O)."""
    return Entity(sp.start, sp.end, sp.label, sp.prob, {"uncertainty": dict(sp.uncertainty), "probs": dict(sp.probs)})


def collect_items(sentences: list[Sentence], method: str, protocol: str, source: str = "predictions") -> list[Item]:
    """All items of a predictions file, in file order."""
    items = []
    for i, s in enumerate(sentences):
        for e in s.entities:
            items.append(Item(i, e, uncertainty(e, method, f"{source}: sentence {s.id}"), DECODED))
        if protocol == "paper":
            seen = {e.span for e in s.entities}
            for origin in (CANDIDATE, GOLD_SCORED):
                key = "candidates" if origin == CANDIDATE else origin
                for sp in scored_spans(s, key):
                    e = _scored(sp)
                    if e.span not in seen:
                        seen.add(e.span)
                        items.append(Item(i, e, uncertainty(e, method, f"{source}: sentence {s.id} ({key})"), origin))
    return items


def budget_cap(n_items: int, max_routed: float | None, max_calls: int | None) -> int | None:
    """How many items at most may be routed (``None``: no cap)."""
    caps = []
    if max_routed is not None:
        caps.append(int(math.floor(max_routed * n_items + 1e-9)))
    if max_calls is not None:
        caps.append(max_calls)
    return min(caps) if caps else None


def by_uncertainty(items: list[Item]) -> list[int]:
    """Item indices, most uncertain first; ties keep file order (deterministic)."""
    return sorted(range(len(items)), key=lambda i: (-items[i].u, i))


def select(items: list[Item], tau: float, cap: int | None = None) -> list[bool]:
    """Routed flags: ``u > tau``, then only the ``cap`` most uncertain of those."""
    routed = [False] * len(items)
    chosen = [i for i in by_uncertainty(items) if items[i].u > tau]
    for i in chosen[: len(chosen) if cap is None else cap]:
        routed[i] = True
    return routed


@dataclass(frozen=True)
class Cut:
    """One candidate threshold: routing exactly the sample's items above it, scored on the dev sample.

    ``delta_f1`` is F1(routed) − F1(local) and ``lo``/``hi`` its 95 % paired-bootstrap interval over the
    sample's sentences; ``routed_fraction`` is the share of the sample's items routed.
    """

    tau: float
    routed: int
    f1: float
    precision: float
    recall: float
    delta_f1: float = 0.0
    lo: float = 0.0
    hi: float = 0.0
    routed_fraction: float = 0.0


@dataclass(frozen=True)
class Choice:
    """The operating point taken: a cut, or none (τ = +∞: nothing is routed on test)."""

    cut: Cut | None
    rule: str

    @property
    def tau(self) -> float:
        return ROUTE_NONE if self.cut is None else self.cut.tau


ROUTE_NONE = math.inf
RULE = "highest dev ΔF1 lower bound (95 % paired bootstrap over dev sentences) among cuts whose lower bound is > 0; else route none"


def tau_to_json(tau: float) -> float | None:
    """JSON has no infinity: route-none is written as ``null`` (beside ``"route_none": true``)."""
    return None if math.isinf(tau) else tau


def tau_from_json(threshold: dict) -> float:
    """τ of a ``metrics.json`` threshold block; ``route_none`` (or a tuned ``null``) reads back as +∞."""
    if threshold.get("route_none") or threshold.get("tau") is None:
        return ROUTE_NONE
    return float(threshold["tau"])


def tuning_sample(items: list[Item], n_sentences: int, max_calls: int | None, seed: int,
                  mode: str = "random") -> tuple[list[int], list[bool]]:
    """Which dev sentences tuning scores, and which items the LLM is asked about.

    * ``random``: whole sentences in a seeded random order, as many as fit in ``max_calls`` items (the
      first that would not fit ends the sample, so it stays a uniform random sample, not one biased to
      short sentences); every item of a sampled sentence is asked, so every cut is scored exactly as it
      would be applied, on sentences that represent dev. The price is power: a gain confined to the most
      uncertain 2 % of entities is seen in only ~2 % of the calls.
    * ``uncertain``: every dev sentence, and the ``max_calls`` most uncertain items (cuts past them cannot
      be scored). All calls go where routing can happen, so the same budget certifies small gains far more
      often; the sample is then the dev file itself, which must be a random sample of dev.

    ``max_calls=None`` asks every item (both modes then coincide).
    """
    if mode == "uncertain" or max_calls is None:
        asked = [False] * len(items)
        for i in by_uncertainty(items)[: len(items) if max_calls is None else max_calls]:
            asked[i] = True
        return list(range(n_sentences)), asked
    per_sentence = [0] * n_sentences
    for it in items:
        per_sentence[it.sentence] += 1
    order = random.Random(seed).sample(range(n_sentences), n_sentences)
    chosen, used = [], 0
    for s in order:
        if used + per_sentence[s] > max_calls:
            break
        chosen.append(s)
        used += per_sentence[s]
    keep = set(chosen)
    return sorted(chosen), [it.sentence in keep for it in items]


def tune_threshold(items: list[Item], local: list[tuple[int, int]], linked: list[tuple[int, int]],
                   gold: dict[int, int], cap: int | None = None, resamples: int = BOOTSTRAP_RESAMPLES,
                   seed: int = 0) -> tuple[Choice, list[Cut]]:
    """The operating point chosen on dev, and the whole curve with a bootstrap interval per cut.

    ``items`` are the items of the dev sample; ``local[i]`` / ``linked[i]`` are item i's (true positives,
    predictions) when it keeps its local label / takes the LLM's decision (equal for items not asked);
    ``gold`` maps every sampled sentence to its gold count (sentences without items count too: they are
    part of what is resampled). Candidate cuts are the midpoints between consecutive distinct u values,
    plus route-none and route-all; cuts beyond ``cap`` routed items are not scored.

    The rule: a cut is eligible only if the lower end of its 95 % paired-bootstrap interval of ΔF1 is
    above 0; among eligible cuts take the highest *lower bound*, not the highest point ΔF1. The point
    argmax is the winner's curse the old tuner fell into (its choice hinged on one dev entity); the lower
    bound rewards a gain that many sentences agree on, and with nested cuts it stops adding items once
    they add more noise than gain. Ties go to the higher τ (fewer LLM calls). No eligible cut: route none.
    All cuts share the same resamples, so their intervals are comparable.
    """
    rows = {s: r for r, s in enumerate(sorted(gold))}
    n = len(rows)
    base = np.zeros((n, 3), dtype=np.int64)
    for s, g in gold.items():
        base[rows[s], 2] = g
    for it, (t, p) in zip(items, local):
        base[rows[it.sentence], :2] += (t, p)
    order = by_uncertainty(items)
    us = [items[i].u for i in order]
    cur = base.copy()
    snaps, meta = [base.copy()], [(us[0] if us else 0.0, 0)]
    for k, i in enumerate(order, start=1):
        if cap is not None and k > cap:
            break
        r = rows[items[i].sentence]
        cur[r, 0] += linked[i][0] - local[i][0]
        cur[r, 1] += linked[i][1] - local[i][1]
        if k < len(order) and us[k] == us[k - 1]:
            continue  # a threshold cannot split tied values
        snaps.append(cur.copy())
        meta.append(((us[k - 1] + us[k]) / 2 if k < len(order) else min(0.0, us[-1] - 1e-9), k))
    stacked = np.stack(snaps, axis=2)  # (sentences, 3, cuts)
    lo, hi = percentile_ci(bootstrap_deltas(base, stacked, resamples, seed))
    local_f1 = PRF.from_counts(*(int(x) for x in base.sum(0))).f1
    cuts = []
    for j, (tau, k) in enumerate(meta):
        prf = PRF.from_counts(*(int(x) for x in stacked[:, :, j].sum(0)))
        cuts.append(Cut(tau, k, prf.f1, prf.precision, prf.recall, prf.f1 - local_f1, float(lo[j]), float(hi[j]),
                        k / len(items) if items else 0.0))
    eligible = [c for c in cuts if c.routed > 0 and c.lo > 0]
    best = max(eligible, key=lambda c: (round(c.lo, 12), c.tau)) if eligible else None
    return Choice(best, RULE), cuts
