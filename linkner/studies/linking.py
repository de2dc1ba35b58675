"""Linking studies, all read from ``<root>/link/*/*/metrics.json`` (see :mod:`linkner.studies.layout`).

* :func:`threshold` (RQ1): dev F1 and routed fraction against τ from each tuned run's curve, with the
  dev-tuned point, the budget point (the last τ the routing budget allows) and the test result.
* :func:`linking`: local vs LinkNER per test set, honest and paper protocols side by side.
* :func:`in_context`: LinkNER F1 and LLM accuracy on routed entities against shots, random vs retrieved.
* :func:`cost`: F1 against LLM calls and seconds per 1,000 sentences, with the Pareto front.

"Main" runs are the zero-shot ones; an in-context sweep is a set of runs that differ only in shots and
demonstration selection.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from linkner.errors import DataError
from linkner.metrics import BOOTSTRAP_RESAMPLES, bootstrap_counts, counts_from_record
from linkner.studies.layout import EVALSETS, PROTOCOLS, eval_rank, link_runs, systems


def _not_run(runs: list[dict]) -> list[str]:
    """Grid cells (system, test set, protocol) without a main run, for the notebooks' "not yet run" note."""
    have = {(r["system"], r["evalset"], r["protocol"]) for r in runs}
    return [f"{t}-{m}/{ev}-{p}" for t, m in systems() for ev in EVALSETS[t] for p in PROTOCOLS if (f"{t}-{m}", ev, p) not in have]


def _main_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["main"]]


def _longest_dev_curves(runs: list[dict]) -> list[dict]:
    """One zero-shot tuned run per dev curve: runs that tuned on the same dev predictions with the same
    system, LLM, uncertainty and protocol share their dev curve up to their cap, so keep the one whose
    tuning asked the LLM about the most dev entities (ties: the first key)."""
    def asked(r: dict) -> float:
        cap = r["tuning"].get("dev_cap")
        return float("inf") if cap is None else cap  # no cap: every dev entity was asked

    best: dict[tuple, dict] = {}
    for r in runs:
        t = r["tuning"]
        if r["shots"] or not t or not t.get("curve"):
            continue
        g = (r["system"], r["protocol"], r["llm"], r["uncertainty"], t.get("dev_predictions"), t.get("dev_items"))
        if g not in best or asked(r) > asked(best[g]):
            best[g] = r
    return list(best.values())


def threshold(root: str | Path) -> dict:
    """Per dev curve (see :func:`_longest_dev_curves`): τ against dev F1 and routed fraction, with the
    tuned, budget and test points of the run that drew it."""
    out = []
    for r in _longest_dev_curves(link_runs(root)):
        t = r["tuning"]
        n = t.get("dev_items") or 0
        # newer runs record each cut's routed share of the dev sample (and its ΔF1 interval) themselves
        curve = [{"tau": c["tau"], "routed": c["routed"], "f1": c["f1"], "ci95": c.get("ci95"),
                  "routed_fraction": c["routed_fraction"] if "routed_fraction" in c else (c["routed"] / n if n else 0.0)}
                 for c in t["curve"]]
        # the most a dev cut may route under the test budget: newer runs record it (cut_cap; their dev_cap is
        # the dev sample's LLM calls), older ones asked exactly that many dev entities (dev_cap)
        cap = t["cut_cap"] if "cut_cap" in t else t.get("dev_cap")
        budget = None
        if cap is not None:
            last = max((c for c in curve if c["routed"] <= cap), key=lambda c: c["routed"], default=None)
            if last is not None:
                budget = {"cap": cap, **last}
        out.append({
            "key": r["key"], "system": r["system"], "evalset": r["evalset"], "protocol": r["protocol"], "llm": r["llm"],
            "uncertainty": r["uncertainty"], "dev_items": n, "curve": curve,
            "tuned": {"tau": t.get("tau"), "f1": t.get("dev_f1"), "route_none": bool(t.get("route_none")),
                      "delta_f1_ci95": t.get("dev_delta_f1_ci95"),
                      "routed_fraction": t["dev_routed_fraction"] if "dev_routed_fraction" in t
                      else ((t.get("dev_routed") or 0) / n if n else 0.0)},
            "dev_local_f1": t.get("dev_local_f1"), "budget": budget,
            "test": {"tau": r["tau"], "local_f1": r["local_f1"], "linkner_f1": r["linkner_f1"], "routed_fraction": r["routed_fraction"]},
        })
    out.sort(key=lambda x: (eval_rank(x["evalset"]), x["system"], x["protocol"], x["llm"]))
    return {"runs": out, "missing": _not_run(out)}


