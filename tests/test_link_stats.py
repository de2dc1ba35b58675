"""Statistics of the linking step: τ chosen by a paired bootstrap on a seeded dev sample of its own size,
route-none routing nothing on test, a bootstrap interval on every scored result, and the leak guard.
Scripted fake backend only (the decisions are fixed so that the statistics are what is tested)."""

from __future__ import annotations

import json

import pytest
from link_helpers import SENTENCES, FakeBackend, _ent, write_predictions
from typer.testing import CliRunner

from linkner.errors import ConfigError, DataError
from linkner.link.config import LinkConfig, LLMConfig
from linkner.link.pipeline import run_link
from linkner.link.routing import Item, tau_from_json, tuning_sample


def cfg(tmp_path, **kw):
    kw.setdefault("decision", "replace")  # the fake's typed answers under the replace rule; fusion: test_link_fusion.py
    return LinkConfig(cache=str(tmp_path / "cache.jsonl"), llm=LLMConfig(backend="openai", model="fake"), **kw)


def variants(copies: int, tag: str = "dev"):
    """The fixture sentences with a distinct last token per copy: same spans, u and gold, other sentences."""
    return [(toks + [f"{tag}{c}"], ents, gold, gs) for c in range(copies) for toks, ents, gold, gs in SENTENCES]


def dev_file(tmp_path, copies: int = 4):
    return write_predictions(tmp_path / "dev.jsonl", sentences=variants(copies))


def _strict(text: str) -> dict:
    def refuse(c):
        raise AssertionError(f"non-standard JSON constant {c}")

    return json.loads(text, parse_constant=refuse)


def test_a_cut_is_taken_only_with_bootstrap_support(tmp_path):
    test, dev = write_predictions(tmp_path / "test.jsonl"), dev_file(tmp_path)
    fake = FakeBackend()  # right on the 4 uncertain entities, wrongly rejects every confident one
    res = run_link(test, cfg(tmp_path, threshold="auto", dev_predictions=str(dev)), tmp_path / "o", backend=fake)
    m = _strict((tmp_path / "o" / "metrics.json").read_text())
    thr, t = m["threshold"], m["threshold"]["tuning"]
    assert thr["route_none"] is False and thr["tau"] == pytest.approx(0.4)  # between u = 0.3 and 0.5: no confident one
    assert t["dev_delta_f1"] > 0 and 0 < t["dev_delta_f1_ci95"][0] <= t["dev_delta_f1"] <= t["dev_delta_f1_ci95"][1]
    assert t["sample"] == {"mode": "uncertain", "seed": 13, "max_calls": 200, "sentences": 20, "items": 40}
    assert t["bootstrap"] == {"resamples": 1000, "seed": 13, "unit": "sentence", "sentences": 20}
    assert thr["dev_routed_fraction"] == pytest.approx(16 / 40) and t["dev_routed"] == 16
    # the chosen cut has the highest lower bound of all cuts, and routing the confident ones too is not taken
    assert max(c["ci95"][0] for c in t["curve"]) == pytest.approx(t["dev_delta_f1_ci95"][0], abs=1e-6)
    assert res.metrics["routing"]["routed"] == 4
    s = m["scores"]
    assert s["delta_f1_ci95"][0] <= s["delta_f1"] <= s["delta_f1_ci95"][1] and s["bootstrap"]["unit"] == "sentence"
    # fixed: German, Old Trafford, Apple; their wrongly typed local predictions and "Sunday" are false positives removed
    assert (s["fixed"], s["broken"], s["fp_removed"], s["fp_added"]) == (3, 0, 4, 0)
    assert m["leak_check"]["dev_predictions"]["shared_sentences"] == 0


def test_no_supported_cut_routes_nothing_on_test(tmp_path):
    """Route-none is τ = +∞: a test entity more uncertain than every dev entity is not routed either."""
    sents = [list(s) for s in SENTENCES]
    sents[1] = (sents[1][0], [_ent(0, 2, "PER", 0.95)], sents[1][2], [])  # above every dev u (max 0.8)
    test = write_predictions(tmp_path / "test.jsonl", sentences=[tuple(s) for s in sents])
    wrong = FakeBackend(answer=lambda span: '{"type": "person"}')  # every answer breaks or keeps a wrong label
    res = run_link(test, cfg(tmp_path, threshold="auto", dev_predictions=str(dev_file(tmp_path))), tmp_path / "o",
                   backend=wrong)
    assert len(wrong.calls) == 40  # the dev sample only
    assert res.metrics["routing"]["routed"] == 0 and res.metrics["scores"]["delta_f1_ci95"] == [0.0, 0.0]
    m = _strict((tmp_path / "o" / "metrics.json").read_text())
    assert m["threshold"]["tau"] is None and m["threshold"]["route_none"] is True
    assert m["threshold"]["tuning"]["route_none"] is True and m["threshold"]["dev_routed_fraction"] == 0.0
    assert tau_from_json(m["threshold"]) == float("inf") and tau_from_json({"tau": 0.4}) == 0.4


