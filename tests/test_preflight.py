"""Checks before the first model load or LLM call (output paths, label schemas, the demo's settings), the
CLI's error boundary, whole-or-nothing outputs, and the readers/scorer refusing silent misreads."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from linkner.data.readers import read_jsonl, read_spanner
from linkner.data.schema import check_eval_labels, check_labels_within
from linkner.data.types import Entity, Sentence
from linkner.errors import ConfigError, DataError, LLMError
from linkner.link.preflight import check_llm_model
from linkner.metrics import evaluate
from linkner.outputs import atomic_output, check_output_dir, check_output_file
from linkner_cli.app import app
from linkner_cli.common import user_errors

runner = CliRunner()
FIX = Path(__file__).parent / "fixtures"


def _fails(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    return res.output


# ------------------------------------------------------------------------------------ output paths
def test_output_dir_checks_create_nothing(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ConfigError, match="is a file; give a folder"):
        check_output_dir(f)
    with pytest.raises(ConfigError, match="is a file, so"):
        check_output_dir(f / "sub" / "deeper")
    assert check_output_dir(tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    assert not (tmp_path / "new").exists()  # checking must not leave a stray folder


def test_output_file_checks(tmp_path):
    with pytest.raises(ConfigError, match="is a folder; give a file name"):
        check_output_file(tmp_path, "--json")
    assert check_output_file(tmp_path / "a" / "b.json") == tmp_path / "a" / "b.json"
    assert not (tmp_path / "a").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            check_output_dir(ro / "out")
    finally:
        ro.chmod(0o700)


def test_atomic_output_is_whole_or_nothing(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old\n" and list(tmp_path.iterdir()) == [target]  # temp removed, old kept
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent and not target.read_text() == "new"
        tmp.write_text("new")
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]


# ------------------------------------------------------------------------------------ label schemas
def test_schema_message_names_both_sides():
    with pytest.raises(DataError) as err:
        check_labels_within(["PER", "LOC"], ["person", "location"], "dev file d.txt", "the training data")
    msg = str(err.value)
    assert "dev file d.txt uses label(s) LOC, PER" in msg and "the training data" in msg and "location, person" in msg
    check_labels_within(["PER"], ["PER", "LOC"], "a", "b")  # a subset is fine


def _sent(tokens, *ents):
    return Sentence(list(tokens), [Entity(*e) for e in ents])


def test_eval_labels_against_named_schema_and_disjoint_files():
    gold = [_sent("a b".split(), (0, 1, "person"))]
    with pytest.raises(DataError, match="dataset wnut17"):
        check_eval_labels("wnut17", gold, [_sent("a b".split(), (0, 1, "PER"))], "predictions p")
    with pytest.raises(DataError, match="none of which the gold"):
        check_eval_labels("g.conll", gold, [_sent("a b".split(), (0, 1, "PER"))], "predictions p")
    check_eval_labels("g.conll", gold, [_sent("a b".split(), (0, 1, "person"), (1, 2, "PER"))], "predictions p")


def _pred_file(path: Path, labels: list[str], probs: bool = True) -> Path:
    ent = {"start": 0, "end": 1, "label": labels[0], "prob": 0.9, "uncertainty": {"confidence": 0.1}}
    if probs:
        ent["probs"] = {lab: 1 / (len(labels) + 1) for lab in ["O", *labels]}
    path.write_text(json.dumps({"id": "0", "tokens": ["John", "ran"], "entities": [ent]}) + "\n", encoding="utf-8")
    return path


def test_cli_link_dataset_of_another_schema_fails_before_any_llm(tmp_path):
    """Before: linked and mixed WNUT-17 definitions into CoNLL labels (F1 72 → 38)."""
    pred = _pred_file(tmp_path / "p.jsonl", ["PER", "LOC", "ORG", "MISC"])
    msg = _fails(["link", str(pred), "--out", str(tmp_path / "o"), "--dataset", "wnut17", "--backend", "openai",
                  "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--cache", str(tmp_path / "c.jsonl")])
    assert "--dataset wnut17" in msg and "LOC" in msg
    assert not (tmp_path / "o").exists() and not (tmp_path / "c.jsonl").exists()


def test_cli_link_dev_predictions_of_another_model(tmp_path):
    pred = _pred_file(tmp_path / "p.jsonl", ["PER", "LOC", "ORG", "MISC"])
    dev = _pred_file(tmp_path / "d.jsonl", ["person", "location"])
    msg = _fails(["link", str(pred), "--out", str(tmp_path / "o"), "--threshold", "auto", "--dev-predictions", str(dev),
                  "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"])
    assert "different label schemas" in msg


def test_cli_link_out_is_a_file_fails_before_any_llm(tmp_path):
    """Before: every LLM call ran, then mkdir failed on the file."""
    pred = _pred_file(tmp_path / "p.jsonl", ["PER"])
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    msg = _fails(["link", str(pred), "--out", str(out), "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                  "--model", "m", "--cache", str(tmp_path / "c.jsonl")])
    assert "is a file; give a folder" in msg and out.read_text() == "keep me"


def test_cli_train_dev_of_another_dataset_fails_before_the_encoder(tmp_path, monkeypatch):
    """`--data wnut17 --dev conll_file`: the model could never predict PER/LOC/ORG/MISC."""
    import linkner.models.encoders as encoders

    def no_encoder(*a, **k):  # the check must come first: an encoder load here is a test failure
        raise AssertionError("encoder loaded before the label check")

    monkeypatch.setattr(encoders, "load_encoder", no_encoder)
    msg = _fails(["train", "--data", "wnut17", "--dev", str(FIX / "mini.conll"), "--out", str(tmp_path / "m"),
                  "--max-train-sentences", "20", "--no-progress"])
    assert "the dev set" in msg and "PER" in msg and "wnut17" in msg
    assert not (tmp_path / "m").exists()


def test_cli_train_out_is_a_file(tmp_path):
    out = tmp_path / "model"
    out.write_text("x")
    msg = _fails(["train", "--data", str(FIX / "mini.conll"), "--dev", str(FIX / "mini.conll"), "--out", str(out),
                  "--no-progress"])
    assert "is a file; give a folder" in msg


# ------------------------------------------------------------------------------------ demo
def test_demo_checks_settings_before_training(tmp_path, monkeypatch):
    import linkner.models.train as train_mod
    from linkner.studies.demo import DemoConfig, run_demo, validate_demo

    monkeypatch.setattr(train_mod, "train", lambda *a, **k: pytest.fail("trained before validating"))
    base = {"out": str(tmp_path / "d"), "llm_backend": "openai", "llm_model": "m"}  # no preset packages needed
    for over, match in [
        ({"max_routed": 1.5}, "max_routed"),
        ({"llm_backend": "llama-cpp", "llm_model": "no-such-model"}, "neither a GGUF file nor a preset"),
        ({"data": "nosuchset"}, "unknown dataset"),
        ({"data": str(FIX / "mini.conll")}, "dev split"),
        ({"model": "crf"}, "unknown loss"),
        ({"epochs": "4"}, "'epochs'"),
    ]:
        with pytest.raises((ConfigError, DataError, LLMError), match=match):
            run_demo(DemoConfig(**{**base, **over}), say=lambda m: None)
        assert not (tmp_path / "d").exists()
    validate_demo(DemoConfig(**base))  # the shipped defaults pass


def test_cli_demo_bad_max_routed_exits_2(tmp_path):
    assert "max_routed" in _fails(["demo", "--out", str(tmp_path / "d"), "--max-routed", "2"])
    assert not (tmp_path / "d").exists()


def test_llm_model_check(tmp_path):
    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"NOPE")
    with pytest.raises(LLMError, match="not a GGUF file"):
        check_llm_model("llama-cpp", str(fake))
    fake.write_bytes(b"GGUF\x03\x00")
    check_llm_model("llama-cpp", str(fake))
    check_llm_model("openai", "anything")  # a server's model is checked by its health check


# ------------------------------------------------------------------------------------ error boundary
def _command(exc: BaseException):
    @user_errors
    def cmd() -> None:
        raise exc

    return cmd


@pytest.mark.parametrize("exc, text", [
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp/x"), "error: /tmp/x: Is a directory"),
    (PermissionError(errno.EACCES, "Permission denied", "/etc/y"), "error: /etc/y: Permission denied"),
    (OSError(errno.ENOSPC, "No space left on device"), "error: No space left on device"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not valid UTF-8"),
    (DataError("bad line"), "error: bad line"),
])
def test_boundary_turns_foreseeable_errors_into_one_line(exc, text, capsys):
    with pytest.raises(typer.Exit) as info:
        _command(exc)()
    assert info.value.exit_code == 2
    err = capsys.readouterr().err
    assert text in err and err.count("\n") == 1


@pytest.mark.parametrize("exc", [TypeError("bug"), KeyError("bug"), ConnectionResetError(104, "reset")])
def test_boundary_keeps_tracebacks_of_bugs(exc):
    with pytest.raises(type(exc)):
        _command(exc)()


def test_cli_evaluate_json_to_a_folder(tmp_path):
    """Before: IsADirectoryError traceback after scoring."""
    pred = tmp_path / "p.jsonl"
    runner.invoke(app, ["data", "convert", str(FIX / "mini.conll"), str(pred), "--to", "jsonl"])
    assert "is a folder; give a file name" in _fails(["evaluate", str(FIX / "mini.conll"), str(pred), "--json", str(tmp_path)])
    res = runner.invoke(app, ["evaluate", str(FIX / "mini.conll"), str(pred), "--json", str(tmp_path / "s.json")])
    assert res.exit_code == 0 and json.loads((tmp_path / "s.json").read_text())["micro"]["f1"] == 1.0


# ------------------------------------------------------------------------------------ silent misreads
@pytest.mark.parametrize("record, message", [
    ({"tokens": "John Smith", "entities": []}, "'tokens' must be a list of strings"),
    ({"tokens": ["John", 3], "entities": []}, "'tokens' must be a list of strings"),
    ({"tokens": ["John"], "entities": [{"start": "0", "end": 1, "label": "PER"}]}, "must be integers"),
    ({"tokens": ["John"], "entities": [{"start": 0.0, "end": 1, "label": "PER"}]}, "must be integers"),
    ({"tokens": ["John"], "entities": [{"start": 0, "end": 1, "label": 5}]}, "label must be a non-empty string"),
    ({"tokens": ["John"], "token_offsets": [[0]], "entities": []}, "token_offsets"),
    ({"text": ["John"], "entities": []}, "'text' must be a string"),
])
def test_jsonl_shapes_are_refused_with_file_and_line(tmp_path, record, message):
    """Before: "John Smith" was read as ten one-character tokens."""
    f = tmp_path / "x.jsonl"
    f.write_text('{"tokens": ["ok"], "entities": []}\n' + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        read_jsonl(f)
    assert f"{f}:2" in str(err.value)


def test_spanner_context_must_be_text(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps([{"context": ["a", "b"], "span_posLabel": {}}]))
    with pytest.raises(DataError, match="'context' string"):
        read_spanner(f)


def test_evaluate_compares_tokens_not_just_lengths():
    gold = [_sent("John lives here".split(), (0, 1, "PER")), _sent("Paris is big".split(), (0, 1, "LOC"))]
    other = [_sent("Mary likes tea".split(), (0, 1, "PER")), _sent("Paris is big".split(), (0, 1, "LOC"))]
    with pytest.raises(DataError) as err:
        evaluate(gold, other, "gold.conll", "pred.jsonl")
    msg = str(err.value)
    assert "pred.jsonl does not match gold.conll at sentence 1" in msg and "'Mary'" in msg and "'John'" in msg
    assert evaluate(gold, gold).micro.f1 == 1.0


def test_cli_evaluate_other_sentences_of_same_lengths(tmp_path):
    gold = tmp_path / "g.conll"
    gold.write_text("John B-PER\nlives O\n\nParis B-LOC\nrocks O\n", encoding="utf-8")
    pred = tmp_path / "p.conll"
    pred.write_text("John B-PER\nlives O\n\nRome B-LOC\nrocks O\n", encoding="utf-8")
    msg = _fails(["evaluate", str(gold), str(pred), "--json", str(tmp_path / "s.json")])
    assert "sentence 2" in msg and "line 4" in msg and "'Rome'" in msg and str(pred) in msg
    assert not (tmp_path / "s.json").exists()