def linking(root: str | Path) -> dict:
    """Local vs LinkNER F1 of every zero-shot run, with ΔF1's 95 % paired-bootstrap interval over test
    sentences and the entities fixed/broken; the paper protocol also reports the original counts.

    Runs made before the bootstrap was recorded have ``null`` interval and counts (shown as "–"); their
    interval cannot be recomputed, since only their metrics.json is committed.
    """
    rows = []
    for r in _main_runs(link_runs(root)):
        rows.append({k: r[k] for k in ("key", "system", "model", "evalset", "protocol", "llm", "decision", "candidates",
                                       "uncertainty", "tau", "route_none",
                                       "items", "routed", "routed_fraction", "local_f1", "linkner_f1", "delta_f1",
                                       "delta_f1_ci95", "fixed", "broken", "paper_local_f1", "paper_linkner_f1",
                                       "llm_accuracy", "local_accuracy_on_routed", "max_routed", "max_calls")})
    rows.sort(key=lambda x: (eval_rank(x["evalset"]), x["system"], x["protocol"], x["llm"]))
    return {"rows": rows, "missing": _not_run(rows)}


def versus(base: dict, other: dict) -> dict | None:
    """ΔF1 of ``other``'s linked output over ``base``'s, with its 95 % paired-bootstrap interval over the
    test sentences, from the per-sentence counts both runs recorded; ``None`` where either run predates
    them.

    This is the comparison an ablation is about: the difference between the two runs on these test
    sentences, given each run's own dev-tuned settings (one seed). Two intervals against the local model
    can overlap while the paired difference is clear, and the reverse. The draws use the default run's
    bootstrap seed and resample count. The two runs must have linked the same predictions of the same
    sentences: the same predictions file and equal local counts, else :class:`DataError` (a group whose
    runs differ there is a broken results tree, not a missing number).
    """
    if not base.get("per_sentence") or not other.get("per_sentence"):
        return None
    local_a, linked_a = counts_from_record(base["per_sentence"])
    local_b, linked_b = counts_from_record(other["per_sentence"])
    if base.get("predictions") != other.get("predictions") or not np.array_equal(local_a, local_b):
        raise DataError(f"{base['key']} and {other['key']} did not link the same local predictions "
                        f"({base.get('predictions')} and {other.get('predictions')}, or their local counts "
                        "differ): they cannot be compared paired; re-run one of them")
    bs = base.get("bootstrap") or {}
    seed, resamples = bs.get("seed", 0), bs.get("resamples", BOOTSTRAP_RESAMPLES)
    delta, lo, hi = bootstrap_counts(linked_a, linked_b, resamples, seed)
    return {"delta_f1": delta, "ci95": [lo, hi], "sentences": int(local_a.shape[0]), "resamples": resamples, "seed": seed}


# run variants: today's default, letter keys, no candidates, the paper's rule; the default re-asked by the AVX-512 build
ABLATIONS = ("", "letters", "nocand", "replace", "avx512")
VARIANT_NAMES = ("default", *ABLATIONS[1:])  # as the ablation rows name them


