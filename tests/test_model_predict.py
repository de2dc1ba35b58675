"""Training, checkpoints and inference with a tiny random BERT (real MiniLM tokenizer): fast paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

import linkner
from linkner.data.readers import read_jsonl
from linkner.data.types import Entity, Sentence
from linkner.data.writers import write_jsonl
from linkner.errors import DataError, ModelError
from linkner.models.config import RunConfig
from linkner.models.train import train


@pytest.fixture(scope="module")
def trained(tiny_models):
    """The session's tiny E-NER and SpanNER checkpoints (tests/conftest.py), by loss."""
    return {"edl": (tiny_models.ener, tiny_models.metrics["edl"]), "ce": (tiny_models.spanner, tiny_models.metrics["ce"])}


def test_checkpoint_layout_and_log(trained):
    ckpt, metrics = trained["edl"]
    for name in ("model.safetensors", "config.json", "labels.json", "train_log.jsonl", "train_metrics.json",
                 "encoder/config.json", "encoder/tokenizer.json"):
        assert (ckpt / name).is_file(), name
    labels = json.loads((ckpt / "labels.json").read_text())
    assert labels[0] == "O" and set(labels[1:]) == {"PER", "LOC", "ORG", "MISC"}
    log = [json.loads(x) for x in (ckpt / "train_log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2] and all("f1" in e["dev"] and e["seconds"] > 0 for e in log)
    assert len(metrics["seconds_per_epoch"]) == 2 and metrics["versions"]["torch"]


def _same(a: list[Sentence], b: list[Sentence]):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.entities == y.entities and x.meta["candidates"] == y.meta["candidates"]
        for e, f in zip(x.entities, y.entities):
            assert e.score == f.score and e.extra == f.extra


def test_save_load_identical_and_deterministic(trained, tmp_path):
    ckpt, _ = trained["edl"]
    texts = ["Peter Blackburn visited Paris.", "EU rejects German call to boycott British lamb."]
    m1 = linkner.load(ckpt)
    p1 = m1.predict(texts, mc_samples=0)
    assert m1.model.training is False
    p2 = linkner.load(ckpt).predict(texts)
    _same(p1, p2)
    _same(p1, m1.predict(texts))  # eval mode: no dropout noise
    # save again (re-export) → load → identical
    from linkner.models.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "copy", m1.model, m1.tokenizer, m1.run, m1.labels)
    _same(p1, linkner.load(tmp_path / "copy").predict(texts))


def test_prediction_does_not_depend_on_batch_padding(trained):
    m = linkner.load(trained["ce"][0])
    short = Sentence("Paris".split())
    long = Sentence(("word " * 60 + "Berlin").split())
    alone = m.score([short])[0].probs
    padded = m.score([short, long], batch_size=2)[0].probs
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_output_contract_and_jsonl_round_trip(trained, tmp_path):
    m = linkner.load(trained["edl"][0])
    gold = [Sentence("Angela Merkel met officials in Berlin and Bonn .".split(),
                     [Entity(0, 2, "PER"), Entity(5, 6, "LOC"), Entity(7, 8, "LOC")], id="s1")]
    preds = m.predict_sentences(gold, mc_samples=3)
    s = preds[0]
    assert s.meta["model"]["loss"] == "edl"
    assert s.meta["model"]["uncertainty_methods"] == ["confidence", "entropy", "mc_dropout", "evidential"]
    assert s.meta["gold"] == [{"start": 0, "end": 2, "label": "PER"}, {"start": 5, "end": 6, "label": "LOC"},
                              {"start": 7, "end": 8, "label": "LOC"}]
    decoded = {(e.start, e.end) for e in s.entities}
    assert {(g["start"], g["end"]) for g in s.meta["gold_scored"]} == {(0, 2), (5, 6), (7, 8)} - decoded
    records = [*(e.extra | {"prob": e.score, "label": e.label} for e in s.entities), *s.meta["candidates"], *s.meta["gold_scored"]]
    for r in records:
        assert set(r["uncertainty"]) == {"confidence", "entropy", "mc_dropout", "evidential"}
        assert all(0.0 <= u <= 1.0 for u in r["uncertainty"].values())
        assert set(r["probs"]) == set(m.labels) and abs(sum(r["probs"].values()) - 1) < 1e-4
        assert r["prob"] == pytest.approx(max(r["probs"].values()))
    for c in s.meta["candidates"]:
        assert c["label"] != "O" and (c["start"], c["end"]) not in decoded
    path = tmp_path / "p.jsonl"
    write_jsonl(preds, path)
    back = read_jsonl(path)[0]
    assert back.entities == s.entities and back.id == "s1"
    for e, f in zip(back.entities, s.entities):
        assert e.score == f.score and e.extra["uncertainty"] == f.extra["uncertainty"] and e.extra["probs"] == f.extra["probs"]
    for key in ("candidates", "gold", "gold_scored", "model"):
        assert back.meta[key] == s.meta[key]


def test_no_overlap_and_ranges_on_many_sentences(trained):
    m = linkner.load(trained["ce"][0])
    text = " ".join(["Angela Merkel met Peter Blackburn in Berlin , Paris and the United States ."] * 5)
    for s in m.predict([text]):
        ents = sorted(s.entities)
        assert all(not a.overlaps(b) for a, b in zip(ents, ents[1:]))
        assert "evidential" not in (ents[0].extra["uncertainty"] if ents else {})


def test_empty_whitespace_emoji_cjk(trained):
    m = linkner.load(trained["edl"][0])
    assert m.predict([""]) == [] and m.predict(["  \n\t "]) == []
    text = "Angela Merkel 🇩🇪 met 習近平 in Berlin 👩‍👩‍👧 and Bonn ❤️ today ."
    out = m.predict([text])
    assert out
    for s in out:
        base = s.meta["char_offset"]
        for (a, b), tok in zip(s.token_offsets, s.tokens):
            assert text[base + a : base + b] == tok == s.text[a:b]
        for e in s.entities + [Entity(c["start"], c["end"], c["label"]) for c in s.meta["candidates"]]:
            a, b = s.char_span(e)
            assert text[base + a : base + b] == s.surface(e)


def test_ten_thousand_words_are_all_scored(trained):
    m = linkner.load(trained["ce"][0])
    words = ["Berlin", "and", "internationalisation", "Merkel", "x"] * 2000
    s = Sentence(words)
    scores = m.score([s])[0]
    assert len(scores.spans) == len(words) * 5 - 10 and scores.spans[:, 1].max() == len(words)
    pred = m.predict_sentences([s])[0]
    assert len(pred.tokens) == 10_000 and all(e.end <= 10_000 for e in pred.entities)


def test_schema_mismatch_and_bad_checkpoint(trained, tmp_path):
    m = linkner.load(trained["ce"][0])
    with pytest.raises(ModelError, match="GPE"):
        m.predict_sentences([Sentence(["Paris"], [Entity(0, 1, "GPE")])])
    with pytest.raises(ModelError):
        linkner.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelError):
        linkner.load(tmp_path)
    with pytest.raises(ModelError):
        linkner.load(tmp_path / "missing")


