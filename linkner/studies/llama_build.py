"""Same llama.cpp, other CPU kernels: what building the wheel for the CPU it runs on buys.

The noxfile builds llama-cpp-python with the kernels the CPU has (``llama_kernels``: AVX-512 where
every base AVX-512 flag is present, else AVX2; never AMX). The comparison behind that choice is a
set of ``linkner bench --only linking`` runs (``results/bench/llama-build/BUILD-rN/linking.json``):
the same Qwen2.5-Coder-1.5B, the same 40 routed CoNLL-2003 test questions, 2 llama.cpp threads, one
build installed per run and the builds alternated (avx2, avx512, avx2, avx512), so a drift of the
machine's speed falls on both. :func:`compare` reads them: seconds per routed entity per run, the
ratio of total model seconds over the same questions with a paired bootstrap interval over questions,
and whether the builds gave the same answers (the option each question's probabilities favour, and
the largest difference of an option probability).
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
    for path in sorted(folder.glob("*-r*/linking.json"), key=lambda p: (p.parent.name.rsplit("-r", 1)[1], p.parent.name)):
        doc = read_numbers(path)
        case = _local_case(doc) if doc else None
        if case is None or not case["fresh"].get("answers"):
            continue
        build = path.parent.name.rsplit("-r", 1)[0]
        out.setdefault(build, []).append({"run": path.parent.name, "case": case, "environment": doc.get("environment") or {}})
    return out


def compare(root: str | Path = "results", base: str = "avx2", other: str = "avx512") -> dict | None:
    """The ``base`` build against ``other`` on the committed runs (``None`` when either has none)."""
    runs = _runs(Path(root) / "bench" / "llama-build")
    if not runs.get(base) or not runs.get(other):
        return None
    answers = {b: [r["case"]["fresh"]["answers"] for r in runs[b]] for b in (base, other)}
    n = {len(a) for rs in answers.values() for a in rs}
    if len(n) != 1:
        return None  # runs of different sizes are not the same questions
    seconds = {b: np.mean([[a["seconds"] for a in run] for run in answers[b]], axis=0) for b in (base, other)}
    rng = np.random.default_rng(SEED)
    q = len(seconds[base])
    idx = rng.integers(0, q, size=(RESAMPLES, q))
    ratios = seconds[base][idx].sum(1) / seconds[other][idx].sum(1)
    lo, hi = percentile_ci(ratios)
    probs = [[a["probs"] for a in run] for b in (base, other) for run in answers[b]]
    same, diff = 0, 0.0
    for i in range(q):
        ps = [run[i] for run in probs]
        if all(p is not None for p in ps):
            same += len({max(p, key=p.get) for p in ps}) == 1
            diff = max(diff, *(abs(p.get(k, 0.0) - ps[0].get(k, 0.0)) for p in ps for k in ps[0]))
    first = runs[base][0]
    return {
        "builds": {b: {"kernels": runs[b][0]["case"].get("kernels"), "runs": [r["run"] for r in runs[b]],
                       "seconds_per_routed_entity": [r["case"]["fresh"]["wall_seconds_per_entity"] for r in runs[b]]}
                   for b in (base, other)},
        "model": first["case"]["model"], "threads": first["case"].get("threads"), "questions": q,
        "cpu": first["environment"].get("cpu"),
        "speedup": float(seconds[base].sum() / seconds[other].sum()), "speedup_ci95": [float(lo), float(hi)],
        "same_choice": same, "max_abs_prob_diff": round(diff, 4), "resamples": RESAMPLES, "seed": SEED,
    }
