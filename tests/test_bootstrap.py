"""Paired bootstrap over sentences (``linkner.metrics.paired_bootstrap``): properties and a hand-checked case."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkner.errors import DataError
from linkner.metrics import (
    bootstrap_counts,
    bootstrap_deltas,
    counts_from_record,
    counts_record,
    paired_bootstrap,
    score_entity_sets,
    sentence_counts,
)

LABELS = ("PER", "ORG", "LOC")
span = st.tuples(st.integers(0, 6), st.integers(1, 3), st.sampled_from(LABELS)).map(lambda t: (t[0], t[0] + t[1], t[2]))
entity_set = st.sets(span, max_size=4)
# (gold, A, B) per sentence; B often equals A or gold so that real differences and real ties both occur
triple = st.tuples(entity_set, entity_set, st.one_of(entity_set, st.just(None)))


def _split(rows):
    gold = [g for g, _, _ in rows]
    a = [x for _, x, _ in rows]
    b = [x if y is None else y for _, x, y in rows]
    return gold, a, b


@settings(max_examples=60, deadline=None)
@given(st.lists(triple, min_size=1, max_size=25), st.integers(0, 2**31 - 1))
def test_interval_brackets_the_point_and_counts_explain_the_change(rows, seed):
    gold, a, b = _split(rows)
    res = paired_bootstrap(gold, a, b, resamples=300, seed=seed)
    lo, hi = res.delta_f1_ci95
    assert lo <= res.delta_f1 + 1e-12 and res.delta_f1 <= hi + 1e-12
    # the point estimate is the scorer's ΔF1 to the last digit
    assert res.delta_f1 == score_entity_sets(gold, b).micro.f1 - score_entity_sets(gold, a).micro.f1
    ta, tb = score_entity_sets(gold, a).micro, score_entity_sets(gold, b).micro
    assert tb.tp - ta.tp == res.fixed - res.broken
    assert (tb.n_pred - tb.tp) - (ta.n_pred - ta.tp) == res.fp_added - res.fp_removed


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(entity_set, entity_set), min_size=1, max_size=20), st.integers(0, 1000))
def test_identical_systems_give_a_zero_interval(rows, seed):
    gold, a = [g for g, _ in rows], [p for _, p in rows]
    res = paired_bootstrap(gold, a, [set(p) for p in a], resamples=200, seed=seed)
    assert res.delta_f1 == 0.0 and res.delta_f1_ci95 == (0.0, 0.0)
    assert res.fixed == res.broken == res.fp_removed == res.fp_added == 0


def test_deterministic_under_the_seed_and_the_seed_matters():
    rng = np.random.default_rng(3)
    gold = [{(0, 1, "PER"), (2, 3, "LOC")} for _ in range(40)]
    a = [{(0, 1, "PER")} if rng.random() < 0.7 else set() for _ in range(40)]
    b = [g if rng.random() < 0.5 else x for g, x in zip(gold, a)]
    first, again = paired_bootstrap(gold, a, b, seed=7), paired_bootstrap(gold, a, b, seed=7)
    assert first == again
    assert paired_bootstrap(gold, a, b, seed=8).delta_f1_ci95 != first.delta_f1_ci95
    assert first.as_dict()["bootstrap"] == {"resamples": 1000, "seed": 7, "unit": "sentence", "sentences": 40}


def test_known_small_case():
    """Two sentences: B fixes one entity of sentence 0, sentence 1 is unchanged.

    Resamples draw sentence 0 twice, once or never (1/4, 1/2, 1/4); counts (tp, pred, gold) per sentence
    are A: (0, 1, 1), (1, 1, 1) and B: (1, 1, 1), (1, 1, 1). Twice: ΔF1 = 1 − 0 = 1; once: 1 − 1/2 = 1/2;
    never: 0. So the 2.5th/97.5th percentiles are 0 and 1 and the point estimate is 1/2.
    """
    gold = [{(0, 1, "PER")}, {(0, 1, "LOC")}]
    a = [{(0, 1, "ORG")}, {(0, 1, "LOC")}]
    b = [{(0, 1, "PER")}, {(0, 1, "LOC")}]
    res = paired_bootstrap(gold, a, b, resamples=2000, seed=1)
    assert res.delta_f1 == pytest.approx(0.5) and res.delta_f1_ci95 == (0.0, 1.0)
    assert (res.fixed, res.broken, res.fp_removed, res.fp_added) == (1, 0, 1, 0)
    deltas = bootstrap_deltas(sentence_counts(gold, a), sentence_counts(gold, b), 2000, 1)
    assert set(np.round(deltas, 12)) == {0.0, 0.5, 1.0}
    assert abs(np.mean(deltas == 0.5) - 0.5) < 0.05  # sentence 0 drawn exactly once about half the time


def test_many_systems_share_the_draws():
    """Scoring k systems at once gives each exactly what scoring it alone gives (same seed, same draws)."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, size=(30, 3))
    bs = [rng.integers(0, 3, size=(30, 3)) for _ in range(3)]
    together = bootstrap_deltas(a, np.stack(bs, axis=2), 500, 11)
    for j, b in enumerate(bs):
        assert np.array_equal(together[:, j], bootstrap_deltas(a, b, 500, 11))