def test_temperature_and_evaluation_json(trained, tmp_path):
    from linkner.evaluation import evaluate_checkpoint, fit_checkpoint_temperature

    ckpt, _ = trained["ce"]
    dev = ckpt.parent / "dev.txt"
    m = linkner.load(ckpt)
    t = fit_checkpoint_temperature(m, str(dev), "dev")
    assert t > 0 and json.loads((ckpt / "calibration.json").read_text())["temperature"] == pytest.approx(t)
    assert linkner.load(ckpt).temperature == pytest.approx(t)
    result, preds = evaluate_checkpoint(ckpt, str(dev), "test", tmp_path / "m.json")
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["entity"]["micro"]["f1"] == result["entity"]["micro"]["f1"]
    for key in ("uncertainty", "seconds", "versions", "machine", "seed", "config"):
        assert key in saved
    (ckpt / "calibration.json").unlink()


def test_resume_continues_after_last_epoch(trained, tmp_path):
    ckpt, _ = trained["ce"]
    from linkner.configio import from_dict, read_config_file

    run = from_dict(RunConfig, read_config_file(ckpt / "config.json"))
    run.train.epochs = 3
    run.train.out = str(tmp_path / "resumed")
    metrics = train(run, resume=ckpt)
    log = [json.loads(x) for x in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2, 3] and metrics["epochs_run"] == 3
    assert (tmp_path / "resumed" / "model.safetensors").is_file() and linkner.load(tmp_path / "resumed").labels


def test_decode_resolves_overlaps_and_reports_dropped_candidates():
    from linkner.data.spans import enumerate_spans
    from linkner.models.predict import SpanScores, decode
    from linkner.uncertainty.estimators import span_uncertainties

    labels = ["O", "PER", "LOC"]
    spans = np.asarray(enumerate_spans(4, 3))
    probs = np.tile([0.9, 0.05, 0.05], (len(spans), 1))
    want = {(0, 2): [0.1, 0.8, 0.1], (1, 3): [0.2, 0.1, 0.7], (2, 3): [0.3, 0.1, 0.6], (3, 4): [0.4, 0.5, 0.1]}
    for j, sp in enumerate(map(tuple, spans)):
        if sp in want:
            probs[j] = want[sp]
    sc = SpanScores(spans, probs, span_uncertainties(probs))
    s = decode(Sentence("a b c d".split(), [Entity(1, 3, "LOC")]), sc, labels, {"path": "x"}, has_gold=True)
    assert [(e.start, e.end, e.label) for e in s.entities] == [(0, 2, "PER"), (2, 3, "LOC"), (3, 4, "PER")]
    assert [(c["start"], c["end"], c["label"]) for c in s.meta["candidates"]] == [(1, 3, "LOC")]
    assert [(g["start"], g["end"], g["label"]) for g in s.meta["gold_scored"]] == [(1, 3, "LOC")]
    assert s.entities[0].score == pytest.approx(0.8) and s.entities[0].extra["probs"]["PER"] == pytest.approx(0.8)


