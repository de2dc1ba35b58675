"""Whether candidates are used, and at which q: the dev gate, then asking and merging on test.

The gate is the rule that chooses τ (:func:`linkner.link.routing.tune_threshold`) applied to candidates.
On the dev sample, after τ is chosen and fusion is fitted, the LLM is asked about the boundary variants of
the dev entities routed at τ and the near-misses of the sample's sentences (their own budget of
``tune_max_calls`` questions: variants first, most uncertain entity first, then near-misses, most probable
first). Every operating point — boundary variants on or off, near-misses at each q of the grid (or the one
``--candidate-q``) or off — is scored against the dev output *at τ* with a paired bootstrap over the
sample's sentences (the same resamples for all). A point is taken only if the lower end of its 95 %
interval of ΔF1 is above 0; among those, the highest lower bound, ties to fewer questions. Otherwise no
candidates are used on test. A q whose near-misses were not all asked (the budget ran out above it) is
not scored, as with τ's cuts.

Without dev data (a fixed ``--threshold``) there is nothing to gate on: candidates are then used only with a
fixed ``--candidate-q``, the user's own operating point (as a fixed τ is). Candidates are asked only under
the honest protocol with ``--decision fuse`` (the paper protocol is the leaky reference; replace mode has no
fused probability to compare spans with), and the reason is recorded when they are not.

On test the questions share the run's budget: routed entities first, then boundary variants, then
near-misses, until ``--max-calls`` / ``--max-routed`` (counted in questions) are spent. Every answer goes
through the answer cache, so a rerun makes no call.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from linkner.data.types import Sentence
from linkner.link.candidates import (
    BOUNDARY,
    FLOOR,
    NEAR_MISS,
    Q_GRID,
    Candidate,
    apply_to_sentences,
    apply_to_sets,
    boundary_variants,
    edit_counts,
    near_misses,
    plan,
)
from linkner.link.decision import NOT_ROUTED, Decision
from linkner.link.merge import entity_sets, merge
from linkner.link.routing import Item, by_uncertainty
from linkner.metrics import PRF, bootstrap_deltas, percentile_ci, sentence_counts

RULE = ("highest dev ΔF1 lower bound (95 % paired bootstrap over dev sentences, against the output at τ) among "
        "operating points whose lower bound is > 0; else no candidates")


@dataclass(frozen=True)
class Setting:
    """The candidates used on test: near-misses at ``q`` (``None``: none), boundary variants on/off."""

    q: float | None = None
    boundary: bool = False
    source: str = "off"  # dev | flags | off
    why: str = ""

    @property
    def active(self) -> bool:
        return self.q is not None or self.boundary

    def record(self) -> dict:
        return {"near_miss_q": self.q, "boundary": self.boundary, "from": self.source, "why": self.why}


def considered(cfg) -> tuple[bool, bool]:
    """(near-misses, boundary variants) allowed by ``--candidates``."""
    return cfg.candidates in ("near-miss", "all"), cfg.candidates in ("boundary", "all")


def unavailable(cfg) -> str | None:
    if cfg.candidates == "none":
        return "--candidates none"
    if cfg.protocol != "honest":
        return "paper protocol: the leaky reference asks no candidate questions"
    if cfg.decision != "fuse":
        return "--decision replace: candidates are decided by fusion only"
    return None


def fixed_setting(cfg) -> Setting:
    """The setting of a run without dev tuning (fixed τ)."""
    why = unavailable(cfg)
    if why is not None:
        return Setting(why=why)
    if cfg.candidate_q is None:
        return Setting(why="fixed --threshold without --candidate-q: no dev data to gate candidates on")
    near, boundary = considered(cfg)
    return Setting(cfg.candidate_q if near else None, boundary, "flags", "fixed --threshold and --candidate-q: ungated")


def ask(linker, sentences: list[Sentence], cands: list[Candidate], phase: str, progress, count: bool = True):
    """``(candidate, fused decision)`` pairs and the call stats; ``count=False`` keeps the answers out of
    the run's test source counts (dev questions)."""
    if not cands:
        return [], None
    fusion = linker.choice.fusion
    saved = Counter(fusion.sources)
    decisions, stats = linker.decide(sentences, cands, [True] * len(cands), phase, progress)
    if not count:
        fusion.sources = saved
    return list(zip(cands, decisions, strict=True)), stats


def _pool(clean, items, routed_idx, near: bool, boundary: bool, floor: float) -> list[Candidate]:
    """Variants of the routed items (in the given order), then near-misses, most probable first."""
    pool = boundary_variants(clean, items, routed_idx) if boundary else []
    if near:
        pool += sorted(near_misses(clean, floor), key=lambda c: (-c.u, c.sentence, c.entity.span))
    return pool


