"""Same llama.cpp, other CPU kernels: what building the wheel for the CPU it runs on buys.

The noxfile builds llama-cpp-python with the kernels the CPU has (``llama_kernels``: AVX-512 where
every base AVX-512 flag is present, else AVX2; never AMX). The comparison behind that choice is a
set of ``linkner bench --only linking`` runs (``results/bench/llama-build/BUILD-rN/linking.json``):
the same Qwen2.5-Coder-1.5B, the same 40 routed CoNLL-2003 test questions, 2 llama.cpp threads, one
build installed per run and the builds alternated (avx2, avx512, avx2, avx512: ``nox -s llama_build``),
so a drift of the machine's speed falls on both. :func:`compare` reads them: model seconds per question
per run, the ratio of total model seconds over the same questions with a paired bootstrap interval over
the questions and the ratio in each round, and whether the builds gave the same answers (the option
each question's probabilities favour, and the largest difference of an option probability).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linkner.metrics import percentile_ci
from linkner.studies.layout import read_numbers

RESAMPLES, SEED = 1000, 0


def _local_case(doc: dict) -> dict | None:
    cases = [v for k, v in (doc.get("cases") or {}).items() if k.startswith("local-") and "fresh" in v]
    return cases[0] if len(cases) == 1 else None


def _runs(folder: Path) -> dict[str, list[dict]]:
    """Each build's runs in round order (``{"avx2": [run r1, run r2], …}``)."""
    out: dict[str, list[dict]] = {}
    found = []
    for path in folder.glob("*-r*/linking.json"):
        build, _, rnd = path.parent.name.rpartition("-r")
        if rnd.isdigit():
            found.append((int(rnd), build, path))
    for rnd, build, path in sorted(found):
        doc = read_numbers(path)
        case = _local_case(doc) if doc else None
        if case is None or not case["fresh"].get("answers"):
            continue
        out.setdefault(build, []).append({"run": path.parent.name, "round": rnd, "case": case,
                                          "environment": doc.get("environment") or {}})
    return out


def _by_key(run: dict) -> dict[str, dict] | None:
    answers = run["case"]["fresh"]["answers"]
    if not all("key" in a for a in answers):
        return None
    return {a["key"]: a for a in answers}


def compare(root: str | Path = "results", base: str = "avx2", other: str = "avx512") -> dict | None:
    """The ``base`` build against ``other`` on the committed runs: ``None`` when either has none, or when the
    runs did not ask the same questions (by cache key) of the same model on the same threads.

    ``speedup`` is the ratio of total model seconds over the same questions (each question's seconds
    averaged over its build's rounds), its interval a paired bootstrap over the questions: it covers
    which questions were asked, not the machine's drift between runs, which ``round_speedups`` (one
    ratio per round) shows."""
    runs = _runs(Path(root) / "bench" / "llama-build")
    if not runs.get(base) or not runs.get(other):
        return None
    every = [r for b in (base, other) for r in runs[b]]
    keyed = [_by_key(r) for r in every]
    if any(k is None for k in keyed) or len({frozenset(k) for k in keyed}) != 1:
        return None  # not the same questions
    if len({(r["case"]["model"], r["case"].get("threads")) for r in every}) != 1:
        return None
    questions = sorted(keyed[0])
    by_run = dict(zip((r["run"] for r in every), keyed, strict=True))

    def seconds(run: dict) -> np.ndarray:
        return np.array([by_run[run["run"]][q]["seconds"] for q in questions])

    mean = {b: np.mean([seconds(r) for r in runs[b]], axis=0) for b in (base, other)}
    rng = np.random.default_rng(SEED)
    idx = rng.integers(0, len(questions), size=(RESAMPLES, len(questions)))
    lo, hi = percentile_ci(mean[base][idx].sum(1) / mean[other][idx].sum(1))
    other_by_round = {r["round"]: r for r in runs[other]}
    rounds = {r["round"]: float(seconds(r).sum() / seconds(other_by_round[r["round"]]).sum())
              for r in runs[base] if r["round"] in other_by_round}
    compared = same = 0
    diff = 0.0
    for q in questions:
        ps = [k[q]["probs"] for k in keyed]
        if any(p is None for p in ps):
            continue
        compared += 1
        same += len({max(p, key=p.get) for p in ps}) == 1
        diff = max(diff, *(abs(p.get(o, 0.0) - ps[0].get(o, 0.0)) for p in ps for o in ps[0]))
    first = runs[base][0]
    return {
        "builds": {b: {"kernels": runs[b][0]["case"].get("kernels"), "runs": [r["run"] for r in runs[b]],
                       "model_seconds_per_question": [float(seconds(r).mean()) for r in runs[b]]}
                   for b in (base, other)},
        "model": first["case"]["model"], "threads": first["case"].get("threads"), "questions": len(questions),
        "cpu": first["environment"].get("cpu"),
        "speedup": float(mean[base].sum() / mean[other].sum()), "speedup_ci95": [float(lo), float(hi)],
        "round_speedups": [rounds[k] for k in sorted(rounds)],
        "compared": compared, "same_choice": same, "max_abs_prob_diff": round(diff, 4),
        "resamples": RESAMPLES, "seed": SEED,
    }
