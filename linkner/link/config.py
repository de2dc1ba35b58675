"""Typed configuration of the linking step: which LLM to ask (:class:`LLMConfig`) and how to use it
(:class:`LinkConfig`).

Both are plain dataclasses so that :mod:`linkner.configio` can read them from TOML/YAML/JSON and write
the resolved values beside every result. Validation happens here, once, so that a typo in a flag fails
before any model is loaded or any server is contacted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from linkner.errors import ConfigError

BACKENDS = ("llama-cpp", "openai", "ollama")
PROTOCOLS = ("honest", "paper")
UNCERTAINTY_METHODS = ("confidence", "entropy", "mc_dropout", "evidential")
STRUCTURED_MODES = ("auto", "json_schema", "json_object", "off")


def cache_dir() -> Path:
    """Where assembled model files and the answer cache live: ``$LINKNER_CACHE`` or ``~/.cache/linkner``."""
    return Path(os.environ.get("LINKNER_CACHE") or Path.home() / ".cache" / "linkner")


@dataclass
class LLMConfig:
    """One LLM endpoint and its decoding options.

    Decoding defaults are deterministic (temperature 0, fixed seed, fixed context size): the answer cache
    is only meaningful when the same prompt gives the same answer. ``timeout_s`` bounds one request,
    ``connect_timeout_s`` bounds the start-up health check (so a server that is down is reported in
    seconds), ``load_timeout_s`` bounds the first call that may load a model (Ollama cold start).
    """

    backend: str = "llama-cpp"
    model: str = "qwen2.5-coder-1.5b"
    base_url: str | None = None  # openai; else $OPENAI_BASE_URL
    api_key: str | None = None  # openai; else $OPENAI_API_KEY (never written to result files)
    host: str | None = None  # ollama; else $OLLAMA_HOST, else http://127.0.0.1:11434
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 32
    n_ctx: int = 2048
    n_threads: int | None = None  # llama-cpp; None = all cores
    keep_alive: str = "30m"  # ollama
    structured: str = "auto"
    timeout_s: float = 60.0
    connect_timeout_s: float = 3.0
    load_timeout_s: float = 180.0
    retries: int = 3
    backoff_s: float = 0.5
    concurrency: int = 1
    max_consecutive_errors: int = 5

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown LLM backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.structured not in STRUCTURED_MODES:
            raise ConfigError(f"structured must be one of {', '.join(STRUCTURED_MODES)}, not {self.structured!r}")
        if not self.model:
            raise ConfigError("an LLM model is needed (--model)")
        for name in ("max_tokens", "n_ctx", "concurrency", "max_consecutive_errors"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.retries < 0 or self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ConfigError("retries must be >= 0 and timeouts > 0")

    def resolved(self) -> LLMConfig:
        """Fill endpoint fields from the environment (flags win over environment variables)."""
        return replace(
            self,
            base_url=self.base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=self.api_key or os.environ.get("OPENAI_API_KEY"),
            host=self.host or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434",
        )

    def public(self) -> dict:
        """The config as written to result files: the API key is redacted."""
        from linkner.configio import to_dict

        d = to_dict(self)
        if d.get("api_key"):
            d["api_key"] = "***"
        return d

    def decoding_options(self) -> dict:
        """The options that change answers; they are part of every cache key."""
        return {"temperature": self.temperature, "seed": self.seed, "max_tokens": self.max_tokens,
                "n_ctx": self.n_ctx, "structured": self.structured}


@dataclass
class LinkConfig:
    """How entities are routed, prompted, merged and scored.

    ``threshold`` is a number (route entities whose uncertainty is above it) or ``"auto"`` (tune it on
    ``dev_predictions`` to maximise LinkNER F1). ``max_routed`` (a fraction of all entities) and
    ``max_calls`` cap the routed set to its most uncertain entities. ``protocol="honest"`` keeps gold out
    of routing, prompts and merging; ``"paper"`` reproduces the original evaluation for comparison.

    Tuning asks the LLM about the most uncertain dev entities only. By default it asks the same *fraction*
    of the dev entities as the test budget allows (so a tiny test budget makes a tiny, noisy dev curve);
    ``tune_max_calls`` decouples the two: ask up to that many dev entities, whatever the test budget.
    """

    threshold: str = "0.4"
    uncertainty: str = "confidence"
    dataset: str | None = None
    shots: int = 0
    demos_from: str | None = None
    retrieve: bool = False
    max_routed: float | None = None
    max_calls: int | None = None
    tune_max_calls: int | None = None  # dev LLM calls while tuning τ; default: the test budget's fraction
    protocol: str = "honest"
    dev_predictions: str | None = None
    seed: int = 13
    cache: str | None = None  # answer cache file; default <cache_dir>/llm-answers.jsonl
    llm: LLMConfig = field(default_factory=LLMConfig)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}")
        if self.uncertainty not in UNCERTAINTY_METHODS:
            raise ConfigError(f"uncertainty must be one of {', '.join(UNCERTAINTY_METHODS)}, not {self.uncertainty!r}")
        self.threshold = str(self.threshold)
        if self.threshold != "auto":
            try:
                float(self.threshold)
            except ValueError:
                raise ConfigError(f"threshold must be a number or 'auto', not {self.threshold!r}") from None
        if self.threshold == "auto" and not self.dev_predictions:
            raise ConfigError("--threshold auto needs --dev-predictions DEV.jsonl (dev predictions with gold) to tune on")
        if self.shots < 0:
            raise ConfigError("shots must be >= 0")
        if self.shots > 0 and not self.demos_from:
            raise ConfigError("--shots > 0 needs --demos-from FILE (a train or dev file with gold entities)")
        if self.max_routed is not None and not 0.0 <= self.max_routed <= 1.0:
            raise ConfigError("max_routed is a fraction of the entities, between 0 and 1")
        if self.max_calls is not None and self.max_calls < 0:
            raise ConfigError("max_calls must be >= 0")
        if self.tune_max_calls is not None and self.tune_max_calls < 0:
            raise ConfigError("tune_max_calls must be >= 0")

    @property
    def tau(self) -> float | None:
        """The fixed threshold, or ``None`` when it is tuned."""
        return None if self.threshold == "auto" else float(self.threshold)

    def cache_path(self) -> Path:
        return Path(self.cache) if self.cache else cache_dir() / "llm-answers.jsonl"
