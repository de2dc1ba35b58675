"""Which spans go to the LLM: the uncertainty method, a threshold τ, an optional budget, and tuning τ.

An *item* is one span the local model scored. Under the honest protocol the items are the decoded
entities only. Under the paper protocol they are what the original exported (method notes §6.2, §6.4,
§11.1): every non-O span, including those decoding dropped for overlapping (``candidates``), and the
gold spans the model did not output (``gold_scored``).

Routing sends items with ``u > τ`` (raw values; the original rounded u first). A budget
(``max_routed``, a fraction of the items, and/or ``max_calls``) keeps only the most uncertain of those.
Tuning (``threshold=auto``) evaluates every distinct cut of the dev items sorted by uncertainty in one
pass, with counts updated incrementally — O(n log n) instead of rescoring the dev set per candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from linkner.data.types import Entity, Sentence
from linkner.errors import DataError
from linkner.metrics import PRF

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


def _scored(rec: dict) -> Entity:
    extra = {k: v for k, v in rec.items() if k not in ("start", "end", "label", "prob")}
    return Entity(int(rec["start"]), int(rec["end"]), rec["label"], rec.get("prob"), extra)


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
                for rec in s.meta.get(key) or []:
                    e = _scored(rec)
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
    """One candidate threshold and the dev score of routing exactly the items above it."""

    tau: float
    routed: int
    f1: float
    precision: float
    recall: float


def tune_threshold(items: list[Item], local: list[tuple[int, int]], linked: list[tuple[int, int]], n_gold: int,
                   cap: int | None = None) -> tuple[float, list[Cut]]:
    """The τ maximising F1 on dev, and the whole curve.

    ``local[i]`` / ``linked[i]`` are item i's (true positives, predictions) contribution when it keeps
    its local label / takes the LLM's decision; ``n_gold`` counts every gold entity. Candidates are the
    midpoints between consecutive distinct u values (robust on test), plus route-none and route-all;
    cuts beyond ``cap`` routed items are skipped. Ties go to the higher τ (fewer LLM calls).
    """
    order = by_uncertainty(items)
    tp = sum(t for t, _ in local)
    pred = sum(p for _, p in local)
    us = [items[i].u for i in order]
    cuts = []

    def add(tau: float, k: int) -> None:
        prf = PRF.from_counts(tp, pred, n_gold)
        cuts.append(Cut(tau, k, prf.f1, prf.precision, prf.recall))

    add(us[0] if us else 0.0, 0)
    for k, i in enumerate(order, start=1):
        if cap is not None and k > cap:
            break
        tp += linked[i][0] - local[i][0]
        pred += linked[i][1] - local[i][1]
        if k < len(order) and us[k] == us[k - 1]:
            continue  # a threshold cannot split tied values
        tau = (us[k - 1] + us[k]) / 2 if k < len(order) else min(0.0, us[-1] - 1e-9)
        add(tau, k)
    best = max(cuts, key=lambda c: (round(c.f1, 12), c.tau))
    return best.tau, cuts
