"""The one small protocol every LLM backend speaks, plus retries and the backend factory.

A backend does two things: ``health_check()`` (fail in seconds, with a message that says what to do,
before any work starts) and ``complete(request)`` (one chat completion, one attempt). Everything that is
the same for all backends — the answer cache, retries with back-off, the thread pool, parsing, counting
— lives in :mod:`linkner.link.classify`, so a new backend is ~50 lines and cannot get those wrong.

A backend signals a failure worth retrying (connection reset, timeout, 429, 5xx, a reply that is not
the JSON it should be) with :class:`TransientLLMError`; any other :class:`~linkner.errors.LLMError`
stops the run.
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

T = TypeVar("T")


class TransientLLMError(LLMError):
    """A failure that may go away if the same request is sent again a little later."""


class MalformedResponse(TransientLLMError):
    """The server answered, but not with what the protocol promises (not JSON, not UTF-8, no choices,
    no message text). Transient for one request: a proxy's error page or an overloaded server's hiccup
    may pass; if it does not, the request is counted as an error and the entity keeps its local label.
    At the health check the backend turns it into one :class:`LLMError` message instead."""


def json_object(body: bytes, what: str) -> dict:
    """``body`` decoded as a JSON object, or :class:`MalformedResponse` saying what came instead.

    Decoding is done here, from bytes, rather than by a client library, so that every way a body can be
    wrong (HTML error page, bytes that are not UTF-8, a JSON list) ends in the same error type.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise MalformedResponse(f"{what} is not JSON ({type(exc).__name__}; it starts {peek(body)})") from None
    if not isinstance(data, dict):
        raise MalformedResponse(f"{what} is a JSON {type(data).__name__}, not an object (it starts {peek(body)})")
    return data


def peek(body: bytes | str, n: int = 60) -> str:
    """The start of a reply body, printable whatever its bytes, for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return repr(text[:n]) + ("…" if len(text) > n else "")


def token_count(value: object) -> int | None:
    """A usage count as reported by a server, or ``None`` when it is missing or not a count."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True)
class LinkRequest:
    """One question to the LLM: chat messages and the allowed answers (as a JSON schema)."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs; hashable
    answer_schema: str  # JSON text of the answer schema (enum of options)
    # multiple choice (fusion): the offered option keys whose first-token probabilities are wanted;
    # empty for a free answer. A backend that cannot score them answers in text (parsed as a fallback).
    choices: tuple[str, ...] = ()
    # every key of the schema, offered or not: a token is credited to a key only if it starts no other
    # key of the schema (a token of an option that was not offered must not count for one that was)
    key_space: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys tokens are matched against (:attr:`key_space`, or the choices when none is given)."""
        return self.key_space or self.choices

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
    option_probs: dict[str, float] | None = None  # choice key -> probability (sums to 1) when scored


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
