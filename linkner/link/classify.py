"""Ask a backend about many entities: cache first, then fresh calls (serial or in a thread pool), every
answer stored the moment it arrives, retries with back-off, and parsing into decisions.

Failure policy (field notes §5.2): a request that still fails after its retries keeps the local label
(decision ``error``, never cached, so a rerun tries again); a streak of ``max_consecutive_errors``
failures means the server is gone, and the run stops with an :class:`LLMError` — the answers received
so far are already in the cache, so rerunning the same command resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field

from linkner.errors import LLMError
from linkner.link.backend import Backend, LinkRequest, TransientLLMError, cache_key, with_retries
from linkner.link.cache import AnswerCache
from linkner.link.config import LLMConfig
from linkner.link.decision import ERROR, Decision
from linkner.link.parse import parse_answer
from linkner.link.prompts import Schema


@dataclass
class LinkAnswer:
    """The LLM's answer to one request, parsed; ``cached`` tells whether it came from the cache."""

    key: str
    raw: str | None
    decision: Decision
    seconds: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False
    error: str | None = None
    option_probs: dict[str, float] | None = None  # multiple choice: choice key -> probability, when scored
    evaluated_tokens: int | None = None  # prompt tokens the call evaluated after the reused prefix (in process)


@dataclass
class CallStats:
    """Cost of one classify run. ``llm_seconds`` is the recorded latency of every answer used (cached
    answers keep the latency of the call that produced them), so a cached rerun still reports cost."""

    requests: int = 0
    unique: int = 0
    calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_seconds: float = 0.0
    fresh_seconds: float = 0.0
    wall_seconds: float = 0.0
    # In-process scoring evaluates only the tokens after the prefix shared with the previous prompt; answers
    # that recorded how many (cache records since 2026-12-01) are counted here with their seconds, so the
    # cost of a question can be split into how much is evaluated and how fast (tokens per second).
    evaluated_tokens: int = 0
    evaluated_answers: int = 0
    evaluated_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def merge(self, other: CallStats) -> CallStats:
        d = {k: getattr(self, k) + getattr(other, k) for k in asdict(self) if k != "extra"}
        return CallStats(**d, extra={**self.extra, **other.extra})

    def as_dict(self) -> dict:
        d = asdict(self)
        d["llm_seconds"] = round(d["llm_seconds"], 4)
        d["fresh_seconds"] = round(d["fresh_seconds"], 4)
        d["wall_seconds"] = round(d["wall_seconds"], 4)
        d["evaluated_seconds"] = round(d["evaluated_seconds"], 4)
        d["seconds_per_answer"] = round(self.llm_seconds / self.unique, 4) if self.unique else None
        d["evaluated_tokens_per_second"] = (round(self.evaluated_tokens / self.evaluated_seconds, 1)
                                            if self.evaluated_seconds > 0 else None)
        return d


