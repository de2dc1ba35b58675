"""The linking step reads exactly what ``linkner infer`` writes: predictions built by the real
``linkner.models.predict.decode`` from synthetic span scores (no encoder needed), written by the real writer."""

from __future__ import annotations

import json

import numpy as np
from link_helpers import FakeBackend

from linkner.data.types import Entity, Sentence
from linkner.data.writers import write_jsonl
from linkner.link.config import LinkConfig, LLMConfig
from linkner.link.pipeline import run_link
from linkner.models.predict import SpanScores, decode

LABELS = ["O", "LOC", "MISC", "ORG", "PER"]


def _predictions(tmp_path):
    tokens = "Old Trafford hosts Manchester United and Leeds .".split()
    gold = [Entity(0, 2, "LOC"), Entity(3, 5, "ORG"), Entity(6, 7, "ORG")]
    special = {(0, 2): [0.1, 0.5, 0.1, 0.2, 0.1],   # decoded LOC, uncertain (u = 0.5)
               (0, 1): [0.2, 0.1, 0.1, 0.45, 0.15],  # overlapping ORG: dropped by decoding -> candidate
               (3, 5): [0.05, 0.0, 0.0, 0.9, 0.05],  # decoded ORG, sure
               (6, 7): [0.5, 0.1, 0.0, 0.35, 0.05]}  # gold span predicted O -> gold_scored
    spans = [(a, b) for a in range(len(tokens)) for b in range(a + 1, min(a + 3, len(tokens) + 1))]
    probs = np.array([special.get(s, [0.96, 0.01, 0.01, 0.01, 0.01]) for s in spans])
    unc = {"confidence": 1 - probs.max(axis=1),
           "entropy": -(probs * np.log(np.clip(probs, 1e-12, 1))).sum(axis=1) / np.log(len(LABELS))}
    s = decode(Sentence(tokens, gold, id="t0"), SpanScores(np.array(spans), probs, unc), LABELS,
               {"path": "ckpt", "loss": "ce", "uncertainty_methods": ["confidence", "entropy"]}, has_gold=True)
    path = tmp_path / "pred.jsonl"
    write_jsonl([s], path)
    return path


def test_infer_output_links_under_both_protocols(tmp_path):
    pred = _predictions(tmp_path)
    rec = json.loads(pred.read_text())
    assert {"candidates", "gold", "gold_scored", "model"} <= rec.keys()
    answers = {"Old Trafford": "location", "Old": "not an entity", "Leeds": "organization"}
    ask = lambda span: json.dumps({"type": answers.get(span, "not an entity")})  # noqa: E731

    honest = FakeBackend(ask)
    res = run_link(pred, LinkConfig(threshold="0.4", cache=str(tmp_path / "c.jsonl"),
                                    llm=LLMConfig(backend="openai", model="fake")), tmp_path / "h", backend=honest)
    assert honest.calls == ["Old Trafford"]
    assert res.metrics["schema"] == "conll03" and res.metrics["scores"]["linkner"]["micro"]["tp"] == 2

    paper = FakeBackend(ask)
    res = run_link(pred, LinkConfig(threshold="0.4", protocol="paper", uncertainty="entropy", cache=str(tmp_path / "c.jsonl"),
                                    llm=LLMConfig(backend="openai", model="fake")), tmp_path / "p", backend=paper)
    assert sorted(paper.calls) == ["Leeds", "Old"]  # "Old Trafford" came from the cache
    counts = res.metrics["scores"]["paper"]["linkner"]
    assert (counts["tp"], counts["n_pred"], counts["n_gold"]) == (3, 4, 3)  # the rejected "Old" still counts
