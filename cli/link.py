"""``linkner link``: send the entities the local model is unsure of to an LLM, merge, score."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from linkner.link.config import LinkConfig, LLMConfig
from linkner_cli.common import option, user_errors

console = Console(stderr=True)


_D, _L = LinkConfig(), LLMConfig()  # the defaults live in the configs; the flags only say what was given


@user_errors
def link(
    predictions: Path = typer.Argument(..., help="Predictions JSONL written by `linkner infer`."),
    out: Path = typer.Option(..., "--out", help="Output folder: linked.jsonl and metrics.json."),
    backend: str = option(_L.backend, "llama-cpp (in process) | openai (any OpenAI-compatible server) | ollama."),
    model: str = option(_L.model, "llama-cpp: a preset (smollm2-135m, qwen2.5-coder-0.5b, qwen2.5-coder-1.5b) or a "
                      "GGUF path; openai/ollama: the server's model name."),
    threshold: str = option(_D.threshold, "Route entities with uncertainty above this, or 'auto' (tune on --dev-predictions)."),
    dev_predictions: Path = option(None, "Dev predictions with gold, for --threshold auto."),
    uncertainty: str = option(_D.uncertainty, "confidence | entropy | mc_dropout | evidential."),
    dataset: str = option(None, "Dataset whose type definitions to use (conll03, wnut16, wnut17, twitterner); "
                        "default: from the predictions' labels."),
    types: Path = option(None, "Your own type definitions (TOML/YAML/JSON: [types.LABEL] with a description, optional "
                       "examples and counter_examples); overrides --dataset.", "--types"),
    types_partial: bool = option(None, "With --types: labels without a definition are described by their name alone "
                               "instead of being an error.", "--types-partial/--no-types-partial"),
    shots: int = option(_D.shots, "Demonstrations per type (plus as many 'not an entity' ones)."),
    demos_from: str = option(None, "File (or dataset name: its train split) with gold entities for demonstrations."),
    retrieve: bool = option(None, "Pick demonstrations per query by TF-IDF similarity.", "--retrieve/--no-retrieve"),
    max_routed: float = option(None, "Route at most this fraction of the entities (most uncertain first)."),
    max_calls: int = option(None, "Route at most this many entities."),
    tune_max_calls: int = option(_D.tune_max_calls, "With --threshold auto: ask the LLM about at most this many dev "
                               "entities (its own budget, independent of the test budget)."),
    tune_sample: str = option(_D.tune_sample, "With --threshold auto: uncertain (the most uncertain entities of the dev "
                            "file) | random (whole dev sentences in a seeded random order)."),
    protocol: str = option(_D.protocol, "honest | paper (the original evaluation, for comparison only)."),
    decision: str = option(_D.decision, "fuse (multiple choice; the LLM's option probabilities pooled with the local ones, "
                         "weight fitted on dev) | replace (the LLM's answer replaces the local label)."),
    options_k: int = option(None, "fuse: offer the local top-k labels plus 'not an entity' (default: all labels).", "--options-k"),
    option_keys: str = option(_D.option_keys, "fuse: how an option is answered: words (the type's name, scored by its "
                            "first token) | letters (A, B, ...; the prompts of runs made before word keys).", "--option-keys"),
    fusion_weight: float = option(None, "fuse: a fixed LLM weight w in [0, 1] instead of fitting it on dev."),
    candidates: str = option(_D.candidates, "Honest candidates asked besides routed entities: none | near-miss (spans "
                           "decoded as O with entity probability >= q) | boundary (±1-token variants of routed "
                           "entities) | all. With --threshold auto they are used only if they help on dev (bootstrap "
                           "lower bound of ΔF1 > 0); with a fixed threshold only with --candidate-q."),
    candidate_q: float = option(None, "A fixed near-miss q (entity probability, >= 0.05) instead of the dev grid.", "--candidate-q"),
    base_url: str = option(None, "openai: server URL, e.g. http://127.0.0.1:8000/v1 (else $OPENAI_BASE_URL)."),
    api_key: str = option(None, "openai: API key (else $OPENAI_API_KEY)."),
    host: str = option(None, "ollama: server URL (else $OLLAMA_HOST)."),
    concurrency: int = option(_L.concurrency, "Parallel requests (openai/ollama)."),
    timeout: float = option(_L.timeout_s, "Seconds per request."),
    retries: int = option(_L.retries, "Retries per request on transient errors (exponential back-off)."),
    n_ctx: int = option(_L.n_ctx, "Context size (llama-cpp; num_ctx for ollama)."),
    n_threads: int = option(None, "llama-cpp threads (default: half the cores)."),
    structured: str = option(_L.structured, "auto | json_schema | json_object | off (constrained answers)."),
    seed: int = option(_D.seed, "Seed for demonstrations, the dev tuning sample and the bootstraps."),
    cache: Path = option(None, "Answer cache file (default: $LINKNER_CACHE/llm-answers.jsonl)."),
    config: Path = option(None, "TOML/YAML/JSON LinkConfig; flags given explicitly override it."),
) -> None:
    """Link uncertain entities to an LLM; every answer is cached, so an interrupted run resumes."""
    given = {k: v for k, v in locals().items() if k not in ("predictions", "out", "config")}  # the flags, first
    from linkner.configio import layered
    from linkner.link.pipeline import run_link
    from linkner.link.preflight import check_link_inputs

    llm_keys = ("backend", "model", "base_url", "api_key", "host", "concurrency", "retries", "n_ctx", "n_threads", "structured")
    flags = {k: str(v) if isinstance(v, Path) else v for k, v in given.items() if k not in llm_keys and k != "timeout"}
    flags["llm"] = {**{k: given[k] for k in llm_keys}, "timeout_s": timeout}
    cfg = layered(LinkConfig, flags, config)
    check_link_inputs(predictions, cfg, out)  # --out, label schemas: before any model load or LLM call
    with _progress_bar(cfg.llm.model) as progress:
        result = run_link(predictions, cfg, out, progress=progress)
    _report(result.metrics, out)


@contextlib.contextmanager
def _progress_bar(model: str):
    """A bar per phase (dev tuning, candidates, test) on stderr; yields ``progress(phase, done, total)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{phase} ({model})", total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield progress


