"""Our entity P/R/F1 must equal seqeval's default (conlleval) mode to the last digit."""

from __future__ import annotations

import random

import pytest

from linkner.data.registry import load
from linkner.data.spans import entities_to_tags, tags_to_entities
from linkner.data.types import Sentence
from linkner.metrics import evaluate

seqeval_metrics = pytest.importorskip("seqeval.metrics")
TAGS = ["O", "O", "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "I-LOC", "B-LOC", "E-LOC", "S-MISC", "B-creative-work", "I-creative-work"]


def _seqeval(y_true, y_pred):
    rep = seqeval_metrics.classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    micro = (seqeval_metrics.precision_score(y_true, y_pred, zero_division=0),
             seqeval_metrics.recall_score(y_true, y_pred, zero_division=0),
             seqeval_metrics.f1_score(y_true, y_pred, zero_division=0))
    return micro, rep


def _ours(y_true, y_pred):
    gold = [Sentence(["w"] * len(t), tags_to_entities(t)) for t in y_true]
    pred = [Sentence(["w"] * len(t), tags_to_entities(t)) for t in y_pred]
    return evaluate(gold, pred)


def _assert_equal(y_true, y_pred):
    (p, r, f), rep = _seqeval(y_true, y_pred)
    ours = _ours(y_true, y_pred)
    assert (ours.micro.precision, ours.micro.recall, ours.micro.f1) == (p, r, f)
    for label, prf in ours.per_type.items():
        if prf.n_gold:  # seqeval's report lists gold types only
            row = rep[label]
            assert (prf.precision, prf.recall, prf.f1, prf.n_gold) == (row["precision"], row["recall"], row["f1-score"], row["support"])


@pytest.mark.parametrize("seed", range(5))
def test_equal_to_seqeval_on_random_tag_sequences(seed):
    """Thousands of random (often invalid) sequences: I- after O, type switches, stray E-/S-."""
    rng = random.Random(seed)
    y_true = [[rng.choice(TAGS) for _ in range(rng.randint(1, 25))] for _ in range(600)]
    y_pred = [[t if rng.random() < 0.7 else rng.choice(TAGS) for t in seq] for seq in y_true]
    _assert_equal(y_true, y_pred)


def test_equal_to_seqeval_on_real_data_with_perturbed_predictions():
    gold = load("wnut17", "test")
    rng = random.Random(0)
    y_true = [entities_to_tags(len(s), s.entities) for s in gold]
    labels = ["B-person", "I-person", "B-location", "I-group", "O"]
    y_pred = [[t if rng.random() < 0.85 else rng.choice(labels) for t in seq] for seq in y_true]
    _assert_equal(y_true, y_pred)


def test_every_gold_entity_counts_even_long_ones():
    tags = ["B-ORG"] + ["I-ORG"] * 11
    scores = _ours([tags], [["O"] * 12])
    assert scores.micro.n_gold == 1 and scores.micro.recall == 0.0


def test_misaligned_inputs_are_an_error():
    from linkner.errors import DataError

    with pytest.raises(DataError, match="same sentences"):
        evaluate([Sentence(["a"])], [])
    with pytest.raises(DataError, match="not aligned"):
        evaluate([Sentence(["a"])], [Sentence(["a", "b"])])
