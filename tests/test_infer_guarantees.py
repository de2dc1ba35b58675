"""``linkner infer`` and checkpoints under bad input: checks before the model load, checkpoint files that
disagree, CRLF offsets, seeded MC dropout, and an interrupted ``--out`` that is never left half-written."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from linkner.data.readers import read_conll
from linkner.data.text import split_sentences
from linkner.errors import ModelError
from linkner.models.checkpoint import load_checkpoint
from linkner.models.predict import LocalModel
from linkner_cli.app import app

runner = CliRunner()



@pytest.fixture(scope="module")
def ckpt(tiny_models):
    return tiny_models.ener


def _fails(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    return res.output


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if the model is loaded: the check under test must come first."""
    def refuse(self, *a, **k):
        raise AssertionError("the model was loaded before the input was checked")

    monkeypatch.setattr(LocalModel, "__init__", refuse)


# ------------------------------------------------------------------------------- checks come first
def test_out_folder_fails_before_model_load(ckpt, tmp_path, no_model_load):
    """Before: IsADirectoryError traceback after the whole run."""
    assert "--out" in _fails(["infer", str(ckpt), "Paris is nice.", "--out", str(tmp_path)])
    assert "--metrics" in _fails(["infer", str(ckpt), "--data", str(ckpt.parent / "train.txt"), "--metrics", str(tmp_path)])


def test_data_labels_checked_against_labels_json_before_model_load(ckpt, tmp_path, no_model_load):
    bad = tmp_path / "wnut.txt"
    bad.write_text("Paris B-location\nrocks O\n", encoding="utf-8")
    msg = _fails(["infer", str(ckpt), "--data", str(bad), "--out", str(tmp_path / "p.jsonl")])
    assert "location" in msg and f"checkpoint {ckpt}" in msg and not (tmp_path / "p.jsonl").exists()


