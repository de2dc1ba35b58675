"""Servers that answer garbage (issue 14): a reply that is not what the protocol promises is a transient
error for one request (retried, then counted, the local label kept) and, at the health check, one clear
:class:`LLMError`. Both server backends are driven through their real clients against
:class:`link_helpers.FaultServer` on 127.0.0.1; every request loop is bounded in count and time."""

from __future__ import annotations

import json
import time

import pytest
from link_helpers import BODY_FAULTS, ORACLE, FaultServer, free_port, write_predictions
from typer.testing import CliRunner

from linkner.errors import LLMError
from linkner.link.backend import LinkRequest, MalformedResponse, TransientLLMError
from linkner.link.backends import make_backend
from linkner.link.config import LinkConfig, LLMConfig
from linkner.link.pipeline import run_link

REQUEST = LinkRequest.of([{"role": "user", "content": "Is [[Paris]] a location?"}],
                         {"type": "object", "properties": {"type": {"enum": ["location", "not an entity"]}}})
CHAT = {"openai": "/v1/chat/completions", "ollama": "/api/chat"}


@pytest.fixture
def server():
    with FaultServer(reply=lambda span: json.dumps({"type": ORACLE.get(span, "location")}), hang_s=3.0) as srv:
        yield srv


def backend(kind: str, srv: FaultServer, **llm):
    cfg = {"backend": kind, "model": "fake", "base_url": srv.url + "/v1", "host": srv.url, "timeout_s": 1.0,
           "connect_timeout_s": 0.5, "structured": "json_object", **llm}
    return make_backend(LLMConfig(**cfg))


# --- one request ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["openai", "ollama"])
@pytest.mark.parametrize("fault", BODY_FAULTS)
def test_a_garbage_chat_reply_is_a_transient_error_naming_the_endpoint(kind, fault, server):
    server.faults[CHAT[kind]] = fault
    b = backend(kind, server)
    with pytest.raises(MalformedResponse) as exc:
        b.complete(REQUEST)
    assert CHAT[kind] in str(exc.value)
    server.faults.clear()
    assert json.loads(b.complete(REQUEST).text) == {"type": "location"}  # the same backend recovers
    b.close()


@pytest.mark.parametrize("kind", ["openai", "ollama"])
@pytest.mark.parametrize("fault", ["http500", "close", "hang"])
def test_failed_exchanges_are_transient_and_bounded_in_time(kind, fault, server):
    server.faults[CHAT[kind]] = fault
    b = backend(kind, server)
    t0 = time.perf_counter()
    with pytest.raises(TransientLLMError):
        b.complete(REQUEST)
    assert time.perf_counter() - t0 < 2.5  # timeout_s = 1; a hang is cut by the client, not by the server
    b.close()


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_a_closed_port_mid_run_is_transient(kind):
    url = f"http://127.0.0.1:{free_port()}"
    b = make_backend(LLMConfig(backend=kind, model="fake", base_url=url + "/v1", host=url, timeout_s=1, connect_timeout_s=0.5))
    with pytest.raises(TransientLLMError):
        b.complete(REQUEST)


def test_wrong_typed_usage_counts_are_dropped_not_summed(server):
    server.faults[CHAT["openai"]] = lambda req: "ok"
    b = backend("openai", server)
    assert b.complete(REQUEST).prompt_tokens == 50
    from linkner.link.openai_chat import _completion

    body = json.dumps({"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "many",
                                                                             "completion_tokens": True}}).encode()
    c = _completion(body, 0.1, "off", "here")
    assert (c.text, c.prompt_tokens, c.completion_tokens) == ("x", None, None)


# --- the health check ------------------------------------------------------------------------------------

HEALTH = {"openai": ["/v1/models"], "ollama": ["/api/tags", "/api/show", "/api/chat"]}


@pytest.mark.parametrize("kind,path,fault", [(k, p, f) for k, ps in HEALTH.items() for p in ps for f in
                                             ("not_json", "not_utf8", "json_list", "malformed_choices", "wrong_types")
                                             if (p, f) != ("/api/show", "malformed_choices")])  # no list to spoil
def test_garbage_at_the_health_check_is_one_clear_error(kind, path, fault, server):
    server.faults[path] = fault
    b = backend(kind, server)
    with pytest.raises(LLMError) as exc:
        b.health_check()
    assert not isinstance(exc.value, TransientLLMError)
    msg = str(exc.value)
    assert path in msg and ("OpenAI-compatible server" in msg if kind == "openai" else "an Ollama server?" in msg)
    assert "\n" not in msg
    assert len(server.requests(path)) == 1  # asked once: garbage at start-up is not retried


@pytest.mark.parametrize("kind,path", [("openai", "/v1/models"), ("ollama", "/api/tags")])
def test_a_hung_server_fails_the_health_check_in_seconds(kind, path, server):
    server.faults[path] = "hang"
    server.hang_s = 5.0
    b = backend(kind, server)
    t0 = time.perf_counter()
    with pytest.raises(LLMError):
        b.health_check()
    assert time.perf_counter() - t0 < 4.5  # connect_timeout_s = 0.5 (+2 s for the openai model list)