def _record(backend: Backend, c) -> dict:
    rec = {"backend": backend.name, "model": backend.identity, "raw": c.text, "seconds": round(c.seconds, 4),
           "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens}
    if getattr(c, "option_probs", None) is not None:  # multiple choice: what fusion needs, so a rerun asks nothing
        rec["option_probs"] = c.option_probs
        rec["choice_mass"] = c.extra.get("choice_mass")
    if isinstance(c.extra.get("reused_tokens"), int) and c.prompt_tokens is not None:
        rec["evaluated_tokens"] = c.prompt_tokens - c.extra["reused_tokens"]  # what this call really computed
    return rec


def classify(backend: Backend, requests: list[LinkRequest], schema: Schema, cache: AnswerCache, cfg: LLMConfig,
             on_answer: Callable[[int, int], None] | None = None,
             sleep: Callable[[float], None] = time.sleep,
             ensure_ready: Callable[[], None] | None = None) -> tuple[list[LinkAnswer], CallStats]:
    """Answers in the order of ``requests`` and the run's :class:`CallStats`.

    Identical requests are asked once. ``on_answer(done, total)`` is called after every answer (cached
    answers are reported at once), for progress bars. ``ensure_ready`` (the backend's health check) is
    called once before the first request that the cache cannot answer — never when all are cached.
    """
    t0 = time.perf_counter()
    options = cfg.decoding_options()
    # multiple-choice scoring is another way of asking (one token, probabilities kept): its own keys
    keys = [cache_key(backend, r, {**options, "scoring": "choices"} if r.choices else options) for r in requests]
    first: dict[str, LinkRequest] = {}
    for k, r in zip(keys, requests):
        first.setdefault(k, r)
    pending = [k for k in first if k not in cache]
    fresh = set(pending)
    stats = CallStats(requests=len(requests), unique=len(first), cache_hits=len(first) - len(pending))
    errors: dict[str, str] = {}
    done = stats.cache_hits
    if on_answer:
        on_answer(done, len(first))
    streak = 0

    def call(key: str) -> dict:
        c = with_retries(lambda: backend.complete(first[key]), cfg.retries, cfg.backoff_s, sleep)
        return cache.put(key, _record(backend, c))

    def settle(key: str, result: dict | None, err: TransientLLMError | None) -> None:
        nonlocal done, streak
        done += 1
        if err is None:
            streak = 0
            stats.calls += 1
            stats.fresh_seconds += result["seconds"]
        else:
            streak += 1
            errors[key] = str(err)
            if streak >= cfg.max_consecutive_errors:
                raise LLMError(f"{backend.name}: {streak} requests in a row failed after {cfg.retries} retries "
                               f"(last: {err}); the {stats.calls} answers received are cached, rerun to resume")
        if on_answer:
            on_answer(done, len(first))

    if pending and ensure_ready is not None:
        ensure_ready()
    if backend.concurrency <= 1 or len(pending) <= 1:
        for key in pending:
            try:
                settle(key, call(key), None)
            except TransientLLMError as exc:
                settle(key, None, exc)
    else:
        _run_pool(pending, call, settle, backend.concurrency)

    answers = []
    for k in keys:
        rec = cache.get(k)
        if rec is None:
            answers.append(LinkAnswer(k, None, Decision(ERROR), error=errors.get(k, "no answer")))
            continue
        answers.append(LinkAnswer(k, rec.get("raw"), parse_answer(rec.get("raw"), schema), rec.get("seconds") or 0.0,
                                  rec.get("prompt_tokens"), rec.get("completion_tokens"), cached=k not in fresh,
                                  option_probs=rec.get("option_probs"),
                                  evaluated_tokens=rec["evaluated_tokens"] if isinstance(rec.get("evaluated_tokens"), int)
                                  else None))
    seen = set()
    for a in answers:
        if a.key in seen or a.error:
            continue
        seen.add(a.key)
        stats.llm_seconds += a.seconds
        stats.prompt_tokens += a.prompt_tokens or 0
        stats.completion_tokens += a.completion_tokens or 0
        if a.evaluated_tokens is not None:
            stats.evaluated_tokens += a.evaluated_tokens
            stats.evaluated_answers += 1
            stats.evaluated_seconds += a.seconds
    stats.errors = len(errors)
    stats.wall_seconds = time.perf_counter() - t0
    return answers, stats


def _run_pool(pending: list[str], call, settle, workers: int) -> None:
    """Run ``call`` over ``pending`` with ``workers`` threads, settling each result in the caller's thread.

    At most ``workers`` requests are in flight, so an interrupt or a fatal error abandons only those.
    """
    queue = list(reversed(pending))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="linkner-llm") as pool:
        running = {}
        try:
            while queue or running:
                while queue and len(running) < workers:
                    key = queue.pop()
                    running[pool.submit(call, key)] = key
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    key = running.pop(fut)
                    try:
                        settle(key, fut.result(), None)
                    except TransientLLMError as exc:
                        settle(key, None, exc)
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
