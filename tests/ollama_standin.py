"""A minimal Ollama-API stand-in in front of a real OpenAI-compatible llama.cpp server.

No Ollama server can be installed on these machines (not on PyPI, npm or Debian; see offline-assets
§3.1), so the Ollama backend is tested through the official ``ollama`` client against this translator:
``/api/tags`` and ``/api/show`` describe the one model it serves, ``/api/chat`` becomes a
``/v1/chat/completions`` call (``format`` → llama.cpp's ``json_object`` + ``schema``; ``options`` →
temperature/seed/max_tokens, ``logprobs``/``top_logprobs`` passed through and
returned in Ollama's shape), and an empty ``messages`` list "loads" the model, as in Ollama.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer

from link_helpers import JSONHandler, ollama_chat, ollama_show, ollama_tags


def start(upstream: str, model: str) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``model`` (the upstream's model id) on a free port; returns the server and its URL."""

    class Handler(JSONHandler):
        def do_GET(self):
            if self.path != "/api/tags":
                return self._send(404, {"error": "not found"})
            self._send(200, ollama_tags(model))

        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if req.get("model") != model:
                return self._send(404, {"error": f"model '{req.get('model')}' not found"})
            if self.path == "/api/show":
                return self._send(200, ollama_show())
            if self.path != "/api/chat":
                return self._send(404, {"error": "not found"})
            if not req.get("messages"):
                return self._send(200, ollama_chat(model, "", "load"))
            opts = req.get("options") or {}
            body = {"model": model, "messages": req["messages"], "temperature": opts.get("temperature", 0.8),
                    "seed": opts.get("seed"), "max_tokens": opts.get("num_predict", 128)}
            if isinstance(req.get("format"), dict):
                body["response_format"] = {"type": "json_object", "schema": req["format"]}
            if req.get("logprobs"):  # Ollama >= 0.12 returns per-token log-probabilities when asked
                body.update(logprobs=True, top_logprobs=req.get("top_logprobs") or 0)
            t0 = time.time()
            up = urllib.request.Request(upstream + "/v1/chat/completions", json.dumps(body).encode(),
                                        {"Content-Type": "application/json"})
            with urllib.request.urlopen(up, timeout=120) as r:
                out = json.loads(r.read())
            usage = out.get("usage") or {}
            extra = {}
            if req.get("logprobs"):  # OpenAI's choices[0].logprobs.content → Ollama's top-level logprobs
                content = (out["choices"][0].get("logprobs") or {}).get("content") or []
                extra["logprobs"] = [{"token": c["token"], "logprob": c["logprob"],
                                      "top_logprobs": [{"token": t["token"], "logprob": t["logprob"]}
                                                       for t in c.get("top_logprobs") or []]} for c in content]
            self._send(200, ollama_chat(model, out["choices"][0]["message"]["content"],
                                        prompt_eval_count=usage.get("prompt_tokens"), eval_count=usage.get("completion_tokens"),
                                        total_duration=int((time.time() - t0) * 1e9), **extra))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
