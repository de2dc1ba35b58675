"""Failure modes the linking step must survive (field notes §5.2): server down, timeouts, transient
errors, garbage answers, and a run killed half-way. Fakes and tiny scripted HTTP servers only."""

from __future__ import annotations

import json
import time

import pytest
from link_helpers import FakeBackend, FaultServer, free_port, write_predictions
from typer.testing import CliRunner

from linkner.errors import LLMError
from linkner.link.backend import TransientLLMError, with_retries
from linkner.link.backends import make_backend
from linkner.link.cache import AnswerCache
from linkner.link.config import LinkConfig, LLMConfig
from linkner.link.pipeline import run_link


def cfg(tmp_path, cache="cache.jsonl", **llm):
    # replace rule: these fault tests read the fake's typed answers; fusion has tests/test_link_fusion.py
    return LinkConfig(cache=str(tmp_path / cache), decision="replace", llm=LLMConfig(**{"backend": "openai", "model": "fake", **llm}))


@pytest.mark.parametrize("backend", ["openai", "ollama"])
def test_server_down_fails_fast_with_an_actionable_message(backend):
    url = f"http://127.0.0.1:{free_port()}"
    b = make_backend(LLMConfig(backend=backend, model="m", base_url=url + "/v1", host=url, connect_timeout_s=2))
    t0 = time.perf_counter()
    with pytest.raises(LLMError) as exc:
        b.health_check()
    assert time.perf_counter() - t0 < 8
    assert ("ollama serve" if backend == "ollama" else "llama_cpp.server") in str(exc.value)


def test_cli_reports_server_down_in_one_line(tmp_path):
    from linkner_cli.app import app

    pred = write_predictions(tmp_path / "p.jsonl")
    res = CliRunner().invoke(app, ["link", str(pred), "--out", str(tmp_path / "o"), "--backend", "openai", "--model", "m",
                                   "--base-url", f"http://127.0.0.1:{free_port()}/v1", "--cache", str(tmp_path / "c.jsonl")])
    assert res.exit_code == 2, res.output
    assert "cannot reach" in res.output and "Traceback" not in res.output


def test_retries_with_backoff_then_give_up():
    waits, attempts = [], []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise TransientLLMError("reset")
        return "ok"

    assert with_retries(flaky, retries=3, backoff_s=1.0, sleep=waits.append) == "ok"
    assert len(waits) == 2 and 0.75 <= waits[0] <= 1.25 and 1.5 <= waits[1] <= 2.5
    with pytest.raises(TransientLLMError):
        with_retries(lambda: (_ for _ in ()).throw(TransientLLMError("down")), retries=2, backoff_s=0, sleep=waits.append)


def test_transient_failure_is_retried_and_not_counted(tmp_path):
    fake = FakeBackend(fail={1})
    c = cfg(tmp_path)
    c.llm.backoff_s = 0.0
    res = run_link(write_predictions(tmp_path / "p.jsonl"), c, backend=fake)
    assert fake.calls[0] == fake.calls[1]  # the failed request was sent again
    assert res.metrics["llm"]["errors"] == 0 and res.metrics["llm"]["calls"] == 4


@pytest.fixture
def scripted():
    """An OpenAI-compatible :class:`FaultServer` (misbehaviour set per test) and its ``/v1`` URL."""
    with FaultServer(reply="??") as srv:
        yield srv, srv.url + "/v1"


def test_garbage_answers_keep_the_local_label_and_structured_output_falls_back(tmp_path, scripted):
    handler, url = scripted
    handler.reject_json_schema, handler.reply = True, "Well, it depends on context!!"
    res = run_link(write_predictions(tmp_path / "p.jsonl"), cfg(tmp_path, base_url=url), backend=None)
    seen = [(r.get("response_format") or {}).get("type") for r in handler.requests("/v1/chat/completions")]
    assert seen[:2] == ["json_schema", "json_object"] and set(seen[2:]) == {"json_object"}
    assert res.metrics["routing"]["decisions"] == {"unparsed": 4}
    local = [[(e.start, e.end, e.extra["local_label"]) for e in s.entities] for s in res.linked]
    final = [[(e.start, e.end, e.label) for e in s.entities] for s in res.linked]
    assert local == final  # nothing dropped, nothing re-typed


