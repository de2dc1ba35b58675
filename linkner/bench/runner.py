"""Run the benchmark: each part's cases, each case in a fresh subprocess, then one results JSON per
part (``OUT/PART.json``), a merged ``OUT/summary.json`` and the figure.

A fresh process per case keeps peak-RSS numbers clean (a model loaded for one case cannot inflate
another's) and makes every case start cold in the same way. The child reports its own peak RSS
(``VmHWM``, see :func:`linkner.bench.common.peak_rss_mb`) and the CPU/threads/versions it ran with. ``isolate=False`` runs the cases in
this process instead (tests; peak RSS is then not per case).

The worker entry point is ``python -m linkner.bench.runner PART CASE CONFIG.json RESULT.json``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from linkner.bench.common import PARTS, BenchConfig, Skip, environment, peak_rss_mb, set_threads
from linkner.configio import from_dict, to_dict


def part_module(part: str):
    return importlib.import_module(f"linkner.bench.{part}")


def run_case_here(part: str, case: str, cfg: BenchConfig) -> dict:
    """Run one case in this process and return its result, with time and memory, or the reason it
    did not run (``skipped`` for a missing optional piece, ``error`` for a failure)."""
    # torch is imported only for cases that use it (spaCy's memory must not include torch's)
    if "torch" in sys.modules:
        threads = set_threads(cfg.threads)
    else:  # read by torch's OpenMP runtime when a case imports it
        threads = None
        if cfg.threads:
            os.environ["OMP_NUM_THREADS"] = str(cfg.threads)
    t0 = time.perf_counter()
    try:
        result = part_module(part).run_case(case, cfg)
    except Skip as exc:
        result = {"skipped": str(exc)}
    except Exception as exc:  # one broken case must not lose the others' numbers
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=6)}
    result["wall_s"] = round(time.perf_counter() - t0, 3)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["torch_threads"] = threads if threads is not None else (set_threads(None) if "torch" in sys.modules else None)
    result["environment"] = environment()
    return result


def run_case_isolated(part: str, case: str, cfg: BenchConfig, timeout: float | None = None) -> dict:
    """Run one case in a fresh ``python -m linkner.bench.runner`` process."""
    with tempfile.TemporaryDirectory(prefix="linkner-bench-") as tmp:
        cfg_file, res_file = Path(tmp) / "config.json", Path(tmp) / "result.json"
        cfg_file.write_text(json.dumps(to_dict(cfg)), encoding="utf-8")
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        if cfg.threads:
            env["OMP_NUM_THREADS"] = str(cfg.threads)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "linkner.bench.runner", part, case, str(cfg_file), str(res_file)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if res_file.is_file():
            result = json.loads(res_file.read_text(encoding="utf-8"))
        else:
            result = {"error": f"worker exited with code {proc.returncode}", "output_tail": proc.stdout[-3000:]}
        result["process_wall_s"] = round(time.perf_counter() - t0, 3)
        return result


def run_part(part: str, cfg: BenchConfig, say: Callable[[str], None] = print) -> dict:
    """All cases of ``part``; writes ``OUT/PART.json`` and returns its document."""
    from linkner.studies.experiments import write_results

    mod = part_module(part)
    results = {}
    with tempfile.TemporaryDirectory(prefix=f"linkner-bench-{part}-") as work:
        pcfg = from_dict(BenchConfig, {**to_dict(cfg), "workdir": work}, "bench")
        for case in mod.cases(pcfg):
            say(f"[{part}] {case} …")
            results[case] = run_case_isolated(part, case, pcfg) if cfg.isolate else run_case_here(part, case, pcfg)
            r = results[case]
            note = r.get("skipped") or (r.get("error") and "ERROR " + r["error"]) or f"{r['wall_s']:.1f}s, peak RSS {r['peak_rss_mb']:.0f} MB"
            say(f"[{part}] {case}: {note}")
    # measured in the workers (this process stays free of torch, so it cannot inflate their memory)
    envs = [r.pop("environment") for r in results.values() if "environment" in r]
    numbers = mod.summarize(results, cfg)
    numbers["environment"] = envs[0] if envs else None
    numbers["isolated_processes"] = cfg.isolate
    config = {"part": part, **{k: v for k, v in to_dict(cfg).items() if k not in ("workdir", "extra")}}
    return write_results(Path(cfg.out) / f"{part}.json", numbers, config)


def write_summary(out: str | Path) -> dict:
    """Merge every ``OUT/PART.json`` present into ``OUT/summary.json`` (what the figure reads)."""
    from linkner.studies.experiments import write_results

    out = Path(out)
    numbers, runs = {}, {}
    for part in PARTS:
        f = out / f"{part}.json"
        if f.is_file():
            doc = json.loads(f.read_text(encoding="utf-8"))
            numbers[part] = {k: v for k, v in doc["numbers"].items() if k != "cases"}
            runs[part] = doc.get("run", {}).get("date")
    return write_results(out / "summary.json", numbers, {"study": "bench", "parts": sorted(numbers), "part_dates": runs})


def run_bench(cfg: BenchConfig, figure_dir: str | Path | None = "figures", say: Callable[[str], None] = print) -> dict:
    """Run the selected parts, then the summary and (with ``figure_dir``) the figure ``bench``."""
    if cfg.quick:
        cfg = cfg.quick_version()  # idempotent
    docs = {part: run_part(part, cfg, say) for part in cfg.parts}
    summary = write_summary(cfg.out)
    if figure_dir is not None:
        from linkner.studies.figures import save_figure
        from linkner.studies.plots_misc import bench_overview

        fig, plotted = bench_overview(summary["numbers"])
        summary["figure"] = [str(p) for p in save_figure(fig, plotted, figure_dir, "bench")]
    return {"parts": docs, "summary": summary}


def _worker(argv: list[str]) -> None:
    part, case, cfg_file, res_file = argv
    cfg = from_dict(BenchConfig, json.loads(Path(cfg_file).read_text(encoding="utf-8")), cfg_file)
    result = run_case_here(part, case, cfg)
    Path(res_file).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    _worker(sys.argv[1:])
