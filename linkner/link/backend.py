"""The one small protocol every LLM backend speaks, plus retries and the backend factory.

A backend does two things: ``health_check()`` (fail in seconds, with a message that says what to do,
before any work starts) and ``complete(request)`` (one chat completion, one attempt). Everything that is
the same for all backends — the answer cache, retries with back-off, the thread pool, parsing, counting
— lives in :mod:`linkner.link.classify`, so a new backend is ~50 lines and cannot get those wrong.

A backend signals a failure worth retrying (connection reset, timeout, 429, 5xx) with
:class:`TransientLLMError`; any other :class:`~linkner.errors.LLMError` stops the run.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from linkner.errors import LLMError
from linkner.link.config import LLMConfig

T = TypeVar("T")


class TransientLLMError(LLMError):
    """A failure that may go away if the same request is sent again a little later."""


@dataclass(frozen=True)
class LinkRequest:
    """One question to the LLM: chat messages and the allowed answers (as a JSON schema)."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs; hashable
    answer_schema: str  # JSON text of the answer schema (enum of options)

    @classmethod
    def of(cls, messages: list[dict], answer_schema: dict) -> LinkRequest:
        return cls(tuple((m["role"], m["content"]) for m in messages), json.dumps(answer_schema, sort_keys=True))

    def chat(self) -> list[dict]:
        return [{"role": r, "content": c} for r, c in self.messages]

    def schema(self) -> dict:
        return json.loads(self.answer_schema)


@dataclass
class Completion:
    """The raw result of one successful call."""

    text: str
    seconds: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict = field(default_factory=dict)


class Backend(Protocol):
    """An LLM that answers chat requests. ``identity`` names the exact model (it enters cache keys).

    ``health_check`` is called once, before the first request the cache cannot answer. A backend whose
    ``identity`` is only known after asking the server sets ``identity_needs_server = True`` and is
    checked before any key is computed.
    """

    name: str
    identity: str
    concurrency: int

    def health_check(self) -> None: ...

    def complete(self, request: LinkRequest) -> Completion: ...

    def close(self) -> None: ...


def cache_key(backend: Backend, request: LinkRequest, options: dict) -> str:
    """sha256 of everything that determines an answer: backend, model, prompt, schema, decoding options."""
    payload = json.dumps({"backend": backend.name, "model": backend.identity, "messages": request.messages,
                          "schema": request.answer_schema, "options": options}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def with_retries(fn: Callable[[], T], retries: int, backoff_s: float, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> T:
    """Call ``fn``; on :class:`TransientLLMError` try again up to ``retries`` times.

    Waits ``backoff_s * 2**attempt`` seconds with ±25 % jitter between attempts (so parallel workers do
    not hammer a recovering server in lock-step); the last error is re-raised.
    """
    rng = rng or random.Random()
    for attempt in range(retries + 1):
        try:
            return fn()
        except TransientLLMError:
            if attempt == retries:
                raise
            sleep(backoff_s * (2**attempt) * rng.uniform(0.75, 1.25))
    raise AssertionError("unreachable")


def make_backend(cfg: LLMConfig) -> Backend:
    """Build the backend named by ``cfg.backend`` (client libraries are imported only here, lazily)."""
    cfg = cfg.resolved()
    if cfg.backend == "llama-cpp":
        from linkner.link.llamacpp import LlamaCppBackend

        return LlamaCppBackend(cfg)
    if cfg.backend == "openai":
        from linkner.link.openai_chat import OpenAIBackend

        return OpenAIBackend(cfg)
    if cfg.backend == "ollama":
        from linkner.link.ollama_chat import OllamaBackend

        return OllamaBackend(cfg)
    raise LLMError(f"unknown backend {cfg.backend!r}")
