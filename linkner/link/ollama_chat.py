"""Ollama backend through the official ``ollama`` client (native ``/api/chat``).

Why native rather than Ollama's ``/v1``: ``format`` takes a JSON schema (constrained decoding),
``options`` pin ``temperature``/``seed``/``num_ctx`` (all three are needed for repeatable answers), and
``keep_alive`` keeps the model loaded between calls. Start-up is checked in two steps with separate
timeouts (field notes §5.2): ``/api/tags`` within ``connect_timeout_s`` (server down → a message in
seconds), then ``/api/show`` (model missing → "ollama pull MODEL"), then an empty chat that loads the
model within ``load_timeout_s`` (a cold load can take a minute; a short per-request timeout would
abort it).

The ``ollama`` client decodes and validates every reply itself (pydantic models), so a reply that is not
Ollama's JSON surfaces as a ``ValueError`` (``JSONDecodeError``, ``UnicodeDecodeError``, pydantic's
``ValidationError``) or a ``TypeError`` (a JSON list where an object belongs). :meth:`_call` is the one
place where those become a :class:`MalformedResponse` (a chat request: retried, then counted) and
:meth:`health_check` turns them into one :class:`LLMError` message.
"""

from __future__ import annotations

import time

from linkner.errors import LLMError
from linkner.link.backend import Completion, LinkRequest, MalformedResponse, TransientLLMError
from linkner.link.config import LLMConfig
from linkner.link.first_token import choice_probs, unique_candidates


def first_token_logprobs(resp) -> list[tuple[str, float]]:
    """``(token, logprob)`` of the first generated token and its alternatives, from an Ollama chat reply
    (``logprobs[0]`` and its ``top_logprobs``; servers before Ollama 0.12 send none, and the answer is then
    parsed like any other backend's)."""
    first = (getattr(resp, "logprobs", None) or [None])[0]
    if first is None:
        return []
    return unique_candidates([(first.token, first.logprob)] + [(t.token, t.logprob) for t in (first.top_logprobs or [])])


class OllamaBackend:
    name = "ollama"
    identity_needs_server = True  # the model digest (part of every cache key) comes from the server

    def __init__(self, cfg: LLMConfig):
        try:
            import httpx
            import ollama
        except ImportError:
            raise LLMError("the ollama backend needs the ollama client: pip install ollama") from None
        self.cfg = cfg
        self._ollama, self._httpx = ollama, httpx
        self.host = cfg.host
        self.concurrency = cfg.concurrency
        self.identity = f"{cfg.model}@{self.host}"
        self.client = ollama.Client(host=self.host, timeout=httpx.Timeout(cfg.timeout_s, connect=cfg.connect_timeout_s))

    def _down(self, exc: Exception) -> LLMError:
        return LLMError(f"no Ollama server answers at {self.host} ({type(exc).__name__}); start it with `ollama serve`, "
                        "or point --host / OLLAMA_HOST at a running one")

    def _call(self, endpoint: str, fn):
        """Run one client call; a reply the client cannot decode becomes a :class:`MalformedResponse`."""
        try:
            return fn()
        except (ValueError, TypeError) as exc:
            why = ": ".join(str(exc).splitlines()[:2])[:160]  # pydantic: "1 validation error for X" + the field
            raise MalformedResponse(f"{self.host}{endpoint} answered with something that is not Ollama's JSON "
                                    f"({type(exc).__name__}: {why})") from None

    def health_check(self) -> None:
        try:
            self._check()
        except MalformedResponse as exc:  # garbage at start-up is not worth retrying: say so once
            raise LLMError(f"{exc}; is {self.host} an Ollama server?") from None

    def _check(self) -> None:
        o, httpx = self._ollama, self._httpx
        quick = o.Client(host=self.host, timeout=self.cfg.connect_timeout_s)
        try:
            tags = self._call("/api/tags", quick.list)
        except (ConnectionError, httpx.HTTPError) as exc:
            raise self._down(exc) from None
        except o.ResponseError as exc:
            raise LLMError(f"{self.host}/api/tags failed (HTTP {exc.status_code}: {exc.error}); is this an Ollama server?") from None
        names = {m.model for m in tags.models if m.model}
        try:
            self._call("/api/show", lambda: quick.show(self.cfg.model))
        except o.ResponseError as exc:
            if exc.status_code == 404:
                have = f"; it has: {', '.join(sorted(names))}" if names else ""
                raise LLMError(f"model {self.cfg.model!r} is not on the Ollama server at {self.host}; "
                               f"run `ollama pull {self.cfg.model}`{have}") from None
            raise LLMError(f"{self.host}/api/show failed (HTTP {exc.status_code}: {exc.error})") from None
        except (ConnectionError, httpx.HTTPError) as exc:
            raise self._down(exc) from None
        digest = next((m.digest for m in tags.models if m.model in (self.cfg.model, f"{self.cfg.model}:latest")), None)
        if digest:  # a re-pulled model is a different model: keep their cached answers apart
            self.identity = f"{self.cfg.model}@{digest[:16]}"
        loader = o.Client(host=self.host, timeout=httpx.Timeout(self.cfg.load_timeout_s, connect=self.cfg.connect_timeout_s))
        try:
            self._call("/api/chat", lambda: loader.chat(model=self.cfg.model, messages=[], keep_alive=self.cfg.keep_alive))
        except (ConnectionError, httpx.HTTPError, o.ResponseError) as exc:
            raise LLMError(f"Ollama at {self.host} could not load {self.cfg.model} within {self.cfg.load_timeout_s:.0f} s: {exc}") from None

    def complete(self, request: LinkRequest) -> Completion:
        o, httpx = self._ollama, self._httpx
        options = {"temperature": self.cfg.temperature, "seed": self.cfg.seed, "num_ctx": self.cfg.n_ctx,
                   "num_predict": self.cfg.max_tokens}
        fmt = None if self.cfg.structured == "off" else request.schema()
        scoring = {}
        if request.choices:  # multiple choice (fusion): one key token, scored by the first token's log-probabilities
            fmt, options["num_predict"] = None, 1
            scoring = {"logprobs": True, "top_logprobs": 20}
        t0 = time.perf_counter()
        try:
            resp = self._call("/api/chat", lambda: self.client.chat(
                model=self.cfg.model, messages=request.chat(), format=fmt, options=options, keep_alive=self.cfg.keep_alive,
                **scoring))
        except (ConnectionError, httpx.TransportError) as exc:
            raise TransientLLMError(f"{self.host}: {type(exc).__name__}: {exc}") from None
        except o.ResponseError as exc:
            if exc.status_code == 429 or exc.status_code >= 500:
                raise TransientLLMError(f"{self.host}: HTTP {exc.status_code}: {exc.error}") from None
            raise LLMError(f"{self.host} refused the request (HTTP {exc.status_code}): {exc.error}") from None
        if not isinstance(resp.message.content, str):
            raise MalformedResponse(f"{self.host}/api/chat answered without a message text")
        completion = Completion(resp.message.content, time.perf_counter() - t0, resp.prompt_eval_count, resp.eval_count)
        if request.choices:
            completion.option_probs, mass = choice_probs(first_token_logprobs(resp), request.choices, request.keys)
            completion.extra["choice_mass"] = round(mass, 6)
        return completion

    def close(self) -> None:
        self.client._client.close()