# ------------------------------------------------------------------------------- checkpoint files
def _copy(ckpt, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(ckpt, dst)
    return dst


def test_labels_json_disagreeing_with_weights(ckpt, tmp_path):
    """Before: torch's multi-line RuntimeError (size mismatch) as a traceback."""
    bad = _copy(ckpt, tmp_path)
    labels = json.loads((bad / "labels.json").read_text())
    (bad / "labels.json").write_text(json.dumps([*labels, "EXTRA"]))
    with pytest.raises(ModelError, match=f"lists {len(labels) + 1} labels .* trained for {len(labels)}"):
        load_checkpoint(bad)
    assert "do not belong together" in _fails(["infer", str(bad), "Paris is nice."])


@pytest.mark.parametrize("content, message", [
    ('["O", "PER", "PER"]', "distinct label names"),
    ('["O", 3]', "distinct label names"),
    (b"\xff\xfe", "unreadable"),
])
def test_labels_json_malformed(ckpt, tmp_path, content, message):
    bad = _copy(ckpt, tmp_path)
    (bad / "labels.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    assert message in _fails(["infer", str(bad), "Paris is nice."])


def test_calibration_json_malformed(ckpt, tmp_path):
    bad = _copy(ckpt, tmp_path)
    (bad / "calibration.json").write_text('["hot"]')
    assert "positive number" in _fails(["infer", str(bad), "Paris is nice."])


# ------------------------------------------------------------------------------- CRLF offsets
def test_crlf_file_offsets_index_the_files_characters(ckpt, tmp_path):
    """Before: the file was read with newline translation, so offsets after each CRLF drifted by one."""
    text = "Peter Blackburn visited Paris.\r\nJohn lives in Berlin.\r\n\r\nEU rejects German call.\r\n"
    f = tmp_path / "crlf.txt"
    f.write_bytes(text.encode("utf-8"))
    out = tmp_path / "p.jsonl"
    res = runner.invoke(app, ["infer", str(ckpt), "--input", str(f), "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    raw = f.read_bytes().decode("utf-8")
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 3  # the CRLF blank line still separates paragraphs
    checked = 0
    for rec in records:
        base = rec["char_offset"]
        for tok, (a, b) in zip(rec["tokens"], rec["token_offsets"]):
            assert raw[base + a : base + b] == tok
            checked += 1
        for e in rec["entities"]:
            assert raw[e["doc_char_start"]:e["doc_char_end"]] == e["text"]
    assert checked == sum(len(r["tokens"]) for r in records) > 10


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([*"ab .\n\t!?Ü", "Mr.", "U.S.", "😀", "Paris", "\n\n"]), max_size=40).map("".join))
def test_crlf_splits_like_lf(text):
    """Property: with every LF replaced by CRLF, the same sentences of the same tokens come out, and every
    token is still an exact slice of the CRLF text."""
    crlf = text.replace("\n", "\r\n")
    lf_sents = [[t for t, _, _ in s] for s in split_sentences(text)]
    crlf_sents = split_sentences(crlf)
    assert [[t for t, _, _ in s] for s in crlf_sents] == lf_sents
    assert all(crlf[a:b] == t for s in crlf_sents for t, a, b in s)


# ------------------------------------------------------------------------------- determinism
def test_mc_dropout_is_seeded_and_leaves_global_rng_alone(ckpt):
    from linkner.data.readers import read_conll

    model = LocalModel(ckpt)
    sents = read_conll(ckpt.parent / "train.txt")
    torch.manual_seed(7)
    state = torch.get_rng_state()

    def mc(**kw):
        preds = model.predict_sentences(sents, mc_samples=3, has_gold=True, **kw)
        return [c["uncertainty"]["mc_dropout"] for s in preds for c in [*s.meta["candidates"], *s.meta["gold_scored"]]]

    first = mc()
    assert torch.equal(torch.get_rng_state(), state)  # callers' random streams are untouched
    assert first and mc() == first  # before: different values on every run
    assert mc(mc_seed=1) != first  # the seed really drives the masks
    assert model.predict_sentences(sents[:1], mc_samples=2)[0].meta["model"]["mc_seed"] == 0  # recorded


def test_cli_mc_samples_gives_identical_files(ckpt, tmp_path):
    data = str(ckpt.parent / "train.txt")
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.jsonl"
        res = runner.invoke(app, ["infer", str(ckpt), "--data", data, "--out", str(out), "--mc-samples", "3",
                                  "--metrics", str(tmp_path / f"{name}.json"), "-q"])
        assert res.exit_code == 0, res.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert json.loads((tmp_path / "a.json").read_text())["mc_seed"] == 0


def test_interrupted_infer_leaves_out_untouched(ckpt, tmp_path, monkeypatch):
    """Before: a truncated --out that looked finished, and a message promising a resume."""
    original = LocalModel.iter_predict_sentences

    def interrupted(self, sentences, *a, **k):
        stream = original(self, sentences, *a, **{**k, "chunk": 1})

        def gen():
            yield next(stream)  # one sentence reaches the file, then Ctrl-C
            raise KeyboardInterrupt

        return gen()

    monkeypatch.setattr(LocalModel, "iter_predict_sentences", interrupted)
    out = tmp_path / "p.jsonl"
    out.write_text("previous run\n")
    res = runner.invoke(app, ["infer", str(ckpt), "--data", str(ckpt.parent / "train.txt"), "--out", str(out), "-q"])
    assert res.exit_code == 130
    assert "resume" not in res.output and "left as it was" in res.output
    assert out.read_text() == "previous run\n" and sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]
    monkeypatch.setattr(LocalModel, "iter_predict_sentences", original)
    res = runner.invoke(app, ["infer", str(ckpt), "--data", str(ckpt.parent / "train.txt"), "--out", str(out), "-q"])
    n = len(read_conll(ckpt.parent / "train.txt"))
    assert res.exit_code == 0 and len(out.read_text().splitlines()) == n
