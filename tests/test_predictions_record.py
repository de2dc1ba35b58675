"""The prediction record (linkner.data.predictions): one typed reader of what ``linkner infer`` writes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkner.data.predictions import ModelInfo, Prediction, ScoredSpan, gold_entities, gold_keys, model_info, scored_spans
from linkner.data.readers import read_jsonl
from linkner.data.types import Entity, Sentence
from linkner.data.writers import write_jsonl
from linkner.errors import DataError

LABELS = ["O", "PER", "LOC"]


@st.composite
def spans(draw):
    start = draw(st.integers(0, 20))
    end = draw(st.integers(start + 1, start + 6))
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3))
    probs = {lab: w / sum(weights) for lab, w in zip(LABELS, weights)}
    of = draw(st.none() | st.tuples(st.integers(0, 20), st.integers(21, 30)))
    unc = {"confidence": draw(st.floats(0, 1)), "evidential": draw(st.floats(0, 1))}
    return ScoredSpan(start, end, probs, unc, of)


@given(spans(), st.booleans())
def test_scored_span_record_round_trip(sp, with_entity_prob):
    rec = json.loads(json.dumps(sp.record(with_entity_prob)))
    back = ScoredSpan.from_record(rec)
    assert back == sp and dict(back.probs) == pytest.approx(dict(sp.probs)) and back.uncertainty == sp.uncertainty
    assert back.label == max(sp.probs, key=sp.probs.get) and back.prob == pytest.approx(max(sp.probs.values()))
    assert back.entity_prob == pytest.approx(1 - sp.probs["O"])
    if with_entity_prob:
        assert rec["entity_prob"] == pytest.approx(back.entity_prob)
    e = back.entity()
    assert (e.span, e.label) == (sp.span, "O") and e.extra["probs"] == dict(back.probs)


def test_malformed_or_older_spans_are_skipped_and_spans_stay_inside_the_sentence():
    good = ScoredSpan(0, 1, {"O": 0.2, "PER": 0.8}).record()
    beyond = ScoredSpan(2, 5, {"O": 0.2, "PER": 0.8}).record()
    old = {"start": 0, "end": 1, "label": "PER", "prob": 0.8}  # no probability table
    s = Sentence(["a", "b", "c"], meta={"candidates": [good, beyond, old, "junk", {"start": "x", "end": 1, "probs": {"O": 1}}]})
    assert [sp.span for sp in scored_spans(s, "candidates")] == [(0, 1)]
    assert scored_spans(s, "near_miss") == ()  # a file written before near-misses existed
    with pytest.raises(ValueError, match="unknown span kind"):
        scored_spans(s, "gold")
    with pytest.raises(DataError, match="sentence bad: 'boundary' must be a list"):
        scored_spans(Sentence(["a"], id="bad", meta={"boundary": {"start": 0}}), "boundary")


def test_gold_and_model_info():
    s = Sentence(["Angela", "Merkel", "in", "Bonn"], id="s1",
                 meta={"gold": [{"start": 3, "end": 4, "label": "LOC"}, {"start": 0, "end": 2, "label": "PER"}],
                       "model": {"path": "ck", "loss": "edl", "uncertainty_methods": ["confidence"], "max_span_len": 4,
                                 "labels": ["LOC", "PER"], "dataset": "conll03"}})
    assert gold_entities(s) == (Entity(0, 2, "PER"), Entity(3, 4, "LOC"))
    assert gold_keys(s) == {(0, 2, "PER"), (3, 4, "LOC")}
    assert model_info(s) == ModelInfo("ck", "edl", ("confidence",), 4, None, ("LOC", "PER"), "conll03")
    unlabelled = Sentence(["x"])
    assert gold_entities(unlabelled) is None and gold_keys(unlabelled) == set() and model_info(unlabelled) == ModelInfo()
    with pytest.raises(DataError, match="sentence s2: malformed gold"):
        gold_entities(Sentence(["x"], id="s2", meta={"gold": [{"start": 0}]}))


def test_prediction_of_a_file_round_trip(tmp_path):
    near = ScoredSpan(2, 3, {"O": 0.7, "PER": 0.2, "LOC": 0.1}).record(True)
    s = Sentence(["Angela", "Merkel", "Bonn"], [Entity(0, 2, "PER", 0.9, {"probs": {"O": 0.1, "PER": 0.9}})], id="s",
                 meta={"near_miss": [near], "gold": [{"start": 0, "end": 2, "label": "PER"}], "model": {"labels": ["LOC", "PER"]}})
    write_jsonl([s], tmp_path / "p.jsonl")
    p = Prediction.of(read_jsonl(tmp_path / "p.jsonl")[0])
    assert p.entities == [Entity(0, 2, "PER")] and p.gold == (Entity(0, 2, "PER"),)
    assert [sp.span for sp in p.near_miss] == [(2, 3)] and p.near_miss[0].entity_prob == pytest.approx(0.3)
    assert p.candidates == () and p.boundary == () and p.model.labels == ("LOC", "PER")
