"""``linkner link`` as a function: predictions in, ``linked.jsonl`` + ``metrics.json`` out.

Order of work: read and validate everything (predictions, type definitions, dev predictions, demonstrations;
refuse dev or demonstration files that hold the evaluated sentences), tune τ on dev if asked, route, ask (cached, resumable; the LLM's health check runs before the first uncached
request), ask about the honest candidates (near-miss spans and boundary variants, gated on dev:
:mod:`linkner.link.candidate_gate`), merge, score, write. Gold is
split off the records first; under the honest protocol it is used only by the scorer and by τ tuning
on dev, never by routing, prompts or merging of the evaluated file.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from linkner.configio import to_dict
from linkner.data.predictions import gold_keys, model_info
from linkner.data.readers import read_jsonl
from linkner.data.types import Entity, Sentence
from linkner.data.writers import write_jsonl
from linkner.errors import DataError
from linkner.link import candidate_gate
from linkner.link.backend import Backend, LinkRequest
from linkner.link.backends import make_backend
from linkner.link.cache import AnswerCache
from linkner.link.classify import CallStats, classify
from linkner.link.config import LinkConfig
from linkner.link.decision import NOT_ROUTED, Decision
from linkner.link.demos import DemoBank, load_bank, refuse_leak
from linkner.link.merge import contributions, entity_sets, gold_label, merge, score
from linkner.link.options import MultipleChoice
from linkner.link.preflight import prediction_labels
from linkner.link.prompts import Schema, build_messages, resolve_schema
from linkner.link.routing import Item, budget_cap, collect_items, select, tau_to_json, tune_threshold, tuning_sample
from linkner.link.types_file import read_types, types_schema
from linkner.metrics import counts_record, paired_bootstrap
from linkner.outputs import write_text_atomic
from linkner.provenance import environment

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
    gold = [gold_keys(s) for s in sentences]
    drop = {"gold"} | ({"gold_scored"} if protocol == "honest" else set())
    clean = [replace(s, meta={k: v for k, v in s.meta.items() if k not in drop}) for s in sentences]
    return clean, (gold if has_gold else None)


def label_set(sentences: list[Sentence]) -> list[str]:
    """The local model's label set: its recorded schema and the keys of its probability tables, else the
    labels it output (:func:`linkner.link.preflight.prediction_labels`, which the up-front checks use too).

    Every sentence is looked at (cheap): a label seen only late in a file must not make a user's type
    definition for it look like a typo.
    """
    return sorted(prediction_labels(sentences)[0])


def dataset_hint(sentences: list[Sentence]) -> str | None:
    """The model's training data as its predictions record it (``None`` in files written before it was)."""
    return model_info(sentences[0]).dataset if sentences else None


def _load_predictions(path: str | Path, what: str) -> list[Sentence]:
    sentences = read_jsonl(path)
    if not sentences:
        raise DataError(f"{what} {path} holds no sentences")
    return sentences


class Linker:
    """Builds requests for items and turns the backend's answers into decisions."""

    def __init__(self, cfg: LinkConfig, schema: Schema, backend: Backend, cache: AnswerCache, bank: DemoBank | None,
                 wording: str = "full"):
        self.cfg, self.schema, self.backend, self.cache, self.bank = cfg, schema, backend, cache, bank
        self.fixed = bank.render(bank.fixed) if bank and not bank.retrieve else []
        # fuse: multiple-choice questions whose option probabilities are pooled with the local ones (``wording``:
        # how they end, options.WORDINGS; runs ask the full question, the wording study the others too)
        self.choice = (MultipleChoice(schema, cfg.options_k, cfg.fusion_weight, bank, cfg.option_keys, wording)
                       if cfg.decision == "fuse" else None)
        self.stats = CallStats()
        self.ready = False

    def ensure_ready(self) -> None:
        """The backend's health check, once, before its first real call (see :func:`run_link`)."""
        if not self.ready:
            self.backend.health_check()
            self.ready = True

    def request(self, sentence: Sentence, entity: Entity) -> LinkRequest:
        if self.choice is not None:
            return self.choice.request(sentence, entity)
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
            decisions[i] = a.decision if self.choice is None else self.choice.decide(items[i].entity, a)
        return decisions, stats

    def fit_fusion(self, items: list[Item], decisions: list[Decision], gold: list[set]) -> list[Decision]:
        """Fuse: fit w (and the parsed answers' reliability) on the dev answers, return the fused dev
        decisions, which τ tuning then scores. Replace: the decisions unchanged."""
        if self.choice is None:
            return decisions
        return self.choice.fit(decisions, [gold_label(it, gold) for it in items])

    def decision_report(self) -> dict:
        return {"mode": self.cfg.decision, **(self.choice.report() if self.choice is not None else {})}


