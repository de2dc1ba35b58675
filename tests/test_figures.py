"""Figures are regenerated from results JSON, byte-for-byte: same JSON in, same files out."""

from __future__ import annotations

import hashlib
import json

from typer.testing import CliRunner

from linkner.data.types import Entity, Sentence
from linkner.studies.experiments import data_overview, unseen_rate, write_results
from linkner.studies.figures import make_figure
from linkner_cli.app import app


def _digest(paths):
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_data_overview_figure_is_byte_reproducible(tmp_path):
    numbers = data_overview(("wnut17", "wnut16"), max_sentences=200)
    write_results(tmp_path / "results" / "data" / "overview.json", numbers, {"study": "data_overview"})
    first = _digest(make_figure("data_overview", tmp_path / "results", tmp_path / "a"))
    second = _digest(make_figure("data_overview", tmp_path / "results", tmp_path / "b"))
    assert first == second
    plotted = json.loads((tmp_path / "a" / "data_overview.json").read_text())
    assert plotted["unseen_rate"]["wnut17"] == numbers["unseen_rate"]["wnut17"]


def test_unseen_rate():
    train = [Sentence(["Paris", "is", "nice"], [Entity(0, 1, "LOC")])]
    test = [Sentence(["paris", "and", "Rome"], [Entity(0, 1, "LOC"), Entity(2, 3, "LOC")])]
    assert unseen_rate(test, train) == 0.5


def test_figures_cli_reports_unknown_names(tmp_path):
    res = CliRunner().invoke(app, ["figures", "--name", "nope", "--results", str(tmp_path)])
    assert res.exit_code == 2 and "unknown figure" in res.output