# --- whole runs ------------------------------------------------------------------------------------------

def apple_is_garbage(fault: str):
    """Spoil only the requests about "Apple" (routed at τ = 0.4 with three other entities)."""
    return lambda req: fault if "[[Apple]]" in json.dumps(req.get("messages")) else "ok"


@pytest.mark.parametrize("kind,fault", [("openai", "not_json"), ("openai", "empty_choices"), ("ollama", "not_utf8"),
                                        ("ollama", "malformed_choices")])
def test_a_run_with_some_garbage_keeps_local_labels_and_counts_errors(tmp_path, server, kind, fault):
    server.faults[CHAT[kind]] = apple_is_garbage(fault)
    llm = LLMConfig(backend=kind, model="fake", base_url=server.url + "/v1", host=server.url, timeout_s=2,
                    retries=2, backoff_s=0.01, structured="json_object")
    t0 = time.perf_counter()
    res = run_link(write_predictions(tmp_path / "p.jsonl"), LinkConfig(cache=str(tmp_path / "c.jsonl"), decision="replace", llm=llm))
    assert time.perf_counter() - t0 < 20
    chats = [r for r in server.requests(CHAT[kind]) if r.get("messages")]
    assert sum("[[Apple]]" in json.dumps(r["messages"]) for r in chats) == 3  # first try + 2 retries, no more
    assert len(chats) == 3 + 3
    assert res.metrics["llm"]["errors"] == 1 and res.metrics["routing"]["decisions"]["error"] == 1
    ents = {" ".join(s.tokens[e.start:e.end]): e for s in res.linked for e in s.entities}
    assert ents["Apple"].label == "LOC" and ents["Apple"].extra["source"] == "local_error"
    others = [e for e in ents.values() if e.extra.get("routed") and e is not ents["Apple"]]
    assert others and all(e.extra["source"] != "local_error" for e in others)  # the good answers were used
    assert sum(res.metrics["routing"]["decisions"].values()) == 4


def test_a_server_that_only_answers_garbage_stops_the_run_with_a_resumable_error(tmp_path, server):
    server.faults[CHAT["openai"]] = "not_json"
    llm = LLMConfig(backend="openai", model="fake", base_url=server.url + "/v1", retries=1, backoff_s=0.01,
                    max_consecutive_errors=2, structured="json_object")
    with pytest.raises(LLMError, match="2 requests in a row failed.*rerun to resume"):
        run_link(write_predictions(tmp_path / "p.jsonl"), LinkConfig(cache=str(tmp_path / "c.jsonl"), llm=llm))
    assert len(server.requests(CHAT["openai"])) == 4  # 2 requests × (1 + 1 retry)


# --- the CLI -------------------------------------------------------------------------------------------------

def link_cli(tmp_path, kind: str, srv: FaultServer, *extra: str):
    from linkner_cli.app import app

    pred = write_predictions(tmp_path / "p.jsonl")
    endpoint = ["--base-url", srv.url + "/v1"] if kind == "openai" else ["--host", srv.url]
    return CliRunner().invoke(app, ["link", str(pred), "--out", str(tmp_path / "o"), "--backend", kind, "--model", "fake",
                                    *endpoint, "--cache", str(tmp_path / "c.jsonl"), "--timeout", "2", *extra])


@pytest.mark.parametrize("kind,path,fault", [("openai", "/v1/models", "not_json"), ("openai", "/v1/models", "not_utf8"),
                                             ("ollama", "/api/tags", "not_json"), ("ollama", "/api/chat", "not_utf8")])
def test_cli_garbage_at_the_health_check_is_one_error_line(tmp_path, server, kind, path, fault):
    server.faults[path] = fault
    res = link_cli(tmp_path, kind, server)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and path in errors[0], res.output
    assert not (tmp_path / "o").exists()
    assert not [r for r in server.requests(CHAT[kind]) if r.get("messages")]  # stopped before any question


@pytest.mark.parametrize("kind,fault", [("openai", "not_utf8"), ("ollama", "no_content")])
def test_cli_run_with_some_garbage_completes_with_local_labels(tmp_path, server, kind, fault):
    server.faults[CHAT[kind]] = apple_is_garbage(fault)
    res = link_cli(tmp_path, kind, server, "--retries", "1")
    assert res.exit_code == 0, res.output
    assert "1 request(s) failed after retries" in " ".join(res.output.split())
    m = json.loads((tmp_path / "o/metrics.json").read_text())
    assert m["llm"]["errors"] == 1 and m["routing"]["decisions"]["error"] == 1
    linked = [json.loads(x) for x in (tmp_path / "o/linked.jsonl").read_text().splitlines()]
    apple = [e for r in linked for e in r["entities"] if r["tokens"][e["start"]:e["end"]] == ["Apple"]]
    assert [e["label"] for e in apple] == ["LOC"]