def cut_cap(cfg: LinkConfig, n_sample_items: int, n_test_items: int) -> int | None:
    """The most sample items a dev cut may route: the test budget's share of them (``None``: no budget).

    Only the *candidate cuts* follow the test budget, never the dev sample's size: a cut routing a larger
    share than the test run may spend is no operating point the test run could realise.
    """
    if cfg.max_routed is None and cfg.max_calls is None:
        return None
    fraction = min(cfg.max_routed if cfg.max_routed is not None else 1.0,
                   (cfg.max_calls / n_test_items) if cfg.max_calls is not None and n_test_items else 1.0)
    return budget_cap(n_sample_items, fraction, None)


def _tune(linker: Linker, cfg: LinkConfig, dev: list[Sentence], n_test_items: int,
          progress: Progress | None) -> tuple[float, dict, candidate_gate.Setting, dict]:
    """Ask the LLM about the dev sample, score every cut with a bootstrap interval, choose (routing.py);
    then gate the candidates at that τ (candidate_gate.py)."""
    clean, gold = split_gold(dev, cfg.protocol)
    if gold is None:
        raise DataError(f"{cfg.dev_predictions} has no 'gold' entities; tuning τ needs dev predictions with gold")
    items = collect_items(clean, cfg.uncertainty, cfg.protocol, "dev predictions")
    sentences, asked = tuning_sample(items, len(clean), cfg.tune_max_calls, cfg.seed, cfg.tune_sample)
    decisions, stats = linker.decide(clean, items, asked, "dev", progress)
    decisions = linker.fit_fusion(items, decisions, gold)  # fuse: w fitted on these answers; replace: no-op
    keep = set(sentences)
    idx = [i for i, it in enumerate(items) if it.sentence in keep]
    sample = [items[i] for i in idx]
    local = [contributions(items[i], NOT_ROUTED, gold, cfg.protocol) for i in idx]
    linked = [contributions(items[i], decisions[i], gold, cfg.protocol) for i in idx]
    if cfg.protocol == "paper":  # the paper's gold count: the exported items that are gold
        golds = Counter(it.sentence for it in sample if gold_label(it, gold) != "O")
        golds = {s: golds.get(s, 0) for s in sentences}
    else:
        golds = {s: len(gold[s]) for s in sentences}
    n_asked = sum(asked)
    cap = cut_cap(cfg, len(sample), n_test_items)
    choice, cuts = tune_threshold(sample, local, linked, golds, n_asked if cap is None else min(cap, n_asked),
                                  cfg.bootstrap_resamples, cfg.seed)
    tau, c = choice.tau, choice.cut
    r6 = lambda x: round(x, 6)  # noqa: E731
    report = {"dev_predictions": str(cfg.dev_predictions), "dev_sentences": len(clean), "dev_items": len(items),
              "sample": {"mode": cfg.tune_sample, "seed": cfg.seed, "max_calls": cfg.tune_max_calls,
                         "sentences": len(sentences), "items": len(sample)},
              "dev_cap": n_asked, "cut_cap": cap, "tau": tau_to_json(tau), "route_none": c is None, "rule": choice.rule,
              "dev_routed": c.routed if c else 0,
              "dev_routed_fraction": sum(it.u > tau for it in items) / len(items) if items else 0.0,
              "dev_f1": (c or cuts[0]).f1, "dev_local_f1": cuts[0].f1, "dev_delta_f1": c.delta_f1 if c else 0.0,
              "dev_delta_f1_ci95": [c.lo, c.hi] if c else None,
              "bootstrap": {"resamples": cfg.bootstrap_resamples, "seed": cfg.seed, "unit": "sentence",
                            "sentences": len(sentences)},
              "llm": stats.as_dict(),
              "curve": [{"tau": x.tau, "routed": x.routed, "routed_fraction": r6(x.routed_fraction), "f1": r6(x.f1),
                         "delta_f1": r6(x.delta_f1), "ci95": [r6(x.lo), r6(x.hi)]} for x in cuts]}
    setting, cand = candidate_gate.tune(linker, cfg, clean, items, decisions, asked, sentences, gold, tau, progress)
    return tau, report, setting, cand