def _report(m: dict, out: Path) -> None:
    r, llm = m["routing"], m["llm"]
    if m.get("types"):
        ty = m["types"]
        generic = f"; labels by name alone: {', '.join(ty['generic'])}" if ty["generic"] else ""
        console.print(f"type definitions: {ty['file']} ({len(ty['definitions'])} labels{generic})")
    thr = m["threshold"]
    why = ": no dev cut had a bootstrap lower bound of ΔF1 above 0" if thr.get("tuning") else ""
    tau = f"+∞ (route none{why})" if thr.get("route_none") else f"{thr['tau']:.4g}"
    if thr.get("dev_routed_fraction") is not None:
        tau += f", {100 * thr['dev_routed_fraction']:.1f} % of dev entities above it"
    console.print(f"τ = {tau} ({m['uncertainty']}), routed {r['routed']}/{r['items']} "
                  f"({100 * r['routed_fraction']:.1f} %), {llm['calls']} LLM calls, {llm['cache_hits']} cache hits, "
                  f"{llm['prompt_tokens'] + llm['completion_tokens']} tokens, "
                  f"{llm['seconds_per_routed_entity'] or 0:.2f} s per routed entity; decisions {r['decisions']}")
    dec = m.get("decision") or {}
    if dec.get("mode") == "fuse":
        console.print(f"decision: fuse, w = {dec['w']} ({dec['w_from']}), option probabilities from "
                      f"{dec['probability_source'] or 'no answer'}, options: top {dec['options_k'] or 'all'} + not an "
                      f"entity, answered by {dec['option_keys']}")
    c = m.get("candidates") or {}
    if c.get("near_miss_q") is not None or c.get("boundary"):
        kinds = [f"near-misses at q = {c['near_miss_q']}"] * (c["near_miss_q"] is not None) + ["boundary variants"] * c["boundary"]
        asked = c["asked"]
        console.print(f"candidates ({c['from']}): {' and '.join(kinds)}; asked {asked['near_miss']} near-miss(es) and "
                      f"{asked['boundary']} variant(s), added {c['added']}, boundary changes {c['boundary_changes']}")
    elif c:
        console.print(f"candidates: none used ({c.get('why') or c.get('mode')})")
    if llm["errors"]:
        console.print(f"[red]{llm['errors']} request(s) failed after retries; those entities kept their local label. "
                      "Rerun the same command to retry them (answers received are cached).[/red]")
    s = m["scores"]
    if s:
        t = Table("", "precision", "recall", "F1", title=f"protocol: {s['protocol']}")
        for name in ("local", "linkner"):
            p = s[name]["micro"]
            t.add_row(name, f"{100 * p['precision']:.2f}", f"{100 * p['recall']:.2f}", f"{100 * p['f1']:.2f}")
        if "paper" in s:
            for name in ("local", "linkner"):
                p = s["paper"][name]
                t.add_row(f"{name} (paper counts)", f"{100 * p['precision']:.2f}", f"{100 * p['recall']:.2f}", f"{100 * p['f1']:.2f}")
        console.print(t)
        if s.get("delta_f1_ci95"):
            lo, hi = s["delta_f1_ci95"]
            console.print(f"ΔF1 {100 * s['delta_f1']:+.2f} (95 % CI {100 * lo:+.2f} to {100 * hi:+.2f}, paired bootstrap "
                          f"over sentences); entities fixed {s['fixed']}, broken {s['broken']}")
        acc = s["llm_on_routed"]["micro"]
        if acc["n"] and "llm_alone_accuracy" in acc:
            console.print(f"on routed entities: fused accuracy {100 * acc['llm_accuracy']:.1f} %, LLM alone "
                          f"{100 * acc['llm_alone_accuracy']:.1f} %, local {100 * acc['local_accuracy']:.1f} %, "
                          f"fixed {acc['fixed']}, broken {acc['broken']}")
        elif acc["n"]:
            console.print(f"on routed entities: LLM accuracy {100 * acc['llm_accuracy']:.1f} %, local {100 * acc['local_accuracy']:.1f} %, "
                          f"fixed {acc['fixed']}, broken {acc['broken']}")
    console.print(f"wrote {out / 'linked.jsonl'} and {out / 'metrics.json'}")


def register(app: typer.Typer) -> None:
    app.command("link")(link)
