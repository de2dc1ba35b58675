"""The committed results layout, and tolerant readers for it.

::

    <root>/local/{train}-{model}/{evalset}.json        evaluate_checkpoint output (mc_samples=10)
    <root>/local/{train}-{model}/ood_auroc.json        {"numbers": {method: {shifted set: auroc}}}
    <root>/local/{train}-{model}/risk_coverage.json    {"numbers": {evalset: {method: {coverage, risk, aurc}}}}
    <root>/local/{train}-{model}/train.json            training metrics
    <root>/link/{train}-{model}/{evalset}-{protocol}-{llm}[-suffix]/metrics.json   run_link output

A system folder may carry a tag, ``{train}-{model}-{tag}`` (``conll03-ener-6ep``): a superseded generation
of that system, kept because studies rest on its link runs (the in-context sweep, the replace-era rows).
The local-model studies read only untagged systems; the linking studies show tagged ones by their label.

A **main** run is zero-shot and its folder name is exactly ``{evalset}-{protocol}-{llm}``; anything after
the LLM name (``-icl1-random``, ``-budget10``…) is its ``variant`` (an in-context sweep, a cost point).

``root`` is ``results`` (full profile) or ``results/smoke``. Files may be bare JSON or wrapped as
``{"numbers", "config", "run"}``; :func:`read_numbers` accepts both. Anything absent is simply not
returned: the studies list it as missing.
"""

from __future__ import annotations

import json
from pathlib import Path

from linkner.uncertainty import METHODS  # noqa: F401  (the studies read every method)

# train set -> the test sets a model trained on it is evaluated on
EVALSETS: dict[str, tuple[str, ...]] = {
    "conll03": ("conll03", "conll03-typos", "conll03-oov", "conll03-ood"),
    "wnut17": ("wnut17",),
}
MODELS = ("spanner", "ener")
MODEL_NAMES = {"spanner": "SpanNER", "ener": "E-NER"}
SHIFTED = ("conll03-typos", "conll03-oov", "conll03-ood")
PROTOCOLS = ("honest", "paper")
EVAL_ORDER = ["conll03", "conll03-typos", "conll03-oov", "conll03-ood", "wnut16", "wnut17", "twitterner"]


def systems() -> list[tuple[str, str]]:
    """Every (train set, model) pair of the study grid."""
    return [(t, m) for t in EVALSETS for m in MODELS]


def system_name(train: str, model: str, tag: str = "") -> str:
    """``{train}-{model}``, or ``{train}-{model}-{tag}`` for a superseded generation kept for its studies."""
    return f"{train}-{model}" + (f"-{tag}" if tag else "")


def split_system(name: str) -> tuple[str, str, str]:
    """``conll03-ener-6ep`` → ``("conll03", "ener", "6ep")`` (train set names hold no hyphen)."""
    train, _, rest = name.partition("-")
    model, _, tag = rest.partition("-")
    return train, model, tag


def model_label(model: str, tag: str = "") -> str:
    """``E-NER``, or ``E-NER 6ep`` for a tagged generation."""
    return MODEL_NAMES.get(model, model) + (f" {tag}" if tag else "")


def system_label(name: str) -> str:
    """``E-NER (conll03)``; a tagged generation keeps its tag: ``E-NER 6ep (conll03)``."""
    train, model, tag = split_system(name)
    return f"{model_label(model, tag)} ({train})"


def read_json(path: str | Path) -> dict | None:
    p = Path(path)
    if not p.is_file():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


def read_numbers(path: str | Path) -> dict | None:
    """A results file's numbers: the ``numbers`` block of a wrapped file, else the whole document."""
    doc = read_json(path)
    if doc is None:
        return None
    return doc["numbers"] if isinstance(doc.get("numbers"), dict) and "run" in doc else doc


def local_dir(root: str | Path, train: str, model: str, tag: str = "") -> Path:
    return Path(root) / "local" / system_name(train, model, tag)


def count_lines(path: Path) -> int | None:
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def parse_run_name(name: str) -> tuple[str, str, str] | None:
    """``{evalset}-{protocol}-{rest}`` → (evalset, protocol, rest); evalset names hold hyphens."""
    for proto in PROTOCOLS:
        marker = f"-{proto}-"
        if marker in name:
            evalset, rest = name.split(marker, 1)
            return evalset, proto, rest
        if name.endswith(f"-{proto}"):
            return name[: -len(proto) - 1], proto, ""
    return None