def score_with_bootstrap(clean: list[Sentence], linked: list[Sentence], items: list[Item], decisions: list[Decision],
                gold: list[set], cfg: LinkConfig) -> dict:
    """:func:`merge.score` plus the paired bootstrap of local vs linked outputs over test sentences.

    Both protocols bootstrap the honest entity F1 of the two outputs (the paper protocol's own counts
    are not a per-sentence score of an output), and say so.
    """
    scores = score(clean, linked, items, decisions, gold, cfg.protocol)
    boot = paired_bootstrap(gold, entity_sets(clean), entity_sets(linked), cfg.bootstrap_resamples, cfg.seed)
    bs = boot.as_dict()
    bs["bootstrap"]["compares"] = "local vs linked output, entity F1 against every gold entity (honest scoring)"
    if cfg.protocol == "paper":
        bs["bootstrap"]["note"] = "paper protocol: computed on the honest-scored outputs, not on the paper's counts"
    scores.update({k: v for k, v in bs.items() if k != "delta_f1"})
    # the per-sentence counts the bootstrap resampled, so that two runs on the same predictions (an ablation
    # and its default) can be compared with a paired interval from their metrics.json files alone
    scores["per_sentence"] = counts_record(*boot.counts)
    return scores


def run_link(predictions: str | Path, cfg: LinkConfig, out_dir: str | Path | None = None, backend: Backend | None = None,
             progress: Progress | None = None) -> LinkResult:
    """Link ``predictions`` and, when ``out_dir`` is given, write ``linked.jsonl`` and ``metrics.json``."""
    t0 = time.perf_counter()
    sentences = _load_predictions(predictions, "predictions")
    clean, gold = split_gold(sentences, cfg.protocol)
    items = collect_items(clean, cfg.uncertainty, cfg.protocol)
    # The user's own definitions replace the built-in schema; they are checked against the predictions'
    # labels here, before a backend exists, so a typo costs no model load and no LLM call.
    types = read_types(cfg.types) if cfg.types else None
    schema = (types_schema(types, label_set(sentences), cfg.types_partial) if types
              else resolve_schema(cfg.dataset or dataset_hint(sentences), label_set(sentences)))
    # Leak guard, before any backend exists: dev or demonstration files holding the evaluated sentences
    leaks, dev = {}, None
    if cfg.tau is None:
        dev = _load_predictions(cfg.dev_predictions, "dev predictions")
        leaks["dev_predictions"] = refuse_leak(dev, sentences, "--dev-predictions", cfg.dev_predictions)
    bank = load_bank(cfg.demos_from, schema, cfg.shots, cfg.seed, cfg.retrieve) if cfg.shots > 0 else None
    if bank is not None:
        leaks["demos_from"] = refuse_leak(bank.sentences, sentences, "--demos-from", cfg.demos_from)
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
        tuning, cand_tuning = None, None
        tau, setting = cfg.tau, candidate_gate.fixed_setting(cfg)
        if tau is None:
            tau, tuning, setting, cand_tuning = _tune(linker, cfg, dev, len(items), progress)
        cap = budget_cap(len(items), cfg.max_routed, cfg.max_calls)  # in questions: candidates share it
        routed = select(items, tau, cap)
        decisions, stats = linker.decide(clean, items, routed, "link", progress)
        answered, cand_run = candidate_gate.run(linker, cfg, clean, items, routed, setting, cap, progress)
    finally:
        cache.close()
        if own_backend:
            backend.close()
    linked = merge(sentences, items, decisions, cfg.uncertainty)
    linked, cand_counts = candidate_gate.finish(linked, items, routed, decisions, answered, setting, cfg.uncertainty, gold)
    n_routed = sum(routed)
    kinds = Counter(d.kind for d in decisions if d is not NOT_ROUTED)
    metrics = {
        "protocol": cfg.protocol,
        "predictions": str(predictions),
        "schema": schema.name, "options": schema.options,
        "types": types.record(schema) if types else None,
        "uncertainty": cfg.uncertainty,
        "threshold": {"requested": cfg.threshold, "tau": tau_to_json(tau), "route_none": math.isinf(tau),
                      "dev_routed_fraction": tuning["dev_routed_fraction"] if tuning else None, "tuning": tuning},
        "routing": {"items": len(items), "routed": n_routed, "routed_fraction": n_routed / len(items) if items else 0.0,
                    "cap": cap, "decisions": dict(sorted(kinds.items()))},
        "llm": {**stats.as_dict(), "seconds_per_routed_entity": round(stats.llm_seconds / n_routed, 4) if n_routed else None,
                "cache_file": str(cfg.cache_path()), "model_identity": backend.identity},
        "llm_total_with_tuning": linker.stats.as_dict(),
        "decision": linker.decision_report(),
        "candidates": {"mode": cfg.candidates, **setting.record(), **cand_run, **cand_counts, "tuning": cand_tuning},
        "scores": score_with_bootstrap(clean, linked, items, decisions, gold, cfg) if gold is not None else None,
        "leak_check": leaks,
        "config": {**to_dict(cfg), "llm": cfg.llm.resolved().public()},
        **environment(),
        "seconds_total": round(time.perf_counter() - t0, 3),
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(linked, out / "linked.jsonl")
        write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    return LinkResult(linked, metrics)
