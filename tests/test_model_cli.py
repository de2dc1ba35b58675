"""``linkner train`` / ``linkner infer`` end to end with a tiny random encoder, and their exit-2 errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from linkner.models.encoders import make_tiny_encoder
from linkner_cli.app import app

runner = CliRunner()

DATA = "Peter B-PER\nBlackburn I-PER\nvisited O\nParis B-LOC\n. O\n\nEU B-ORG\nrejects O\nGerman B-MISC\ncall O\n"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    enc = make_tiny_encoder(root / "enc")
    (root / "train.txt").write_text(DATA, encoding="utf-8")
    res = runner.invoke(app, ["train", "--data", str(root / "train.txt"), "--dev", str(root / "train.txt"), "--model", "spanner",
                              "--encoder", str(enc), "--out", str(root / "model"), "--epochs", "1", "--no-progress",
                              "--allow-zero"])  # a random tiny encoder after one step: dev F1 may well be 0
    assert res.exit_code == 0, res.output
    return root / "model"


def test_train_writes_checkpoint(ckpt):
    cfg = json.loads((ckpt / "config.json").read_text())
    assert cfg["model"]["loss"] == "ce" and cfg["train"]["epochs"] == 1


def test_infer_text_table_and_jsonl(ckpt, tmp_path):
    out = tmp_path / "p.jsonl"
    res = runner.invoke(app, ["infer", str(ckpt), "Peter Blackburn visited Paris.", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "entities" in res.output
    rec = json.loads(out.read_text().splitlines()[0])
    assert rec["tokens"] == ["Peter", "Blackburn", "visited", "Paris", "."] and rec["model"]["loss"] == "ce"


def test_infer_stdin_and_input_file(ckpt, tmp_path):
    res = runner.invoke(app, ["infer", str(ckpt), "-", "-q"], input="EU rejects German call.\n")
    assert res.exit_code == 0, res.output
    f = tmp_path / "in.txt"
    f.write_text("Paris is nice.\n\nBerlin too.", encoding="utf-8")
    res = runner.invoke(app, ["infer", str(ckpt), "--input", str(f), "--out", str(tmp_path / "o.jsonl"), "-q"])
    assert res.exit_code == 0 and len((tmp_path / "o.jsonl").read_text().splitlines()) == 2


def test_infer_dataset_streams_every_sentence_to_jsonl(ckpt, tmp_path):
    from linkner.data.readers import read_conll

    data = ckpt.parent / "train.txt"
    n = len(read_conll(data))
    res = runner.invoke(app, ["infer", str(ckpt), "--data", str(data), "--out", str(tmp_path / "p.jsonl")])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    assert len(lines) == n and f"{n} sentences" in res.output
    assert [json.loads(x)["id"] for x in lines] == [s.id for s in read_conll(data)]  # input order kept


def test_infer_dataset_with_metrics(ckpt, tmp_path):
    data = ckpt.parent / "train.txt"
    res = runner.invoke(app, ["infer", str(ckpt), "--data", str(data), "--metrics", str(tmp_path / "m.json"),
                              "--out", str(tmp_path / "p.jsonl"), "--mc-samples", "2"])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m.json").read_text())
    assert "f1" in m["entity"]["micro"] and m["uncertainty_methods"] == ["confidence", "entropy", "mc_dropout"]
    first = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert "gold" in first and "gold_scored" in first


@pytest.mark.parametrize(
    "args, message",
    [
        (["infer", "{ckpt}", "--data", "{bad}"], "GPE"),
        (["infer", "{tmp}", "Paris"], "not a LinkNER checkpoint"),
        (["infer", "{tmp}/missing", "Paris"], "not a folder"),
        (["infer", "{ckpt}", "--input", "{empty}"], "empty"),
        (["infer", "{ckpt}", "   "], "empty"),
        (["infer", "{ckpt}"], "nothing to tag"),
        (["train", "--data", "{train}", "--dev", "{train}", "--encoder", "no-such-encoder-xyz", "--out", "{tmp}/o", "--no-progress"],
         "cannot load encoder 'no-such-encoder-xyz' (offline"),
        (["train", "--data", "{train}", "--dev", "{train}", "--encoder", "./no/such/folder", "--out", "{tmp}/o", "--no-progress"],
         "no such folder"),
        (["train", "--data", "{train}", "--out", "{tmp}/o"], "give the dev split as a file path"),
        (["train", "--data", "nosuchset", "--out", "{tmp}/o"], "unknown dataset"),
        (["train", "--resume", "{tmp}", "--out", "{tmp}/o"], "not a LinkNER checkpoint"),
        (["train", "--data", "{train}", "--model", "crf", "--out", "{tmp}/o"], "unknown loss"),
    ],
)
def test_user_errors_exit_2(ckpt, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    bad = tmp_path / "bad.txt"
    bad.write_text("Paris B-GPE\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    fill = {"ckpt": str(ckpt), "bad": str(bad), "tmp": str(tmp_path), "empty": str(empty), "train": str(ckpt.parent / "train.txt")}
    res = runner.invoke(app, [a.format(**fill) for a in args])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
