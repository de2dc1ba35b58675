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

from linkner.cache import cache_root
from linkner.configio import check_fields
from linkner.errors import ConfigError
from linkner.uncertainty import METHODS as UNCERTAINTY_METHODS

BACKENDS = ("llama-cpp", "openai", "ollama")
PROTOCOLS = ("honest", "paper")
DECISIONS = ("fuse", "replace")
OPTION_KEYS = ("words", "letters")  # how a fused question's options are answered (linkner.link.options)
STRUCTURED_MODES = ("auto", "json_schema", "json_object", "off")
TUNE_SAMPLES = ("random", "uncertain")
CANDIDATES = ("none", "near-miss", "boundary", "all")  # linkner.link.candidates.KINDS
CANDIDATE_FLOOR = 0.05  # linkner.models.predict.NEAR_MISS_FLOOR


def cache_dir() -> Path:
    """Where assembled model files and the answer cache live: :func:`linkner.cache.cache_root`
    (``$LINKNER_CACHE``, else ``$XDG_CACHE_HOME/linkner``, else ``~/.cache/linkner``)."""
    return cache_root()


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
    n_threads: int | None = None  # llama-cpp; None = half the cores (see LlamaCppBackend.health_check)
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
        check_fields(self)  # types first: the range checks below must never meet a str or a float
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

    Tuning asks the LLM about a dev sample of its own size, ``tune_max_calls`` entities, never derived
    from the test budget (a tiny test budget used to make a tiny, noisy dev curve). ``tune_sample`` says
    which: ``random`` (whole dev sentences in a seeded random order, every entity in them) or
    ``uncertain`` (the most uncertain dev entities of the whole file); see
    :func:`linkner.link.routing.tuning_sample`. A cut is taken only if its paired-bootstrap lower bound of
    dev ΔF1 (``bootstrap_resamples`` resamples of dev sentences, seeded by ``seed``) is above 0, else
    nothing is routed. ``seed`` also draws the demonstrations and the dev sample, and seeds the bootstrap
    of the test scores.

    ``types`` is a file of the user's own type definitions (:mod:`linkner.link.types_file`); it replaces
    the built-in schema chosen by ``dataset``. Its content is checked against the predictions' labels
    before any backend is created; ``types_partial`` lets labels without a definition fall back to the
    generic "an entity of the type called X" wording instead of being an error.
    """

    threshold: str | float = "0.4"  # a number may be written unquoted in a config file; stored as str
    uncertainty: str = "confidence"
    dataset: str | None = None
    types: str | None = None  # the user's type definitions (TOML/YAML/JSON); overrides ``dataset``
    types_partial: bool = False  # labels without a definition get the generic wording instead of an error
    shots: int = 0
    demos_from: str | None = None
    retrieve: bool = False
    max_routed: float | None = None
    max_calls: int | None = None
    tune_max_calls: int | None = 200  # dev entities asked while tuning τ (None: all of them)
    # uncertain (default): the tune_max_calls most uncertain entities of the whole dev predictions file
    # are asked, so every call lands where routing can happen; the dev file itself must then represent
    # dev (the whole split, or a seeded random sample as `linkner demo` and the studies write). random:
    # whole dev sentences in a seeded random order until the budget is spent (far less power for small
    # routed shares). See linkner.link.routing.tuning_sample.
    tune_sample: str = "uncertain"
    bootstrap_resamples: int = 1000  # paired bootstrap over sentences (dev cuts and test scores)
    protocol: str = "honest"
    dev_predictions: str | None = None
    seed: int = 13
    cache: str | None = None  # answer cache file; default <cache_dir>/llm-answers.jsonl
    # fuse: a multiple-choice question, its option probabilities pooled with the local ones (linkner.link.fusion);
    # replace: the LLM's free answer replaces the local label (the paper's rule, kept as the ablation)
    decision: str = "fuse"
    options_k: int | None = None  # fuse: the local top-k labels offered (plus "not an entity"); None: all
    # fuse: how an option is answered (linkner.link.options): words (the type's word, scored by its first
    # token) or letters (A, B, …; the prompts of the runs made before word keys)
    option_keys: str = "words"
    fusion_weight: float | None = None  # fuse: a fixed w instead of fitting it on dev
    # honest candidates (linkner.link.candidates): near-miss spans and boundary variants of routed entities,
    # gated on dev like τ (all: both considered, the gate uses none that does not help on dev)
    candidates: str = "all"
    candidate_q: float | None = None  # a fixed near-miss q (entity probability) instead of the dev grid
    llm: LLMConfig = field(default_factory=LLMConfig)

    def __post_init__(self) -> None:
        check_fields(self)
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
        if self.types is not None and not self.types.strip():  # its type was checked by check_fields
            raise ConfigError("types must be the path of a types file (TOML/YAML/JSON), not an empty string")
        if self.types_partial and self.types is None:
            raise ConfigError("--types-partial needs --types FILE (the definitions it completes)")
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
        if self.tune_sample not in TUNE_SAMPLES:
            raise ConfigError(f"tune_sample must be one of {', '.join(TUNE_SAMPLES)}, not {self.tune_sample!r}")
        if self.bootstrap_resamples < 1:
            raise ConfigError("bootstrap_resamples must be at least 1")
        if self.decision not in DECISIONS:
            raise ConfigError(f"decision must be one of {', '.join(DECISIONS)}, not {self.decision!r}")
        if self.options_k is not None and self.options_k < 1:
            raise ConfigError("options_k must be at least 1 (the local model's top label is always offered)")
        if self.option_keys not in OPTION_KEYS:
            raise ConfigError(f"option_keys must be one of {', '.join(OPTION_KEYS)}, not {self.option_keys!r}")
        if self.fusion_weight is not None and not 0.0 <= self.fusion_weight <= 1.0:
            raise ConfigError("fusion_weight is between 0 (local model only) and 1 (LLM only)")
        if self.candidates not in CANDIDATES:
            raise ConfigError(f"candidates must be one of {', '.join(CANDIDATES)}, not {self.candidates!r}")
        if self.candidate_q is not None and not CANDIDATE_FLOOR <= self.candidate_q <= 1.0:
            raise ConfigError(f"candidate_q is an entity probability between {CANDIDATE_FLOOR} (the floor "
                              "`linkner infer` writes near-misses at) and 1")

    @property
    def tau(self) -> float | None:
        """The fixed threshold, or ``None`` when it is tuned."""
        return None if self.threshold == "auto" else float(self.threshold)

    def cache_path(self) -> Path:
        return Path(self.cache) if self.cache else cache_dir() / "llm-answers.jsonl"