def ablation(root: str | Path) -> dict:
    """Per system and test set with at least one ablation run: today's default (fuse + candidates) beside the
    same system asking with letter keys (``-letters``), without honest candidates (``-nocand``) and with the
    paper's rule (``-replace``), and asked again from scratch by another llama.cpp build (``-avx512``), each
    with ΔF1 over the local model, its 95 % paired-bootstrap interval and the entities fixed/broken, and
    (``vs_default``) its ΔF1 over the default run itself with a paired interval (:func:`versus`).

    Every run of a group links the same local predictions of the same test set, so their ΔF1 share one
    baseline. Different systems (a tagged generation is another system) are never compared here.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in link_runs(root):
        if r["protocol"] == "honest" and r["threshold"] == "auto" and not r["shots"] and r["variant"] in ABLATIONS:
            groups.setdefault((r["system"], r["evalset"], r["llm"]), []).append(r)
    rows = []
    for (system, evalset, llm), rs in groups.items():
        if len(rs) < 2:
            continue
        base = next((r for r in rs if not r["variant"]), None)
        for r in sorted(rs, key=lambda r: ABLATIONS.index(r["variant"])):
            rows.append({"system": system, "evalset": evalset, "llm": llm, "variant": r["variant"] or "default",
                         **{k: r[k] for k in ("key", "model", "tag", "decision", "option_keys", "candidates",
                                              "candidates_used", "tau",
                                              "route_none", "routed", "local_f1", "linkner_f1", "delta_f1",
                                              "delta_f1_ci95", "fixed", "broken", "fp_removed", "fp_added")},
                         "tune_max_calls": (r["tuning"] or {}).get("dev_cap"),
                         "vs_default": None if base is None or r is base else versus(base, r)})
    rows.sort(key=lambda x: (eval_rank(x["evalset"]), x["system"], x["llm"], VARIANT_NAMES.index(x["variant"])))
    return {"rows": rows, "missing": [] if rows else ["no ablation run (-letters, -nocand, -replace, -avx512) found"]}


def in_context(root: str | Path) -> dict:
    """Runs grouped by everything but shots/selection; groups with more than one member are sweeps."""
    groups: dict[str, list[dict]] = {}
    for r in link_runs(root):
        g = "|".join(str(r[k]) for k in ("system", "evalset", "protocol", "llm", "uncertainty", "threshold", "max_routed", "max_calls"))
        groups.setdefault(g, []).append(r)
    sweeps = []
    for g, rs in sorted(groups.items()):
        if len({(r["shots"], r["retrieve"]) for r in rs}) < 2:
            continue
        first = rs[0]
        points = [{"shots": r["shots"], "selection": "none" if r["shots"] == 0 else ("retrieved" if r["retrieve"] else "random"),
                   "linkner_f1": r["linkner_f1"], "local_f1": r["local_f1"], "llm_accuracy": r["llm_accuracy"],
                   "routed": r["routed"], "prompt_tokens_per_answer": (r["prompt_tokens"] / r["unique_answers"])
                   if r["prompt_tokens"] and r["unique_answers"] else None, "key": r["key"]}
                  for r in sorted(rs, key=lambda r: (r["shots"], r["retrieve"]))]
        sweeps.append({"group": g, **{k: first[k] for k in ("system", "evalset", "protocol", "llm", "uncertainty")},
                       "local_f1": first["local_f1"], "points": points})
    sweeps.sort(key=lambda s: (eval_rank(s["evalset"]), s["system"], s["protocol"], s["llm"]))
    return {"sweeps": sweeps, "missing": [] if sweeps else ["no in-context sweep (runs differing only in shots) found"]}


def pareto_front(points: list[dict], x: str, y: str = "f1") -> list[int]:
    """Indices of the points no other point beats (x lower-or-equal and y higher), sorted by x."""
    idx = sorted((i for i, p in enumerate(points) if p.get(x) is not None and p.get(y) is not None),
                 key=lambda i: (points[i][x], -points[i][y]))
    front, best = [], float("-inf")
    for i in idx:
        if points[i][y] > best:
            front.append(i)
            best = points[i][y]
    return front


def cost(root: str | Path) -> dict:
    """Honest-protocol F1 against LLM calls and seconds per 1,000 test sentences; Pareto front per test set.

    Calls = routed entities (one LLM call each; dev tuning is a one-off and not counted). Seconds are the
    LLM's recorded latency (cached answers keep the latency of the call that made them) plus the local
    model's prediction time from the local evaluation of the same system, where found.
    """
    from linkner.studies.layout import local_dir, read_numbers

    points = []
    local_seen = set()
    for r in link_runs(root):
        if r["protocol"] != "honest" or not r["sentences"]:
            continue
        k = 1000.0 / r["sentences"]
        ev = read_numbers(local_dir(root, r["train"], r["model"], r["tag"]) / f"{r['evalset']}.json") or {}
        sps = ev.get("sentences_per_second")
        local_s = 1000.0 / sps if sps else 0.0
        label = f"{r['system']} · {r['llm']} · " + ("τ tuned on dev" if r["main"] else r["variant"] or f"{r['shots']}-shot")
        points.append({"label": label, "key": r["key"], "system": r["system"], "evalset": r["evalset"], "llm": r["llm"],
                       "shots": r["shots"], "tau": r["tau"], "routed": r["routed"], "sentences": r["sentences"],
                       "calls_per_1k": (r["routed"] or 0) * k, "llm_seconds_per_1k": (r["llm_seconds"] or 0.0) * k,
                       "local_seconds_per_1k": local_s, "seconds_per_1k": (r["llm_seconds"] or 0.0) * k + local_s,
                       "f1": r["linkner_f1"]})
        if (r["system"], r["evalset"]) not in local_seen and r["local_f1"] is not None:
            local_seen.add((r["system"], r["evalset"]))
            points.append({"label": f"{r['system']} local only", "key": f"{r['system']}/{r['evalset']}/local", "system": r["system"],
                           "evalset": r["evalset"], "llm": "none", "shots": 0, "tau": None, "routed": 0, "sentences": r["sentences"],
                           "calls_per_1k": 0.0, "llm_seconds_per_1k": 0.0, "local_seconds_per_1k": local_s,
                           "seconds_per_1k": local_s, "f1": r["local_f1"]})
    points.sort(key=lambda p: (eval_rank(p["evalset"]), p["key"]))
    fronts: dict[str, dict[str, list[str]]] = {}
    for ev in sorted({p["evalset"] for p in points}, key=eval_rank):
        sub = [p for p in points if p["evalset"] == ev]
        fronts[ev] = {x: [sub[i]["key"] for i in pareto_front(sub, x)] for x in ("calls_per_1k", "seconds_per_1k")}
    return {"points": points, "pareto": fronts, "missing": [] if points else ["no honest link run found"]}


def shared_sentences(root: str | Path) -> dict:
    """How often a routed test entity shares its sentence with another routed one, in each main honest run
    (``linked.jsonl``: spans marked ``routed``, kept, rejected or candidates). Those files are not committed
    (their size), so :func:`run_shared_sentences` writes the counts to ``results/cost/shared_sentences.json``
    for the README and notebook 07.

    What asking all of a sentence's routed spans in one prompt could save: the sentence is evaluated once
    instead of once per span, so at most the sentence tokens of the questions after a sentence's first.
    (Consecutive questions on one sentence already share the tokens before the first marked span in the
    KV cache.)"""
    rows, missing = [], []
    for r in link_runs(root):
        if not (r["main"] and r["protocol"] == "honest"):
            continue
        path = Path(root) / "link" / r["key"] / "linked.jsonl"
        if not path.is_file():
            missing.append(r["key"])
            continue
        routed = later = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            s = json.loads(line)
            n = len({(e["start"], e["end"]) for k in ("entities", "rejected", "candidates") for e in s.get(k, [])
                     if e.get("routed")})
            routed, later = routed + n, later + max(0, n - 1)
        rows.append({"key": r["key"], "evalset": r["evalset"], "routed": routed, "after_first_in_sentence": later})
    total, later = sum(x["routed"] for x in rows), sum(x["after_first_in_sentence"] for x in rows)
    return {"runs": rows, "routed": total, "after_first_in_sentence": later,
            "fraction": later / total if total else None, "missing": missing}


def _writer(name: str, fn):
    def run(root: str | Path = "results") -> dict:
        from linkner.studies.experiments import write_results

        return write_results(Path(root) / "studies" / f"{name}.json", fn(root), {"study": name, "root": str(root)})

    run.__name__ = f"run_{name}"
    run.__doc__ = f"Compute the {name} study from ``<root>/link`` and write ``<root>/studies/{name}.json``."
    return run


def run_shared_sentences(root: str | Path = "results") -> dict | None:
    """Write :func:`shared_sentences` to ``<root>/cost/shared_sentences.json`` (needs the runs' linked.jsonl;
    runs without one are listed as ``missing``). Where no run has one (a fresh clone), nothing is written,
    so the committed file is never replaced by an empty one; returns ``None`` then."""
    from linkner.studies.experiments import write_results

    numbers = shared_sentences(root)  # reads every run's linked.jsonl (hundreds of MB): once
    if not numbers["runs"]:
        return None
    return write_results(Path(root) / "cost" / "shared_sentences.json", numbers, {"study": "shared_sentences", "root": str(root)})


run_threshold = _writer("threshold", threshold)
run_linking = _writer("linking", linking)
run_in_context = _writer("in_context", in_context)
run_cost = _writer("cost", cost)
run_ablation = _writer("ablation", ablation)
