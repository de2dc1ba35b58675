"""``linkner link`` as a function: predictions in, ``linked.jsonl`` + ``metrics.json`` out.

Order of work: read and validate everything (predictions, dev predictions, demonstrations), tune τ on
dev if asked, route, ask (cached, resumable; the LLM's health check runs before the first uncached
request), merge, score, write. Gold is
split off the records first; under the honest protocol it is used only by the scorer and by τ tuning
on dev, never by routing, prompts or merging of the evaluated file.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from linkner import __version__
from linkner.configio import to_dict
from linkner.data.readers import read_jsonl
from linkner.data.types import Entity, Sentence
from linkner.data.writers import write_jsonl
from linkner.errors import DataError
from linkner.link.backend import Backend, LinkRequest, make_backend
from linkner.link.cache import AnswerCache
from linkner.link.classify import CallStats, classify
from linkner.link.config import LinkConfig
from linkner.link.demos import DemoBank, load_bank
from linkner.link.merge import NOT_ROUTED, contributions, merge, n_gold_for, score
from linkner.link.parse import Decision
from linkner.link.prompts import Schema, build_messages, resolve_schema
from linkner.link.routing import Item, budget_cap, by_uncertainty, collect_items, select, tune_threshold

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class LinkResult:
    linked: list[Sentence]
    metrics: dict


def split_gold(sentences: list[Sentence], protocol: str) -> tuple[list[Sentence], list[set] | None]:
    """Sentences without any gold field, and the gold entity sets (``None`` if the file has no gold).

    ``gold_scored`` (the model's scores of gold spans it did not output) is gold-derived too, so only the
    paper protocol keeps it.
    """
    has_gold = any("gold" in s.meta for s in sentences)
    gold = [{(int(g["start"]), int(g["end"]), g["label"]) for g in s.meta.get("gold") or []} for s in sentences]
    drop = {"gold"} | ({"gold_scored"} if protocol == "honest" else set())
    clean = [replace(s, meta={k: v for k, v in s.meta.items() if k not in drop}) for s in sentences]
    return clean, (gold if has_gold else None)


def label_set(sentences: list[Sentence]) -> list[str]:
    """The local model's label set: the keys of its probability tables, else the labels it output."""
    labels: set[str] = set()
    for s in sentences[:200]:
        model = s.meta.get("model") or {}
        if isinstance(model.get("labels"), list):
            labels.update(model["labels"])
        for e in s.entities:
            labels.add(e.label)
            labels.update((e.extra.get("probs") or {}).keys())
    labels.discard("O")
    return sorted(labels)


def dataset_hint(sentences: list[Sentence]) -> str | None:
    for s in sentences[:1]:
        model = s.meta.get("model") or {}
        return model.get("dataset") or model.get("data")
    return None


def _load_predictions(path: str | Path, what: str) -> list[Sentence]:
    sentences = read_jsonl(path)
    if not sentences:
        raise DataError(f"{what} {path} holds no sentences")
    return sentences


class Linker:
    """Builds requests for items and turns the backend's answers into decisions."""

    def __init__(self, cfg: LinkConfig, schema: Schema, backend: Backend, cache: AnswerCache, bank: DemoBank | None):
        self.cfg, self.schema, self.backend, self.cache, self.bank = cfg, schema, backend, cache, bank
        self.fixed = bank.render(bank.fixed) if bank and not bank.retrieve else []
        self.stats = CallStats()
        self.ready = False

    def ensure_ready(self) -> None:
        """The backend's health check, once, before its first real call (see :func:`run_link`)."""
        if not self.ready:
            self.backend.health_check()
            self.ready = True

    def request(self, sentence: Sentence, entity: Entity) -> LinkRequest:
        query = self.bank.render(self.bank.for_query(sentence)) if self.bank and self.bank.retrieve else []
        return LinkRequest.of(build_messages(self.schema, sentence, entity, self.fixed, query), self.schema.answer_schema())

    def decide(self, sentences: list[Sentence], items: list[Item], routed: list[bool], phase: str,
               progress: Progress | None = None) -> tuple[list[Decision], CallStats]:
        """A decision per item (``NOT_ROUTED`` where not routed) and the cost of getting them."""
        idx = [i for i, r in enumerate(routed) if r]
        requests = [self.request(sentences[items[i].sentence], items[i].entity) for i in idx]
        on = (lambda d, t: progress(phase, d, t)) if progress else None
        answers, stats = classify(self.backend, requests, self.schema, self.cache, self.cfg.llm, on,
                                  ensure_ready=self.ensure_ready)
        self.stats = self.stats.merge(stats)
        decisions = [NOT_ROUTED] * len(items)
        for i, a in zip(idx, answers):
            decisions[i] = a.decision
        return decisions, stats


def dev_cap(cfg: LinkConfig, n_dev_items: int, n_test_items: int) -> int | None:
    """How many dev items tuning may ask about (``None``: all).

    ``tune_max_calls`` wins; otherwise the test budget is carried over as a fraction, since the curve is
    only needed up to the routed share the test run may use.
    """
    if cfg.tune_max_calls is not None:
        return min(cfg.tune_max_calls, n_dev_items)
    fraction = None
    if cfg.max_routed is not None or cfg.max_calls is not None:
        fraction = min(cfg.max_routed if cfg.max_routed is not None else 1.0,
                       (cfg.max_calls / n_test_items) if cfg.max_calls is not None and n_test_items else 1.0)
    return budget_cap(n_dev_items, fraction, None)


def _tune(linker: Linker, cfg: LinkConfig, n_test_items: int, progress: Progress | None) -> tuple[float, dict]:
    dev = _load_predictions(cfg.dev_predictions, "dev predictions")
    clean, gold = split_gold(dev, cfg.protocol)
    if gold is None:
        raise DataError(f"{cfg.dev_predictions} has no 'gold' entities; tuning τ needs dev predictions with gold")
    items = collect_items(clean, cfg.uncertainty, cfg.protocol, "dev predictions")
    cap = dev_cap(cfg, len(items), n_test_items)
    asked = [False] * len(items)
    for i in by_uncertainty(items)[: len(items) if cap is None else cap]:
        asked[i] = True
    decisions, stats = linker.decide(clean, items, asked, "dev", progress)
    local = [contributions(it, NOT_ROUTED, gold, cfg.protocol) for it in items]
    linked = [contributions(it, d, gold, cfg.protocol) for it, d in zip(items, decisions)]
    tau, cuts = tune_threshold(items, local, linked, n_gold_for(items, gold, cfg.protocol), cap)
    best = next(c for c in cuts if c.tau == tau)
    report = {"dev_predictions": str(cfg.dev_predictions), "dev_items": len(items), "dev_cap": cap, "tau": tau,
              "dev_routed": best.routed, "dev_f1": best.f1, "dev_local_f1": cuts[0].f1, "llm": stats.as_dict(),
              "curve": [{"tau": c.tau, "routed": c.routed, "f1": round(c.f1, 6)} for c in cuts]}
    return tau, report


def versions() -> dict:
    out = {"linkner": __version__, "python": sys.version.split()[0]}
    for pkg in ("llama-cpp-python", "openai", "ollama"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def run_link(predictions: str | Path, cfg: LinkConfig, out_dir: str | Path | None = None, backend: Backend | None = None,
             progress: Progress | None = None) -> LinkResult:
    """Link ``predictions`` and, when ``out_dir`` is given, write ``linked.jsonl`` and ``metrics.json``."""
    t0 = time.perf_counter()
    sentences = _load_predictions(predictions, "predictions")
    clean, gold = split_gold(sentences, cfg.protocol)
    items = collect_items(clean, cfg.uncertainty, cfg.protocol)
    schema = resolve_schema(cfg.dataset or dataset_hint(sentences), label_set(sentences))
    bank = load_bank(cfg.demos_from, schema, cfg.shots, cfg.seed, cfg.retrieve) if cfg.shots > 0 else None
    own_backend = backend is None
    backend = backend or make_backend(cfg.llm)
    cache = AnswerCache(cfg.cache_path())
    try:
        linker = Linker(cfg, schema, backend, cache, bank)
        # The health check runs before the first uncached request, so a fully cached rerun needs neither
        # the server nor the model file. A backend whose cache keys depend on what the server reports
        # (Ollama: the model digest) is checked at once: its keys cannot be computed without it.
        if getattr(backend, "identity_needs_server", False):
            linker.ensure_ready()
        tuning = None
        tau = cfg.tau
        if tau is None:
            tau, tuning = _tune(linker, cfg, len(items), progress)
        cap = budget_cap(len(items), cfg.max_routed, cfg.max_calls)
        routed = select(items, tau, cap)
        decisions, stats = linker.decide(clean, items, routed, "link", progress)
    finally:
        cache.close()
        if own_backend:
            backend.close()
    linked = merge(sentences, items, decisions, cfg.uncertainty)
    n_routed = sum(routed)
    kinds = Counter(d.kind for d in decisions if d is not NOT_ROUTED)
    metrics = {
        "protocol": cfg.protocol,
        "predictions": str(predictions),
        "schema": schema.name, "options": schema.options,
        "uncertainty": cfg.uncertainty,
        "threshold": {"requested": cfg.threshold, "tau": tau, "tuning": tuning},
        "routing": {"items": len(items), "routed": n_routed, "routed_fraction": n_routed / len(items) if items else 0.0,
                    "cap": cap, "decisions": dict(sorted(kinds.items()))},
        "llm": {**stats.as_dict(), "seconds_per_routed_entity": round(stats.llm_seconds / n_routed, 4) if n_routed else None,
                "cache_file": str(cfg.cache_path()), "model_identity": backend.identity},
        "llm_total_with_tuning": linker.stats.as_dict(),
        "scores": score(clean, linked, items, decisions, gold, cfg.protocol) if gold is not None else None,
        "config": {**to_dict(cfg), "llm": cfg.llm.resolved().public()},
        "versions": versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "seconds_total": round(time.perf_counter() - t0, 3),
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(linked, out / "linked.jsonl")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return LinkResult(linked, metrics)