def test_misaligned_inputs_are_refused():
    with pytest.raises(DataError, match="same sentences"):
        paired_bootstrap([set()], [set(), set()], [set()])


@settings(max_examples=60, deadline=None)
@given(st.lists(triple, max_size=25), st.integers(0, 2**31 - 1))
def test_recorded_counts_round_trip_and_give_the_same_interval(rows, seed):
    """What a metrics.json stores per sentence is enough to recompute the interval exactly, and a second run's
    record on the same sentences gives the paired difference between the two runs."""
    gold, a, b = _split(rows)
    ca, cb = sentence_counts(gold, a), sentence_counts(gold, b)
    rec = counts_record(ca, cb)
    local, linked = counts_from_record(rec)
    assert np.array_equal(local, ca) and np.array_equal(linked, cb)
    # only the changed sentences are listed for the linked side
    assert len(rec["linked_changes"].split()) == sum(not np.array_equal(x, y) for x, y in zip(ca, cb))
    if rows:  # the interval from the record is the one from the entity sets
        res = paired_bootstrap(gold, a, b, resamples=200, seed=seed)
        assert bootstrap_counts(local, linked, 200, seed) == (res.delta_f1, *res.delta_f1_ci95)


def test_committed_counts_reproduce_each_runs_delta_and_interval():
    """Every committed link run that records per-sentence counts gives back, from them alone, the ΔF1 and the
    interval it reports (so the paired ablation comparisons rest on the counts the runs really had)."""
    import json
    from pathlib import Path

    files = sorted(Path(__file__).resolve().parents[1].glob("results/link/*/*/metrics.json"))
    checked = 0
    for f in files:
        scores = json.loads(f.read_text(encoding="utf-8"))["scores"]
        if "per_sentence" not in scores:
            continue
        local, linked = counts_from_record(scores["per_sentence"])
        bs = scores["bootstrap"]
        assert local.shape[0] == bs["sentences"], f
        delta, lo, hi = bootstrap_counts(local, linked, bs["resamples"], bs["seed"])
        assert abs(delta - scores["delta_f1"]) < 1e-12 and [lo, hi] == scores["delta_f1_ci95"], f
        checked += 1
    assert checked >= 20  # the WNUT-17 and CoNLL-2003 SpanNER runs


def test_malformed_or_mismatched_counts_are_refused():
    ok = counts_record(np.array([[1, 1, 2], [0, 1, 0]]), np.array([[1, 1, 2], [0, 0, 0]]))
    assert ok["local"] == "1,1,2 0,1,0" and ok["linked_changes"] == "1:0,0,0"
    for bad in ({**ok, "columns": ["pred", "tp", "gold"]}, {**ok, "sentences": 3}, {**ok, "local": "1,1"},
                {**ok, "linked_changes": "7:1,1,1"}, {**ok, "linked_changes": "x"}, {"local": ""},
                {**ok, "local": 5}, {**ok, "linked_changes": None}, {**ok, "linked_changes": "-1:0,0,0"},
                {**ok, "linked_changes": "1:3"}, {**ok, "linked_changes": "1:0,0,0 1:0,1,0"},
                {**ok, "local": "1,1,2 0,1,0 1,1,1"}, {**ok, "local": "2,1,2 0,1,0"},
                {**ok, "linked_changes": "0:1,1,3"}, {**ok, "sentences": "2"}):
        with pytest.raises(DataError):
            counts_from_record(bad)
    with pytest.raises(DataError):
        bootstrap_counts(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(DataError):
        bootstrap_counts(np.zeros((2, 3)), np.zeros((2, 3)), resamples=0)
    with pytest.raises(DataError):
        counts_record(np.zeros((2, 3)), np.zeros((3, 3)))
