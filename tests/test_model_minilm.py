"""The real packaged MiniLM encoder learns: overfit 8 sentences to their exact entity spans."""

from __future__ import annotations

import json

import pytest

import linkner
from linkner.data.registry import load
from linkner.models.config import ModelConfig, RunConfig, TrainConfig
from linkner.models.train import train

SENTS = """Peter B-PER
Blackburn I-PER
visited O
Paris B-LOC
. O

EU B-ORG
rejects O
German B-MISC
call O
to O
boycott O
British B-MISC
lamb O
. O

Angela B-PER
Merkel I-PER
met O
officials O
in O
Berlin B-LOC
. O

Microsoft B-ORG
opened O
an O
office O
in O
Tokyo B-LOC
. O

The O
United B-LOC
States I-LOC
praised O
Nelson B-PER
Mandela I-PER
. O

Japan B-LOC
beat O
Syria B-LOC
in O
the O
Asian B-MISC
Cup I-MISC
. O

Reuters B-ORG
reported O
from O
London B-LOC
. O

Shares O
of O
Sony B-ORG
rose O
on O
Monday O
. O
"""


@pytest.mark.slow
def test_minilm_overfits_eight_sentences(tmp_path):
    data = tmp_path / "eight.txt"
    data.write_text(SENTS, encoding="utf-8")
    gold = load(str(data))
    assert len(gold) == 8
    run = RunConfig(
        ModelConfig(encoder="minilm", loss="edl", encoder_dropout=0.0, head_dropout=0.0),
        TrainConfig(data=str(data), dev_split=str(data), epochs=15, batch_size=8, lr=1e-4, head_lr=2e-3, warmup=0.05,
                    patience=4, out=str(tmp_path / "m"), progress=False, seed=1),
    )
    metrics = train(run)
    assert metrics["best_dev_f1"] == 1.0, json.dumps(metrics["seconds_per_epoch"])
    model = linkner.load(tmp_path / "m")
    preds = model.predict_sentences(gold)
    assert [p.entities for p in preds] == [g.entities for g in gold]
    # raw text through the same checkpoint: exact character spans
    out = model.predict(["Angela Merkel met officials in Berlin."])[0]
    assert [(out.surface(e), e.label) for e in out.entities] == [("Angela Merkel", "PER"), ("Berlin", "LOC")]