def _f1(scores: dict | None, *keys: str) -> float | None:
    cur = scores
    for k in (*keys, "micro", "f1"):
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def link_record(path: Path, root: Path) -> dict | None:
    """One link run's metrics.json flattened to the fields the studies use."""
    m = read_json(path)
    if not m:
        return None
    run_dir = path.parent
    system = run_dir.parent.name
    parsed = parse_run_name(run_dir.name)
    cfg = m.get("config") or {}
    evalset, protocol = (parsed[0], parsed[1]) if parsed else (cfg.get("dataset") or "?", m.get("protocol", "honest"))
    protocol = m.get("protocol", protocol)
    train, model, tag = split_system(system)
    scores = m.get("scores") or {}
    thr = m.get("threshold") or {}
    tuning = thr.get("tuning") or None
    llm = m.get("llm") or {}
    routing = m.get("routing") or {}
    sentences = count_lines(run_dir / "linked.jsonl")
    if sentences is None:  # fall back to the local evaluation of the same test set
        local = read_json(local_dir(root, train, model, tag) / f"{evalset}.json") or {}
        sentences = local.get("sentences")
    llm_cfg = cfg.get("llm") or {}
    on_routed = (scores.get("llm_on_routed") or {}).get("micro") or {}
    llm_name = llm_cfg.get("model") or "?"
    rest = parsed[2] if parsed else ""
    variant = rest[len(llm_name):].lstrip("-") if rest.startswith(llm_name) else ("" if "icl" not in rest and "shot" not in rest else rest)
    shots = int(cfg.get("shots") or 0)
    return {
        "key": f"{system}/{run_dir.name}", "system": system, "train": train, "model": model, "tag": tag,
        "evalset": evalset,
        "protocol": protocol, "llm": llm_name, "backend": llm_cfg.get("backend"),
        "variant": variant, "main": shots == 0 and not variant,
        "uncertainty": m.get("uncertainty") or cfg.get("uncertainty"),
        # how the LLM's answer is used: runs made before fusion existed replaced the local label
        "decision": cfg.get("decision") or "replace", "candidates": cfg.get("candidates") or "none",
        # fused runs made before word keys recorded no option_keys: they asked with letters
        "option_keys": (cfg.get("option_keys") or "letters") if cfg.get("decision") == "fuse" else None,
        # whether candidate questions were asked on test (the dev gate turns them off without bootstrap support)
        "candidates_used": bool(((m.get("candidates") or {}).get("asked") or {}) and
                                any(((m.get("candidates") or {}).get("asked") or {}).values())),
        "shots": shots, "retrieve": bool(cfg.get("retrieve")),
        "threshold": str(thr.get("requested")), "tau": thr.get("tau"), "tuning": tuning,
        "max_routed": cfg.get("max_routed"), "max_calls": cfg.get("max_calls"),
        "items": routing.get("items"), "routed": routing.get("routed"), "routed_fraction": routing.get("routed_fraction"),
        "local_f1": _f1(scores, "local"), "linkner_f1": _f1(scores, "linkner"), "delta_f1": scores.get("delta_f1"),
        # paired bootstrap over test sentences (None in runs made before it was recorded)
        "delta_f1_ci95": scores.get("delta_f1_ci95"), "fixed": scores.get("fixed"), "broken": scores.get("broken"),
        "fp_removed": scores.get("fp_removed"), "fp_added": scores.get("fp_added"),
        # the per-sentence counts it resampled (runs since 2026-12-01), for paired comparisons between runs
        "per_sentence": scores.get("per_sentence"), "bootstrap": scores.get("bootstrap"),
        "predictions": m.get("predictions"),
        "route_none": bool(thr.get("route_none")),
        "paper_local_f1": ((scores.get("paper") or {}).get("local") or {}).get("f1"),
        "paper_linkner_f1": ((scores.get("paper") or {}).get("linkner") or {}).get("f1"),
        "llm_accuracy": on_routed.get("llm_accuracy"), "local_accuracy_on_routed": on_routed.get("local_accuracy"),
        "llm_seconds": llm.get("llm_seconds"), "seconds_per_routed_entity": llm.get("seconds_per_routed_entity"),
        "prompt_tokens": llm.get("prompt_tokens"), "unique_answers": llm.get("unique"),
        # what the llama.cpp build reported (runs since 2026-12-01; None before)
        "llama_cpp_kernels": (m.get("machine") or {}).get("llama_cpp_kernels"),
        "sentences": sentences,
    }


def link_runs(root: str | Path) -> list[dict]:
    """Every link run under ``<root>/link``, sorted by key (deterministic study output)."""
    base = Path(root) / "link"
    out = []
    for p in sorted(base.glob("*/*/metrics.json")):
        rec = link_record(p, Path(root))
        if rec is not None:
            out.append(rec)
    return out


def eval_rank(evalset: str) -> int:
    return EVAL_ORDER.index(evalset) if evalset in EVAL_ORDER else len(EVAL_ORDER)
