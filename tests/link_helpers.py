"""Shared fixtures of the ``test_link_*`` tests: a small predictions file in the ``linkner infer``
contract, and a scripted fake backend (for parsing/fault tests only — real LLMs are used elsewhere)."""

from __future__ import annotations

import json
import socket
import time
from http.server import BaseHTTPRequestHandler
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
    user = request.messages[-1][1]
    return user.rsplit("[[", 1)[1].split("]]", 1)[0]


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
