"""Shared fixtures of the ``test_link_*`` tests: a small predictions file in the ``linkner infer``
contract, a scripted fake backend, and a fault-injection HTTP server (for parsing/fault tests only —
real LLMs are used elsewhere)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from linkner.link.backend import Completion, LinkRequest

LABELS = ["LOC", "MISC", "ORG", "PER"]


def _ent(start, end, label, u, **unc):
    probs = {lab: 0.02 for lab in LABELS + ["O"]}
    probs[label] = 1 - u
    return {"start": start, "end": end, "label": label, "prob": 1 - u,
            "uncertainty": {"confidence": u, "entropy": min(1.0, u * 1.1), **unc}, "probs": probs}


# tokens, decoded entities, gold, gold_scored — entities with confidence u > 0.4 are "German", "Old
# Trafford", "Sunday" and "Apple" (4 routed at τ = 0.4); "Berlin" is a gold span the model scored O.
SENTENCES = [
    ("EU rejects German call to boycott British lamb .".split(),
     [_ent(0, 1, "ORG", 0.1), _ent(2, 3, "LOC", 0.6), _ent(6, 7, "MISC", 0.2)],
     [(0, 1, "ORG"), (2, 3, "MISC"), (6, 7, "MISC")], []),
    ("Peter Blackburn".split(), [_ent(0, 2, "PER", 0.05)], [(0, 2, "PER")], []),
    ("Manchester United play at Old Trafford on Sunday .".split(),
     [_ent(0, 2, "ORG", 0.3), _ent(4, 6, "ORG", 0.7)], [(0, 2, "ORG"), (4, 6, "LOC")], []),
    ("Sunday is a public holiday in Japan .".split(),
     [_ent(0, 1, "MISC", 0.8), _ent(6, 7, "LOC", 0.1)], [(6, 7, "LOC")], []),
    ("Angela Merkel met Apple executives in Berlin .".split(),
     [_ent(0, 2, "PER", 0.02), _ent(3, 4, "LOC", 0.5)], [(0, 2, "PER"), (3, 4, "ORG"), (6, 7, "LOC")],
     [_ent(6, 7, "O", 0.55)]),
]

# Non-O spans that decoding dropped because they overlap a decoded entity (used by the paper protocol).
CANDIDATES = {2: [_ent(0, 1, "LOC", 0.45)]}  # "Manchester" inside "Manchester United"

# What a perfect LLM would answer for each routed surface form.
ORACLE = {"German": "miscellaneous", "Old Trafford": "location", "Sunday": "not an entity", "Apple": "organization",
          "Berlin": "location"}


def write_predictions(path: Path, with_gold: bool = True, sentences=SENTENCES) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i, (toks, ents, gold, gold_scored) in enumerate(sentences):
            rec = {"id": f"s{i}", "tokens": toks, "entities": ents, "candidates": CANDIDATES.get(i, []),
                   "model": {"name": "fixture", "labels": LABELS}}
            if with_gold:
                rec["gold"] = [{"start": a, "end": b, "label": lab} for a, b, lab in gold]
                rec["gold_scored"] = gold_scored
            fh.write(json.dumps(rec) + "\n")
    return path


def span_of(request: LinkRequest) -> str:
    """The span a request asks about (the text between the last pair of [[ ]])."""
    return span_in(request.messages[-1][1])


def span_in(text: str) -> str:
    return text.rsplit("[[", 1)[1].split("]]", 1)[0] if "[[" in text else ""


class FakeBackend:
    """Answers from a function of the span; can fail or be interrupted on chosen calls."""

    name = "fake"
    identity = "fake-model"
    concurrency = 1

    def __init__(self, answer=lambda span: json.dumps({"type": ORACLE.get(span, "not an entity")}),
                 interrupt_on: int | None = None, fail: set[int] = frozenset(), concurrency: int = 1):
        self.answer, self.interrupt_on, self.fail = answer, interrupt_on, set(fail)
        self.calls: list[str] = []
        self.requests: list[LinkRequest] = []
        self.concurrency = concurrency
        self.checked = 0

    def health_check(self) -> None:
        self.checked += 1

    def complete(self, request: LinkRequest) -> Completion:
        from linkner.link.backend import TransientLLMError

        n = len(self.calls) + 1
        if self.interrupt_on is not None and n == self.interrupt_on:
            raise KeyboardInterrupt
        span = span_of(request)
        self.calls.append(span)
        self.requests.append(request)
        if n in self.fail:
            raise TransientLLMError(f"fake failure on call {n}")
        return Completion(self.answer(span), 0.01, 100, 5)

    def close(self) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90.0) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not come up within {timeout} s")


class JSONHandler(BaseHTTPRequestHandler):
    """Quiet request handler with a JSON reply helper, shared by the HTTP stand-ins of the tests."""

    def log_message(self, *args):
        pass

    def _send(self, code: int, obj: dict) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_bytes(self, code: int, body: bytes) -> None:
        """Send ``body`` as it is, labelled JSON whatever it holds (what a broken proxy or server does)."""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# --- Ollama's reply shapes, shared by the fault server and the stand-in in front of llama.cpp --------------

OLLAMA_DONE = {"created_at": "2026-01-01T00:00:00Z", "done": True}


def ollama_tags(model: str) -> dict:
    return {"models": [{"name": model, "model": model, "digest": "0" * 64, "size": 1,
                        "modified_at": "2026-01-01T00:00:00Z", "details": {"format": "gguf"}}]}


def ollama_show() -> dict:
    return {"modelfile": "", "parameters": "", "template": "", "details": {"format": "gguf"}, "model_info": {}}


def ollama_chat(model: str, content: str, reason: str = "stop", **counts) -> dict:
    return {"model": model, **OLLAMA_DONE, "done_reason": reason, "message": {"role": "assistant", "content": content},
            **counts}


# --- fault injection ---------------------------------------------------------------------------------------

# Replies that are not what the protocol promises; each becomes a body for whichever endpoint is asked.
BODY_FAULTS = ("not_json", "not_utf8", "json_list", "empty_choices", "malformed_choices", "no_content", "wrong_types")
# Failures of the exchange itself: HTTP 500, a connection closed with no reply, a reply that never comes.
EXCHANGE_FAULTS = ("http500", "close", "hang")

_RAW = {"not_json": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        "not_utf8": b'{"choices": "\xff\xfe\xfa", "data": "\xff\xfe"}',
        "json_list": b"[1, 2, 3]"}


class FaultServer:
    """An OpenAI-compatible (``/v1/models``, ``/v1/chat/completions``) and Ollama (``/api/tags``,
    ``/api/show``, ``/api/chat``) server on 127.0.0.1 that answers each request well or with a fault.

    ``faults[path]`` is a fault name (one of :data:`BODY_FAULTS` or :data:`EXCHANGE_FAULTS`, or ``"ok"``)
    or a function of the decoded request body giving one, so a test can spoil only some chat requests.
    ``reply`` is the message text of a good chat answer, a string or a function of the span asked about.
    A ``hang`` waits ``hang_s`` seconds (or until :meth:`close`) and then drops the connection, so no
    server thread outlives a test for long. Every request is logged in ``seen`` as (path, body).
    """

    def __init__(self, model: str = "fake", reply: str | Callable[[str], str] = '{"type": "location"}',
                 hang_s: float = 3.0):
        self.model, self.reply, self.hang_s = model, reply, hang_s
        self.faults: dict[str, str | Callable[[dict], str]] = {}
        self.delay = 0.0  # seconds before a good chat answer
        self.reject_json_schema = False  # HTTP 400 for response_format json_schema, as some servers do
        self.seen: list[tuple[str, dict]] = []
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_FaultHandler,), {"owner": self}))
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def requests(self, path: str) -> list[dict]:
        """Bodies of the requests made to ``path``, in order."""
        return [body for p, body in list(self.seen) if p == path]

    def answer_for(self, req: dict) -> str:
        messages = req.get("messages") or [{}]
        span = span_in(str(messages[-1].get("content", "")))
        return self.reply(span) if callable(self.reply) else self.reply

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _FaultHandler(JSONHandler):
    owner: FaultServer

    def do_GET(self):
        self._answer({})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        self._answer(req)

    def _answer(self, req: dict) -> None:
        srv = self.owner
        srv.seen.append((self.path, req))
        fault = srv.faults.get(self.path, "ok")
        fault = fault(req) if callable(fault) else fault
        try:
            if fault in ("hang", "close"):
                if fault == "hang":
                    srv.stopping.wait(srv.hang_s)
                self.close_connection = True  # no status line at all: the client sees a dropped connection
                return
            if fault == "http500":
                return self._send(500, {"error": {"message": "internal server error"}} if self.path.startswith("/v1")
                                  else {"error": "internal server error"})
            if fault in _RAW:
                return self._send_bytes(200, _RAW[fault])
            if self.path == "/v1/chat/completions":
                fmt = (req.get("response_format") or {}).get("type")
                if srv.reject_json_schema and fmt == "json_schema":
                    return self._send(400, {"error": {"message": "response_format json_schema not supported"}})
            code, body = self._body(fault, req)
            if code == 200 and srv.delay and self.path.endswith("chat/completions"):
                srv.stopping.wait(srv.delay)
            self._send(code, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): nothing to answer

    def _body(self, fault: str, req: dict) -> tuple[int, dict]:
        srv, path = self.owner, self.path
        if path == "/v1/models":
            data = {"ok": [{"id": srv.model, "object": "model"}], "empty_choices": [], "malformed_choices": "models",
                    "no_content": [{"object": "model"}], "wrong_types": [{"id": 42, "object": "model"}]}[fault]
            return 200, {"object": "list", "data": data}
        if path == "/v1/chat/completions":
            message = {"ok": {"role": "assistant", "content": srv.answer_for(req)}, "no_content": {"role": "assistant",
                       "content": None}, "wrong_types": {"role": "assistant", "content": 42}}.get(fault)
            choices = {"empty_choices": [], "malformed_choices": [{"index": 0, "finish_reason": "stop"}]}.get(
                fault, [{"index": 0, "finish_reason": "stop", "message": message}])
            usage = {"prompt_tokens": "many", "completion_tokens": None} if fault == "wrong_types" else \
                {"prompt_tokens": 50, "completion_tokens": 3, "total_tokens": 53}
            return 200, {"id": "x", "object": "chat.completion", "created": 0, "model": srv.model, "choices": choices,
                         "usage": usage}
        if path == "/api/tags":
            return 200, {"ok": ollama_tags(srv.model), "empty_choices": {"models": []}, "malformed_choices":
                         {"models": "fake"}, "no_content": {}, "wrong_types": {"models": [{"model": 42}]}}[fault]
        if path == "/api/show":
            if req.get("model") != srv.model:
                return 404, {"error": f"model '{req.get('model')}' not found"}
            return 200, {"ok": ollama_show(), "wrong_types": {"details": "gguf"}}.get(fault, ollama_show())
        if path == "/api/chat":
            if req.get("model") != srv.model:
                return 404, {"error": f"model '{req.get('model')}' not found"}
            if fault == "ok":
                return 200, (ollama_chat(srv.model, srv.answer_for(req), prompt_eval_count=50, eval_count=3)
                             if req.get("messages") else ollama_chat(srv.model, "", "load"))
            message = {"empty_choices": None, "malformed_choices": "oops", "no_content": {"role": "assistant"},
                       "wrong_types": {"role": "assistant", "content": 42}}[fault]
            return 200, {"model": srv.model, **OLLAMA_DONE, **({"message": message} if message is not None else {})}
        return 404, {"error": "not found"}
