"""The main job end to end on a tiny profile: real MiniLM training, real in-process LLM (SmolLM2)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from linkner_cli.app import app

pytest.importorskip("llama_cpp")


def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, [
        "demo", "--out", str(out), "--train-sentences", "80", "--dev-sentences", "40", "--test-sentences", "40",
        "--epochs", "1", "--llm-model", "smollm2-135m", "--max-routed", "0.15",
    ])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "summary.json").read_text())
    n = doc["numbers"]
    assert 0.0 <= n["local_f1"] <= 1.0 and 0.0 <= n["linkner_f1"] <= 1.0
    assert n["routed"] <= 0.15 * n["entities"] + 1
    assert n["routed"] == 0 or n["seconds_per_routed_entity"] > 0
    assert (out / "demo.png").stat().st_size > 1000 and (out / "link" / "linked.jsonl").exists()
    assert doc["config"]["llm_model"] == "smollm2-135m" and "versions" in doc["run"]
