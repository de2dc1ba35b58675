"""Config values are checked against their declared types, naming the key path and the type expected,
in the loader (files, flags), in the dataclasses themselves (Python callers) and at the CLI (exit 2,
no stray output folder)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linkner.configio import from_dict, read_config_file, to_dict
from linkner.errors import ConfigError
from linkner.link.config import LinkConfig, LLMConfig
from linkner.models.config import ModelConfig, RunConfig, TrainConfig
from linkner_cli.app import app

runner = CliRunner()


@pytest.mark.parametrize("cls, data, key, expected", [
    (RunConfig, {"train": {"batch_size": 2.5}}, "train.batch_size", "an integer"),
    (RunConfig, {"train": {"seed": "abc"}}, "train.seed", "an integer"),
    (RunConfig, {"train": {"bf16": "no"}}, "train.bf16", "true or false"),
    (RunConfig, {"train": {"bf16": 0}}, "train.bf16", "true or false"),  # bool is strict: 0 is not false
    (RunConfig, {"train": {"epochs": True}}, "train.epochs", "an integer"),  # and true is not 1
    (RunConfig, {"train": {"max_train_sentences": "10"}}, "train.max_train_sentences", "an integer or null"),
    (RunConfig, {"train": {"warmup": "0.1"}}, "train.warmup", "a number"),
    (RunConfig, {"train": {"extra": [1]}}, "train.extra", "a table"),
    (RunConfig, {"model": {"with_kl": "yes"}}, "model.with_kl", "true or false"),
    (RunConfig, {"model": 3}, "model", "a table of ModelConfig settings"),
    (LinkConfig, {"max_calls": 1.5}, "max_calls", "an integer or null"),
    (LinkConfig, {"max_routed": "0.1"}, "max_routed", "a number or null"),
    (LinkConfig, {"retrieve": "false"}, "retrieve", "true or false"),
    (LinkConfig, {"llm": {"timeout_s": "60"}}, "llm.timeout_s", "a number"),
    (LinkConfig, {"llm": {"n_ctx": 2048.0}}, "llm.n_ctx", "an integer"),
])
def test_wrong_type_names_key_and_type(cls, data, key, expected):
    with pytest.raises(ConfigError) as err:
        from_dict(cls, data, "my.toml")
    msg = str(err.value)
    assert msg.startswith("my.toml: ") and f"'{key}'" in msg and expected in msg


def test_unknown_nested_key_names_its_path():
    with pytest.raises(ConfigError, match="unknown key.*train.batchsize"):
        from_dict(RunConfig, {"train": {"batchsize": 8}}, "cfg")


def test_right_types_are_normalised_and_round_trip():
    run = from_dict(RunConfig, {"train": {"lr": 1, "max_dev_sentences": None, "extra": {"a": [1]}}, "model": {"loss": "ener"}})
    assert run.train.lr == 1.0 and isinstance(run.train.lr, float)  # an int is a fine number
    assert run.model.loss == "edl"
    assert from_dict(RunConfig, to_dict(run)) == run
    link = from_dict(LinkConfig, {"threshold": 0.3, "llm": {"backend": "openai", "model": "m"}})
    assert link.threshold == "0.3" and link.tau == 0.3  # an unquoted number in a file is a threshold too
    assert from_dict(LinkConfig, to_dict(link)) == link


@dataclass
class _Shapes:
    pair: tuple[int, str] = (1, "a")
    many: tuple[float, ...] = ()
    names: list[str] = field(default_factory=list)
    table: dict[str, int] = field(default_factory=dict)


def test_containers_are_checked_element_by_element():
    ok = from_dict(_Shapes, {"pair": [2, "b"], "many": [1, 2.5], "names": ["x"], "table": {"k": 3}})
    assert ok == _Shapes((2, "b"), (1.0, 2.5), ["x"], {"k": 3})
    for data, key in [({"pair": [2, 3]}, "pair"), ({"pair": [2]}, "pair"), ({"many": ["x"]}, "many"),
                      ({"names": "x"}, "names"), ({"table": {"k": "v"}}, "table")]:
        with pytest.raises(ConfigError, match=f"'{key}"):
            from_dict(_Shapes, data)


@pytest.mark.parametrize("build", [
    lambda: TrainConfig(batch_size="3"),
    lambda: TrainConfig(epochs=2.5),
    lambda: TrainConfig(lr="fast"),
    lambda: TrainConfig(max_train_sentences="5"),
    lambda: ModelConfig(loss=3),
    lambda: ModelConfig(max_span_len=None),
    lambda: LLMConfig(max_tokens="32"),
    lambda: LLMConfig(timeout_s=None),
    lambda: LinkConfig(max_routed="0.5"),
    lambda: LinkConfig(shots=1.0),
    lambda: LinkConfig(tune_max_calls="9"),
])
def test_dataclasses_raise_config_error_never_type_error(build):
    """Before: `'<' not supported between instances of 'str' and 'int'` from __post_init__."""
    with pytest.raises(ConfigError, match="must be"):
        build()


def test_python_callers_may_pass_paths_for_strings(tmp_path):
    cfg = TrainConfig(out=tmp_path / "m", data=tmp_path / "d.txt")
    assert cfg.out == str(tmp_path / "m") and isinstance(cfg.data, str)


def test_config_file_not_utf8_or_not_a_table(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_bytes(b"[train]\nout = \"caf\xe9\"\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        read_config_file(bad)
    lst = tmp_path / "c.json"
    lst.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a table"):
        read_config_file(lst)
    with pytest.raises(ConfigError, match="folder"):
        read_config_file(tmp_path)


# --------------------------------------------------------------------------------------- CLI level
def _fails(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
    return res.output


@pytest.mark.parametrize("table, key", [
    ("batch_size = 2.5", "train.batch_size"),
    ('seed = "abc"', "train.seed"),
    ('bf16 = "no"', "train.bf16"),
])
def test_cli_train_rejects_bad_types_before_anything_is_written(tmp_path, table, key):
    cfg = tmp_path / "train.toml"
    out = tmp_path / "run"
    cfg.write_text(f"[train]\n{table}\nout = \"{out.as_posix()}\"\n", encoding="utf-8")
    data = Path(__file__).parent / "fixtures" / "mini.conll"
    msg = _fails(["train", "--config", str(cfg), "--data", str(data), "--dev", str(data), "--no-progress"])
    assert key in msg
    assert not out.exists()  # no stray output folder


def test_cli_train_config_table_not_a_table(tmp_path):
    cfg = tmp_path / "train.toml"
    cfg.write_text('train = "fast"\n', encoding="utf-8")
    assert "'train' must be a table" in _fails(["train", "--config", str(cfg), "--out", str(tmp_path / "o")])


def test_cli_train_config_not_utf8(tmp_path):
    cfg = tmp_path / "train.toml"
    cfg.write_bytes(b"[train]\n# r\xe9sum\xe9\nepochs = 1\n")
    assert "not valid UTF-8" in _fails(["train", "--config", str(cfg), "--out", str(tmp_path / "o")])


def test_cli_link_rejects_float_max_calls_before_reading_anything(tmp_path):
    cfg = tmp_path / "link.json"
    cfg.write_text(json.dumps({"max_calls": 1.5}), encoding="utf-8")
    pred = tmp_path / "p.jsonl"
    pred.write_text('{"tokens": ["a"], "entities": []}\n', encoding="utf-8")
    msg = _fails(["link", str(pred), "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert "'max_calls'" in msg and "an integer" in msg
    assert not (tmp_path / "o").exists()
    cfg.write_text(json.dumps({"llm": "fast"}), encoding="utf-8")
    assert "'llm' must be a table" in _fails(["link", str(pred), "--out", str(tmp_path / "o"), "--config", str(cfg)])
