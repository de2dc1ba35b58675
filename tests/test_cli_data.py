"""CLI smoke runs for the data and evaluate commands, including the exit-code-2 contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
