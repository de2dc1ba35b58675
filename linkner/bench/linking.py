"""What linking costs: seconds per routed entity for every local LLM preset installed, the answer
cache's speed-up, and the OpenAI-compatible server (``python -m llama_cpp.server``) at 1 vs 4
concurrent requests.

Case ``predictions``: predict the first ``link_pool`` sentences with the checkpoint (written to the
part's scratch folder for the other cases) and count how many entities routing sends at
``link_threshold`` — the number that turns seconds per entity into seconds per 1,000 sentences.
Case ``local-PRESET``: the in-process llama.cpp backend; after one warm-up request, the ``link_entities``
most uncertain entities are asked once (fresh cache), then again (all cache hits), through :func:`linkner.link.pipeline.run_link`.
Case ``server``: start the server on 127.0.0.1 (a free port), one warm-up request, then the same
entities at each concurrency, ``server_rounds`` rounds in alternating order (1, 4, 4, 1, 1, 4), a fresh
cache each (median over rounds); the server's peak RSS (``VmHWM``) is read
before it is stopped.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from linkner.bench.common import BenchConfig, Skip, eval_sentences, median, peak_rss_mb, rate, ratio, rnd, timed

NAME = "linking"


def installed_presets() -> list[str]:
    """Presets whose model packages are installed (smallest first)."""
    from linkner.errors import LLMError
    from linkner.link.gguf import PRESETS, part_paths

    out = []
    for name, preset in sorted(PRESETS.items(), key=lambda kv: kv[1].size):
        try:
            part_paths(preset)
            out.append(name)
        except LLMError:
            pass
    return out


def _models(cfg: BenchConfig) -> list[str]:
    return list(cfg.llm_models) if cfg.llm_models is not None else installed_presets()


def _server_model(cfg: BenchConfig) -> str | None:
    if cfg.server_model:
        return cfg.server_model
    have = installed_presets()
    return "qwen2.5-coder-0.5b" if "qwen2.5-coder-0.5b" in have else (have[0] if have else None)


def cases(cfg: BenchConfig) -> list[str]:
    out = ["predictions", *(f"local-{m}" for m in _models(cfg))]
    if cfg.server:
        out.append("server")
    return out


def llm_threads(cfg: BenchConfig) -> int:
    """llama.cpp threads, the same for the in-process backend and the server: ``llm_threads``, else the
    in-process backend's own default (half the cores: on a busy machine, all cores made llama.cpp's
    spinning threads up to 10× slower)."""
    import os

    return cfg.llm_threads or max(1, (os.cpu_count() or 2) // 2)


def _pred_file(cfg: BenchConfig) -> Path:
    return Path(cfg.workdir or ".") / "predictions.jsonl"


def _predictions(cfg: BenchConfig) -> dict:
    from linkner.data.writers import write_jsonl
    from linkner.link.routing import collect_items, select
    from linkner.models.predict import LocalModel

    sents = eval_sentences(cfg)[: cfg.link_pool]
    lm = LocalModel(cfg.checkpoint)
    pred, secs = timed(lambda: lm.predict_sentences(sents, batch_size=cfg.batch_size, has_gold=True))
    routed = {}
    for method in lm.uncertainty_methods(0):
        items = collect_items(pred, method, "honest")
        routed[method] = sum(select(items, cfg.link_threshold))
    n_ent = sum(len(s.entities) for s in pred)
    filled = _fill_from_gold(pred, cfg.link_entities - n_ent, lm.uncertainty_methods(0)) if n_ent < cfg.link_entities else 0
    path = _pred_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(pred, path)
    return {"sentences": len(sents), "entities": n_ent, "filled_from_gold": filled, "predict_s": secs,
            "local_seconds_per_1000_sentences": secs / len(sents) * 1000 if sents else None,
            "threshold": cfg.link_threshold, "routed": routed,
            "routed_per_1000_sentences": {m: r / len(sents) * 1000 for m, r in routed.items()} if sents else {},
            "routed_fraction": {m: r / n_ent for m, r in routed.items()} if n_ent else {}}


def _fill_from_gold(pred: list, need: int, methods: list[str]) -> int:
    """A weak model (tests, smoke runs) may predict too few entities to time the LLM on: add gold
    spans it missed, with uncertainty 1, until ``need`` more exist. Cost per call does not depend on
    where the span came from; the count added is reported (``filled_from_gold``)."""
    from linkner.data.predictions import gold_entities
    from linkner.data.types import Entity

    added = 0
    for i, s in enumerate(pred):
        if added >= need:
            break
        extra = []
        for e in gold_entities(s) or ():
            if added < need and not any(e.overlaps(p) for p in [*s.entities, *extra]):
                extra.append(Entity(e.start, e.end, e.label, 0.0, {"uncertainty": {m: 1.0 for m in methods}, "probs": {}}))
                added += 1
        if extra:
            pred[i] = s.with_entities([*s.entities, *extra])
    return added


def _ensure_predictions(cfg: BenchConfig) -> dict | None:
    if not _pred_file(cfg).is_file():
        return _predictions(cfg)
    return None


def _link_config(cfg: BenchConfig, llm, cache: Path):
    from linkner.data.registry import DATASETS
    from linkner.link.config import LinkConfig

    return LinkConfig(threshold="-1", max_calls=cfg.link_entities, uncertainty=cfg.link_uncertainty,
                      dataset=cfg.data if cfg.data in DATASETS else None, cache=str(cache), llm=llm)


def _cost(metrics: dict) -> dict:
    llm, routed = metrics["llm"], metrics["routing"]["routed"]
    return {"routed": routed, "calls": llm["calls"], "cache_hits": llm["cache_hits"], "errors": llm["errors"],
            "wall_s": llm["wall_seconds"], "model_seconds": llm["fresh_seconds"],
            "wall_seconds_per_entity": ratio(llm["wall_seconds"], routed),
            "model_seconds_per_call": ratio(llm["fresh_seconds"], llm["calls"]),
            "prompt_tokens_per_call": ratio(llm["prompt_tokens"], llm["unique"]),
            "completion_tokens_per_call": ratio(llm["completion_tokens"], llm["unique"]),
            "decisions": metrics["routing"]["decisions"]}


def _local(cfg: BenchConfig, model: str) -> dict:
    if importlib.util.find_spec("llama_cpp") is None:
        raise Skip("llama-cpp-python is not installed (pip install 'linkner[llm]')")
    from linkner.errors import LLMError
    from linkner.link.backends import make_backend
    from linkner.link.config import LLMConfig
    from linkner.link.pipeline import run_link

    pre = _ensure_predictions(cfg)
    llm = LLMConfig(backend="llama-cpp", model=model, n_threads=llm_threads(cfg))
    try:
        backend, prepare_s = timed(lambda: make_backend(llm))
    except LLMError as exc:
        raise Skip(str(exc)) from None
    _, load_s = timed(backend.health_check)
    cache = Path(cfg.workdir or ".") / f"answers-{model}.jsonl"
    cache.unlink(missing_ok=True)
    lcfg = _link_config(cfg, llm, cache)
    wcfg = _link_config(cfg, llm, Path(cfg.workdir or ".") / f"warmup-{model}.jsonl")
    wcfg.max_calls = 1
    try:
        run_link(_pred_file(cfg), wcfg, None, backend=backend)  # warm-up, as for the server
        first = run_link(_pred_file(cfg), lcfg, None, backend=backend).metrics
        again = run_link(_pred_file(cfg), lcfg, None, backend=backend).metrics
    finally:
        backend.close()
    fresh, hit = _cost(first), _cost(again)
    fresh["answers"] = _fresh_answers(cache)
    from linkner.provenance import llama_cpp_kernels

    return {"model": model, "identity": first["llm"]["model_identity"], "threads": llm.n_threads,
            "kernels": llama_cpp_kernels(), "prepare_s": prepare_s, "load_s": load_s,
            "fresh": fresh, "cached": hit, "cache_speedup": ratio(fresh["wall_s"], hit["wall_s"]),
            **({"predictions": pre} if pre else {})}


def _fresh_answers(cache: Path) -> list[dict]:
    """Each fresh answer in the order asked: its cache key (the question), option probabilities (4 decimals;
    ``None`` for a generated answer) and model seconds. What lets two builds or machines be compared question by
    question, for the same answers as well as for speed."""
    from linkner.link.cache import is_record

    if not cache.is_file():
        return []
    recs = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"key": r["key"], "probs": {k: round(float(v), 4) for k, v in r["option_probs"].items()} if r.get("option_probs") else None,
             "seconds": round(float(r.get("seconds") or 0.0), 4)} for r in recs if is_record(r)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300.0) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server at {url} was not ready after {timeout:.0f}s")


def _server(cfg: BenchConfig) -> dict:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        raise Skip("the server needs llama-cpp-python[server] (pip install 'llama-cpp-python[server]')")
    from linkner.errors import LLMError
    from linkner.link.config import LLMConfig
    from linkner.link.gguf import resolve_gguf
    from linkner.link.pipeline import run_link

    model = _server_model(cfg)
    if model is None:
        raise Skip("no LLM preset is installed for the server")
    try:
        path, _ = resolve_gguf(model)
    except LLMError as exc:
        raise Skip(str(exc)) from None
    pre = _ensure_predictions(cfg)
    threads = llm_threads(cfg)
    port = free_port()
    work = Path(cfg.workdir or ".")
    log = (work / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", model,
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads),
                             "--n_threads_batch", str(threads)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    runs, server_rss = {}, None
    try:
        ready_s = wait_ready(base + "/models", proc)
        warm = LLMConfig(backend="openai", model=model, base_url=base, api_key="not-needed", timeout_s=300)
        wcfg = _link_config(cfg, warm, work / "server-warmup.jsonl")
        wcfg.max_calls = 1
        run_link(_pred_file(cfg), wcfg, None)
        # rounds in alternating order (1, 4, 4, 1, 1, 4): a drift in machine load cannot favour either level
        order = [c for r in range(cfg.server_rounds) for c in (cfg.concurrency if r % 2 == 0 else cfg.concurrency[::-1])]
        for k, c in enumerate(order):
            llm = LLMConfig(backend="openai", model=model, base_url=base, api_key="not-needed", concurrency=c, timeout_s=300)
            cache = work / f"server-{k}-c{c}.jsonl"
            cache.unlink(missing_ok=True)
            runs.setdefault(f"c{c}", []).append(_cost(run_link(_pred_file(cfg), _link_config(cfg, llm, cache), None).metrics))
        runs = {c: _merge_rounds(r) for c, r in runs.items()}
        server_rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    lo, hi = f"c{min(cfg.concurrency)}", f"c{max(cfg.concurrency)}"
    out = {"model": model, "threads": threads, "ready_s": ready_s, "runs": runs,
           "throughput_entities_per_s": {k: rate(v["routed"], v["wall_s"]) for k, v in runs.items()},
           "speedup_high_over_low_concurrency": ratio(runs[lo]["wall_s"], runs[hi]["wall_s"]) if lo in runs and hi in runs else None,
           **({"predictions": pre} if pre else {})}
    out["server_peak_rss_mb"] = server_rss
    return out


def _merge_rounds(rounds: list[dict]) -> dict:
    """Per-entity numbers as the median over rounds; the rounds themselves kept."""
    out = dict(rounds[0])
    for key in ("wall_s", "model_seconds", "wall_seconds_per_entity", "model_seconds_per_call"):
        out[key] = median([r[key] for r in rounds])
    out["rounds"] = rounds
    return out


def run_case(case: str, cfg: BenchConfig) -> dict:
    if case == "predictions":
        return _predictions(cfg)
    if case.startswith("local-"):
        return _local(cfg, case[len("local-"):])
    if case == "server":
        return _server(cfg)
    raise ValueError(case)


def summarize(results: dict[str, dict], cfg: BenchConfig) -> dict:
    pred = results.get("predictions") or {}
    per_k = (pred.get("routed_per_1000_sentences") or {}).get(cfg.link_uncertainty)
    local = {}
    for case, r in results.items():
        if case.startswith("local-") and "fresh" in r:
            spe = r["fresh"]["wall_seconds_per_entity"]
            local[r["model"]] = {
                "seconds_per_routed_entity": spe, "model_seconds_per_call": r["fresh"]["model_seconds_per_call"],
                "cached_seconds_per_entity": r["cached"]["wall_seconds_per_entity"], "cache_speedup": r["cache_speedup"],
                "llm_seconds_per_1000_sentences": spe * per_k if spe is not None and per_k is not None else None,
                "threads": r.get("threads"), "kernels": r.get("kernels"),
                "load_s": r["load_s"], "peak_rss_mb": r.get("peak_rss_mb"),
                "decisions": r["fresh"]["decisions"], "prompt_tokens_per_call": r["fresh"]["prompt_tokens_per_call"],
            }
        elif case.startswith("local-"):
            local[case[len("local-"):]] = {"skipped": r.get("skipped"), "error": r.get("error")}
    srv = results.get("server") or {}
    server = None
    if "runs" in srv:
        server = {"model": srv["model"], "threads": srv["threads"], "rounds": cfg.server_rounds, "ready_s": srv["ready_s"], "server_peak_rss_mb": srv.get("server_peak_rss_mb"),
                  "seconds_per_routed_entity": {k: v["wall_seconds_per_entity"] for k, v in srv["runs"].items()},
                  "throughput_entities_per_s": srv["throughput_entities_per_s"],
                  "speedup_high_over_low_concurrency": srv["speedup_high_over_low_concurrency"]}
    elif srv:
        server = {"skipped": srv.get("skipped"), "error": srv.get("error")}
    return rnd({
        "routing": {"uncertainty": cfg.link_uncertainty, "threshold": cfg.link_threshold,
                    "routed_per_1000_sentences": per_k, "routed_fraction": (pred.get("routed_fraction") or {}).get(cfg.link_uncertainty),
                    "all_methods": pred.get("routed_per_1000_sentences"),
                    "local_model_seconds_per_1000_sentences": pred.get("local_seconds_per_1000_sentences"),
                    "pool_sentences": pred.get("sentences")},
        "local": local, "server": server, "entities_asked": cfg.link_entities,
        "note": "the most uncertain entities of the pool are asked; seconds per 1,000 sentences = seconds per routed "
                "entity × entities routed per 1,000 sentences at the threshold",
        "cases": results,
    })