def tune(linker, cfg, clean: list[Sentence], items: list[Item], decisions: list[Decision], asked: list[bool],
         sentences: list[int], gold: list[set], tau: float, progress=None) -> tuple[Setting, dict]:
    """The dev gate (module docstring): the setting for test and its report."""
    why = unavailable(cfg)
    if why is not None:
        return Setting(why=why), {"why": why}
    near_on, boundary_on = considered(cfg)
    keep = set(sentences)
    routed_idx = [i for i in by_uncertainty(items) if asked[i] and items[i].u > tau and items[i].sentence in keep]
    routed = {i: (items[i], decisions[i]) for i in routed_idx}
    grid = (cfg.candidate_q,) if cfg.candidate_q is not None else Q_GRID
    pool = [c for c in _pool(clean, items, routed_idx, near_on, boundary_on, min(grid)) if c.sentence in keep]
    budget = pool if cfg.tune_max_calls is None else pool[: cfg.tune_max_calls]
    answered, stats = ask(linker, clean, budget, "dev candidates", progress, count=False)
    unasked = [c.u for c in pool[len(budget):] if c.origin == NEAR_MISS]
    ceiling = max(unasked, default=-1.0)  # a q at or below this has near-misses that were not asked
    n_variants = sum(c.origin == BOUNDARY for c, _ in answered)
    points = [(None, True)] if boundary_on and n_variants else []
    if near_on:
        for q in grid:
            if q > ceiling:
                points += [(q, False)] + ([(q, True)] if boundary_on and n_variants else [])
    rows = sorted(keep)
    at_tau = merge(clean, items, [decisions[i] if i in routed else NOT_ROUTED for i in range(len(items))], cfg.uncertainty)
    finals = entity_sets(at_tau)
    g = [gold[s] for s in rows]
    base = sentence_counts(g, [finals[s] for s in rows])
    report = {"considered": cfg.candidates, "grid": list(grid), "floor": FLOOR, "budget": cfg.tune_max_calls,
              "dev_routed_at_tau": len(routed_idx), "pool": {NEAR_MISS: sum(c.origin == NEAR_MISS for c in pool),
                                                             BOUNDARY: sum(c.origin == BOUNDARY for c in pool)},
              "asked": {NEAR_MISS: len(answered) - n_variants, BOUNDARY: n_variants},
              "llm": stats.as_dict() if stats else None, "rule": RULE, "curve": []}
    if not points:
        why = "no dev candidates to score"
        return Setting(why=why), {**report, "why": why}
    counts, plans = [], []
    for q, b in points:
        edits = plan(finals, routed, answered, q, b)
        sets = apply_to_sets(finals, edits)
        counts.append(sentence_counts(g, [sets[s] for s in rows]))
        plans.append(edits)
    import numpy as np

    stacked = np.stack(counts, axis=2)
    lo, hi = percentile_ci(bootstrap_deltas(base, stacked, cfg.bootstrap_resamples, cfg.seed))
    f1 = lambda c: PRF.from_counts(*(int(x) for x in c.sum(0))).f1  # noqa: E731
    local_f1 = f1(base)
    curve = []
    for j, ((q, b), edits) in enumerate(zip(points, plans)):
        questions = (n_variants if b else 0) + (sum(c.origin == NEAR_MISS and c.u >= q for c, _ in answered) if q else 0)
        curve.append({"near_miss_q": q, "boundary": b, "questions": questions, **edit_counts(edits, gold),
                      "delta_f1": round(f1(stacked[:, :, j]) - local_f1, 6), "ci95": [round(float(lo[j]), 6),
                                                                                       round(float(hi[j]), 6)]})
    report["curve"] = curve
    eligible = [r for r in curve if r["ci95"][0] > 0]
    if not eligible:
        why = "no operating point had a dev bootstrap lower bound of ΔF1 above 0"
        return Setting(why=why), {**report, "why": why}
    best = max(eligible, key=lambda r: (r["ci95"][0], -r["questions"], r["near_miss_q"] or 1.0))
    return Setting(best["near_miss_q"], best["boundary"], "dev", RULE), {**report, "chosen": best}


def run(linker, cfg, clean: list[Sentence], items: list[Item], routed: list[bool], setting: Setting, cap: int | None,
        progress=None) -> tuple[list[tuple[Candidate, Decision]], dict]:
    """Ask the test candidates of ``setting`` within what the budget ``cap`` leaves after routing."""
    if not setting.active:
        return [], {"pool": 0, "llm": None}
    routed_idx = [i for i in by_uncertainty(items) if routed[i]]
    pool = _pool(clean, items, routed_idx, setting.q is not None, setting.boundary,
                 setting.q if setting.q is not None else 1.0)
    left = None if cap is None else max(0, cap - sum(routed))
    take = pool if left is None else pool[:left]
    answered, stats = ask(linker, clean, take, "candidates", progress)
    return answered, {"pool": len(pool), "llm": stats.as_dict() if stats else None}


def finish(linked: list[Sentence], items: list[Item], routed: list[bool], decisions: list[Decision],
           answered: list[tuple[Candidate, Decision]], setting: Setting, method: str,
           gold: list[set] | None) -> tuple[list[Sentence], dict]:
    """The linked sentences with the candidates' edits, and the counts for ``metrics.json``."""
    owners = {i: (items[i], decisions[i]) for i, r in enumerate(routed) if r}
    edits = plan(entity_sets(linked), owners, answered, setting.q, setting.boundary) if answered else []
    out = apply_to_sentences(linked, answered, edits, method) if answered else linked
    asked = Counter(c.origin for c, _ in answered)
    return out, {"asked": {NEAR_MISS: asked[NEAR_MISS], BOUNDARY: asked[BOUNDARY]}, **edit_counts(edits, gold)}