def test_mc_dropout_is_stochastic_and_restores_eval(trained):
    m = linkner.load(trained["edl"][0])
    s = [Sentence("Angela Merkel met officials in Berlin .".split())]
    sc = m.score(s, mc_samples=4)[0]
    assert not np.allclose(sc.uncertainty["mc_dropout"], sc.uncertainty["confidence"])
    assert m.model.training is False
    np.testing.assert_allclose(m.score(s)[0].probs, sc.probs)  # the deterministic pass is unaffected


def test_factorised_span_head_equals_the_concatenation(trained):
    """The head's fast path (project subwords once, gather per span) is the same function as the literal
    concatenate-then-MLP definition, in eval and (without head dropout) for gradients too."""
    import torch

    from linkner.models.features import collate

    m = linkner.load(trained["edl"][0])
    sents = [Sentence("Angela Merkel met officials in Berlin and Bonn .".split()), Sentence("EU rejects it".split())]
    batch = collate(m.featurizer.encode(sents, with_labels=False), m.featurizer.tok.pad_token_id or 0)
    model = m.model.eval()
    with torch.no_grad():
        hidden = model.encode(batch["input_ids"], batch["attention_mask"])
        flat = hidden.reshape(-1, hidden.shape[-1])
        fast = model.head(flat, batch)
        chunked = model.head(flat, batch, chunk=3)
        ref = model.head.forward_concat(flat, batch)
    assert fast.shape == ref.shape == (int(sum(batch["n_spans"])), len(m.labels))
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(chunked, ref, atol=1e-5, rtol=1e-5)
    flat = flat.clone().requires_grad_(True)
    g_fast = torch.autograd.grad(model.head(flat, batch).square().sum(), flat)[0]
    g_ref = torch.autograd.grad(model.head.forward_concat(flat, batch).square().sum(), flat)[0]
    torch.testing.assert_close(g_fast, g_ref, atol=1e-4, rtol=1e-4)
    params = [p for p in model.head.parameters() if p.requires_grad]
    gp_fast = torch.autograd.grad(model.head(flat, batch).square().sum(), params)
    gp_ref = torch.autograd.grad(model.head.forward_concat(flat, batch).square().sum(), params)
    for a, b in zip(gp_fast, gp_ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # the bf16 inference path
        fast_bf16 = model.head(flat, batch).float()
    torch.testing.assert_close(fast_bf16, ref, atol=0.05 * float(ref.abs().max()), rtol=0.05)


def test_chunked_prediction_is_identical_and_reports_progress(trained):
    m = linkner.load(trained["edl"][0])
    sents = [Sentence(t.split()) for t in ["Angela Merkel met officials in Berlin .", "EU rejects it", "Paris",
                                           "word " * 30 + "Bonn", "Peter Blackburn visited London yesterday ."]]
    seen = []
    chunked = list(m.iter_predict_sentences(sents, chunk=2, progress=seen.append))
    assert seen == [2, 2, 1]
    _same(chunked, m.predict_sentences(sents))
    assert [s.tokens for s in chunked] == [s.tokens for s in sents]
    with pytest.raises(DataError):  # at the call, before anything is iterated (or an output file opened)
        m.iter_predict_sentences(sents, mc_samples=-1)


def test_predictions_record_their_model_and_parse_as_typed_records(trained):
    """The predictor writes the complete label schema and the training data (linking reads them to pick the
    schema and check labels); every scored span it writes parses back as a typed record."""
    from linkner.data.predictions import Prediction

    ckpt, _ = trained["edl"]
    m = linkner.load(ckpt)
    gold = [Sentence("Peter Blackburn visited Paris .".split(), [Entity(0, 2, "PER"), Entity(3, 4, "LOC")])]
    p = Prediction.of(m.predict_sentences(gold, has_gold=True)[0])
    assert set(p.model.labels) == {"PER", "LOC", "ORG", "MISC"} and p.model.dataset == m.run.train.data
    assert p.gold == (Entity(0, 2, "PER"), Entity(3, 4, "LOC")) and p.model.max_span_len == m.featurizer.L
    for sp in p.candidates + p.near_miss + p.boundary + p.gold_scored:
        assert set(sp.probs) == set(m.labels) and sp.end <= 5
    assert all(sp.of is not None for sp in p.boundary)
