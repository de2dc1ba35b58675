"""CLI smoke runs for the data and evaluate commands, including the exit-code-2 contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linkner_cli.app import app

runner = CliRunner()
FIX = Path(__file__).parent / "fixtures"


def test_help_imports_no_heavy_modules():
    """`linkner --help` must stay instant: no torch/transformers/seqeval at start-up."""
    code = "import sys; from linkner_cli.app import app; print(sorted(m for m in ('torch','transformers','seqeval','datasets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_help_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0 and "evaluate" in res.output and "data" in res.output


def test_data_list_and_stats(tmp_path):
    res = runner.invoke(app, ["data", "list"])
    assert res.exit_code == 0 and "wnut17" in res.output
    out = tmp_path / "stats.json"
    res = runner.invoke(app, ["data", "stats", "wnut17", "--split", "test", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["test"]["entities"] == 1079


def test_convert_then_evaluate_is_perfect(tmp_path):
    out = tmp_path / "pred.jsonl"
    assert runner.invoke(app, ["data", "convert", "wnut17", str(out), "--to", "jsonl"]).exit_code == 0
    scores = tmp_path / "scores.json"
    res = runner.invoke(app, ["evaluate", "wnut17", str(out), "--json", str(scores)])
    assert res.exit_code == 0, res.output
    micro = json.loads(scores.read_text())["micro"]
    assert micro["f1"] == 1.0 and micro["n_gold"] == 1079


def _error(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    return res.output


def test_user_errors_exit_2(tmp_path):
    assert "known datasets" in _error(["data", "stats", "nosuch"])
    assert "file not found" in _error(["data", "stats", str(tmp_path / "missing.txt")])
    (tmp_path / "empty.txt").write_text("")
    assert "is empty" in _error(["data", "stats", str(tmp_path / "empty.txt")])
    bad = tmp_path / "bad.txt"
    bad.write_text("a O\nb Q-PER\n")
    assert "bad.txt:2" in _error(["data", "stats", str(bad)])
    assert "cannot write format" in _error(["data", "convert", str(FIX / "mini.conll"), str(tmp_path / "o"), "--to", "xml"])
    short = tmp_path / "short.txt"
    short.write_text("a O\nb B-PER\n")
    assert "same sentences" in _error(["evaluate", str(FIX / "mini.conll"), str(short)])


# --- `linkner data fetch`: the hub's CoNLL-2003 layout, converted offline from local copies ----------------

HUB_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
HUB_ROWS = {  # split -> (tokens, tag names) rows, as the hub holds them (a -DOCSTART- row included)
    "train": [(["-DOCSTART-"], ["O"]), (["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"]),
              (["Peter", "Blackburn"], ["B-PER", "I-PER"])],
    "validation": [(["New", "York", "Stock", "Exchange", "fell"], ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"])],
    "test": [(["In", "Paris", ",", "Le", "Monde", "wrote"], ["O", "B-LOC", "O", "B-ORG", "I-ORG", "O"]),
             (["no", "entity", "here"], ["O", "O", "O"]), (["Jordan"], ["B-PER"])],
}


def _hub_dataset(names=HUB_NAMES, rows=HUB_ROWS, class_label=True):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    tag = ClassLabel(names=names) if class_label else Value("int64")
    features = Features({"id": Value("string"), "tokens": Sequence(Value("string")), "ner_tags": Sequence(tag)})
    return DatasetDict({split: Dataset.from_dict({"id": [str(i) for i in range(len(r))], "tokens": [t for t, _ in r],
                                                 "ner_tags": [[HUB_NAMES.index(g) for g in tags] for _, tags in r]},
                                                features=features) for split, r in rows.items()})


def _save(ds, folder: Path, layout: str) -> Path:
    """The hub's formats: a save_to_disk folder, the Parquet export (config/split/0000.parquet), or
    a data-only repository's data/{split}-00000-of-00001.parquet."""
    if layout == "disk":
        ds.save_to_disk(str(folder))
        return folder
    for split, part in ds.items():
        path = folder / ("conll2003" if layout == "export" else "data") / (
            f"{split}/0000.parquet" if layout == "export" else f"{split}-00000-of-00001.parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(str(path))
    return folder


@pytest.fixture
def fresh_data(tmp_path, monkeypatch):
    """No LINKNER_DATA_DIR copy, an empty data cache, and no network at all (any connect fails the test)."""
    import socket

    monkeypatch.setenv("LINKNER_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("LINKNER_DATA_CACHE", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("the test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    return tmp_path / "cache"


@pytest.mark.parametrize("layout", ["disk", "export", "data"])
def test_fetch_from_a_hub_format_copy_is_then_found_by_name(tmp_path, fresh_data, layout):
    from linkner.data.registry import load, locate
    from linkner.data.spans import tags_to_entities

    src = _save(_hub_dataset(), tmp_path / "hub", layout)
    res = runner.invoke(app, ["data", "fetch", "conll03", "--from", str(src)])
    assert res.exit_code == 0, res.output
    for split, hub in (("train", "train"), ("dev", "validation"), ("test", "test")):
        assert locate("conll03", split).parent == fresh_data / "conll03"
        got = load("conll03", split)
        want = [(t, tags_to_entities(g)) for t, g in HUB_ROWS[hub] if t != ["-DOCSTART-"]]
        assert [(s.tokens, s.entities) for s in got] == want
    assert sorted(p.name for p in (fresh_data / "conll03").iterdir()) == ["test.txt", "train.txt", "valid.txt"]
    res = runner.invoke(app, ["data", "fetch", "conll03"])  # already there: nothing fetched, no network
    assert res.exit_code == 0 and "already available" in res.output


def test_fetch_bad_copy_is_refused_and_writes_nothing(tmp_path, fresh_data):
    target = fresh_data / "conll03" / "test.txt"
    target.parent.mkdir(parents=True)
    target.write_text("keep\tO\n")
    bad_labels = [n.replace("PER", "PERSON") for n in HUB_NAMES]
    cases = {"PERSON not in the schema": _hub_dataset(names=bad_labels),
             "no test split": _hub_dataset(rows={k: v for k, v in HUB_ROWS.items() if k != "test"}),
             "without ClassLabel names": _hub_dataset(class_label=False)}
    for i, (message, ds) in enumerate(cases.items()):
        out = _error(["data", "fetch", "conll03", "--from", str(_save(ds, tmp_path / f"bad{i}", "disk"))])
        assert message in out
    assert "not a folder" in _error(["data", "fetch", "conll03", "--from", str(tmp_path / "missing")])
    assert target.read_text() == "keep\tO\n" and [p.name for p in target.parent.iterdir()] == ["test.txt"]


def test_fetch_offline_fails_fast_with_one_line(tmp_path, monkeypatch):
    import socket
    import time

    monkeypatch.setenv("LINKNER_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("LINKNER_DATA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = _error(["data", "fetch", "conll03"])
    assert "HF_HUB_OFFLINE" in out and "LINKNER_DATA_DIR" in out and len(out.strip().splitlines()) == 1
    # an unreachable hub: a local port nothing listens on (no request leaves this machine)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    t0 = time.monotonic()
    out = _error(["data", "fetch", "conll03"])
    closed.close()
    assert time.monotonic() - t0 < 10 and "not reachable" in out and "LINKNER_DATA_DIR" in out
    assert not (tmp_path / "cache" / "conll03").exists()


def test_fetch_sets_not_on_the_hub_say_how_to_point_at_them(fresh_data):
    out = _error(["data", "fetch", "twitterner"])
    assert "not on the Hugging Face hub" in out and "LINKNER_DATA_DIR" in out and "twitterner/test.txt" in out
    out = _error(["data", "fetch", "conll03-typos"])
    assert "conll03/typos/test.txt" in out and "linkner data fetch conll03" in out
    res = runner.invoke(app, ["data", "fetch", "wnut17"])  # ships in data/: nothing to do
    assert res.exit_code == 0 and "needs no fetching" in res.output
    assert "linkner data fetch conll03" in _error(["data", "stats", "conll03", "--split", "test"])