def test_timeouts_keep_local_labels_and_a_dead_streak_stops_the_run(tmp_path, scripted):
    handler, url = scripted
    handler.delay = 1.5
    pred = write_predictions(tmp_path / "p.jsonl")
    c = cfg(tmp_path, base_url=url, timeout_s=0.3, retries=1, backoff_s=0.01, max_consecutive_errors=10)
    t0 = time.perf_counter()
    res = run_link(pred, c)
    assert time.perf_counter() - t0 < 15
    assert res.metrics["llm"]["errors"] == 4 and res.metrics["routing"]["decisions"] == {"error": 4}
    sources = {e.extra["source"] for s in res.linked for e in s.entities if e.extra["routed"]}
    assert sources == {"local_error"}
    with AnswerCache(tmp_path / "cache.jsonl") as cache:
        assert len(cache) == 0  # failures are not cached: a rerun retries them
    c2 = cfg(tmp_path, base_url=url, timeout_s=0.3, retries=0, max_consecutive_errors=2)
    with pytest.raises(LLMError, match="rerun to resume"):
        run_link(pred, c2)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_kill_and_resume_loses_and_repeats_nothing(tmp_path, concurrency):
    pred = write_predictions(tmp_path / "p.jsonl")
    reference = FakeBackend()
    run_link(pred, cfg(tmp_path, "ref.jsonl"), tmp_path / "ref", backend=reference)

    first = FakeBackend(interrupt_on=3, concurrency=concurrency)
    with pytest.raises(KeyboardInterrupt):
        run_link(pred, cfg(tmp_path, "run.jsonl", concurrency=concurrency), tmp_path / "run", backend=first)
    cached = [json.loads(x) for x in (tmp_path / "run.jsonl").read_text().splitlines()[1:]]  # after the header
    assert len(cached) == len(first.calls) >= 2  # everything answered before the interrupt is on disk

    second = FakeBackend(concurrency=concurrency)
    run_link(pred, cfg(tmp_path, "run.jsonl", concurrency=concurrency), tmp_path / "run", backend=second)
    assert sorted(first.calls + second.calls) == sorted(reference.calls)  # nothing lost, nothing asked twice
    assert (tmp_path / "run/linked.jsonl").read_bytes() == (tmp_path / "ref/linked.jsonl").read_bytes()

    third = FakeBackend()
    res = run_link(pred, cfg(tmp_path, "run.jsonl"), tmp_path / "run", backend=third)
    assert third.calls == [] and res.metrics["llm"]["cache_hits"] == 4 and res.metrics["llm"]["calls"] == 0
    assert (tmp_path / "run/linked.jsonl").read_bytes() == (tmp_path / "ref/linked.jsonl").read_bytes()
    assert third.checked == 0 and second.checked == 1  # health checked once before real calls, never when all cached


def test_fully_cached_rerun_needs_no_server(tmp_path):
    """Once every answer is cached the server may be gone: the rerun gives the same output; a run that
    needs a fresh answer still fails fast with the backend's message, before any request."""
    pred = write_predictions(tmp_path / "p.jsonl")
    run_link(pred, cfg(tmp_path, "c.jsonl"), tmp_path / "a", backend=FakeBackend())

    class Down(FakeBackend):
        def health_check(self) -> None:
            raise LLMError("server is down")

    down = Down()
    run_link(pred, cfg(tmp_path, "c.jsonl"), tmp_path / "b", backend=down)
    assert down.calls == [] and (tmp_path / "b/linked.jsonl").read_bytes() == (tmp_path / "a/linked.jsonl").read_bytes()
    with pytest.raises(LLMError, match="server is down"):
        run_link(pred, cfg(tmp_path, "empty.jsonl"), tmp_path / "c", backend=down)
    assert down.calls == []


def test_cli_config_file_with_flags_taking_precedence(tmp_path, scripted):
    """A TOML LinkConfig is read; flags given explicitly win over it; the resolved config is recorded."""
    from linkner_cli.app import app

    handler, url = scripted
    handler.reply = '{"type": "location"}'
    conf = tmp_path / "link.toml"
    conf.write_text(f'threshold = "0.55"\nshots = 0\n[llm]\nbackend = "openai"\nmodel = "fake"\nbase_url = "{url}"\n')
    pred = write_predictions(tmp_path / "p.jsonl")
    res = CliRunner().invoke(app, ["link", str(pred), "--config", str(conf), "--threshold", "0.65", "--out",
                                   str(tmp_path / "o"), "--cache", str(tmp_path / "c.jsonl")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "o/metrics.json").read_text())
    assert m["routing"]["routed"] == 2 and m["config"]["threshold"] == "0.65" and m["config"]["llm"]["base_url"] == url