def test_random_dev_sample_is_whole_sentences_seeded_and_its_own_size(tmp_path):
    items = [Item(s, None, u / 10) for s in range(30) for u in range(s % 4)]  # 0–3 items per sentence
    sents, asked = tuning_sample(items, 30, 12, seed=5)
    assert sum(asked) <= 12 and all(a == (it.sentence in set(sents)) for it, a in zip(items, asked))
    assert tuning_sample(items, 30, 12, seed=5) == (sents, asked) and tuning_sample(items, 30, 12, seed=6)[0] != sents
    assert any(s % 4 == 0 for s in sents) or len(sents) < 4  # item-less sentences are part of the sample
    top_sents, top = tuning_sample(items, 30, 5, seed=5, mode="uncertain")
    assert top_sents == list(range(30)) and sorted(it.u for it, a in zip(items, top) if a) == [0.2] * 5

    test, dev = write_predictions(tmp_path / "test.jsonl"), dev_file(tmp_path)
    fake = FakeBackend()
    res = run_link(test, cfg(tmp_path, threshold="auto", dev_predictions=str(dev), max_calls=1, tune_max_calls=7,
                       tune_sample="random"),
                   backend=fake)
    t = res.metrics["threshold"]["tuning"]
    assert len(fake.calls) - res.metrics["llm"]["calls"] == t["dev_cap"] <= 7  # dev questions: not the test budget's
    assert t["sample"]["items"] == t["dev_cap"] and t["sample"]["sentences"] >= 3
    assert max(c["routed"] for c in t["curve"]) <= max(1, t["cut_cap"])  # cuts the test budget could not realise: none
    assert res.metrics["routing"]["routed"] <= 1


def test_fixed_threshold_and_budget_still_work(tmp_path):
    p = write_predictions(tmp_path / "p.jsonl")
    res = run_link(p, cfg(tmp_path, threshold="0.0", max_calls=3), backend=FakeBackend())
    assert res.metrics["routing"]["routed"] == 3 and res.metrics["threshold"]["tuning"] is None
    assert res.metrics["threshold"]["route_none"] is False and res.metrics["leak_check"] == {}


def test_paper_protocol_bootstraps_the_honest_scored_outputs(tmp_path):
    res = run_link(write_predictions(tmp_path / "p.jsonl"), cfg(tmp_path, protocol="paper"), backend=FakeBackend())
    s = res.metrics["scores"]
    assert "honest-scored" in s["bootstrap"]["note"] and s["delta_f1_ci95"][0] <= s["delta_f1"] <= s["delta_f1_ci95"][1]


def test_dev_predictions_holding_the_test_sentences_are_refused_before_any_call(tmp_path):
    test = write_predictions(tmp_path / "test.jsonl")
    fake = FakeBackend()
    with pytest.raises(DataError, match=r"--dev-predictions .*test\.jsonl holds 5 of the 5 evaluated sentences"):
        run_link(test, cfg(tmp_path, threshold="auto", dev_predictions=str(test)), backend=fake)
    assert fake.calls == [] and fake.checked == 0
    # a pool that merely shares boilerplate with a larger test file is accepted, and the overlap recorded
    big = write_predictions(tmp_path / "big.jsonl", sentences=variants(3, "t"))  # 15 test sentences
    dev = write_predictions(tmp_path / "dev.jsonl", sentences=variants(4) + variants(3, "t")[:1])
    res = run_link(big, cfg(tmp_path, threshold="auto", dev_predictions=str(dev)), backend=FakeBackend())
    assert res.metrics["leak_check"]["dev_predictions"]["shared_sentences"] == 1


def test_demos_holding_the_test_sentences_are_refused(tmp_path):
    test = write_predictions(tmp_path / "test.jsonl", sentences=variants(2, "t"))
    fake = FakeBackend()
    with pytest.raises(DataError, match="--demos-from .* holds 10 of the 10"):
        run_link(test, cfg(tmp_path, shots=1, demos_from=str(test)), backend=fake)
    assert fake.calls == []


def test_cli_names_the_leaking_file_in_one_line(tmp_path):
    from linkner_cli.app import app

    test = write_predictions(tmp_path / "test.jsonl")
    res = CliRunner().invoke(app, ["link", str(test), "--out", str(tmp_path / "o"), "--backend", "openai", "--model", "m",
                                   "--base-url", "http://127.0.0.1:9/v1", "--threshold", "auto",
                                   "--dev-predictions", str(test), "--cache", str(tmp_path / "c.jsonl")])
    assert res.exit_code == 2, res.output
    assert "test.jsonl holds 5 of the 5 evaluated sentences" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_tuning_config_validation():
    with pytest.raises(ConfigError, match="tune_sample"):
        LinkConfig(tune_sample="first")
    with pytest.raises(ConfigError, match="bootstrap_resamples"):
        LinkConfig(bootstrap_resamples=0)
    with pytest.raises(ConfigError, match="tune_max_calls"):
        LinkConfig(tune_max_calls=-1)
    assert LinkConfig().tune_max_calls == 200 and LinkConfig().tune_sample == "uncertain"
