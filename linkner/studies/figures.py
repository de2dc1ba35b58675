"""Regenerate figures from committed results, byte-for-byte reproducibly.

Each entry maps a figure name to the results JSON it reads and the name of the function that draws it
(in :mod:`linkner.studies.plots`, :mod:`linkner.studies.plots_link` or :mod:`linkner.studies.plots_misc`;
looked up by :func:`draw_function`, so importing this module does not import matplotlib). Saving strips the time stamps and software strings matplotlib would embed, so the same
JSON in gives the same PNG/PDF bytes out (a test checks this).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

FIGURES: dict[str, tuple[str, str]] = {
    # name: (results file relative to the results dir, plots function name)
    "data_overview": ("data/overview.json", "data_overview"),
    "local_models": ("studies/local_models.json", "local_models"),
    "uncertainty": ("studies/uncertainty.json", "uncertainty"),
    "threshold": ("studies/threshold.json", "threshold"),
    "linking": ("studies/linking.json", "linking"),
    "ablation": ("studies/ablation.json", "ablation"),
    "in_context": ("studies/in_context.json", "in_context"),
    "cost": ("studies/cost.json", "cost"),
    "paper_vs_ours": ("studies/paper_vs_ours.json", "paper_vs_ours"),
    "bench": ("bench/summary.json", "bench_overview"),  # linkner bench (merges results/bench/*.json)
}


def save_figure(fig, plotted: dict, out_dir: str | Path, name: str) -> list[Path]:
    """Write NAME.png, NAME.pdf and NAME.json (the plotted numbers) without volatile metadata."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf", out / f"{name}.json"]
    fig.savefig(paths[0], dpi=150, metadata={"Software": None})
    fig.savefig(paths[1], metadata={"Creator": None, "Producer": None, "CreationDate": None})
    plt.close(fig)
    paths[2].write_text(json.dumps(plotted, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return paths


def draw_function(name: str) -> Callable:
    """The function that draws figure ``name`` from its results' ``numbers`` block."""
    from linkner.studies import plots, plots_link, plots_misc

    fn_name = FIGURES[name][1]
    for module in (plots, plots_link, plots_misc):
        if hasattr(module, fn_name):
            return getattr(module, fn_name)
    raise KeyError(f"no plot function {fn_name!r} for figure {name!r}")


def make_figure(name: str, results_dir: str | Path = "results", out_dir: str | Path = "figures") -> list[Path]:
    rel, _ = FIGURES[name]
    doc = json.loads((Path(results_dir) / rel).read_text(encoding="utf-8"))
    draw = draw_function(name)
    fig, plotted = draw(doc["numbers"])
    return save_figure(fig, plotted, out_dir, name)


def make_all(results_dir: str | Path = "results", out_dir: str | Path = "figures") -> dict[str, list[Path] | str]:
    """Every figure whose results exist; the others are reported as missing, not failed."""
    done: dict[str, list[Path] | str] = {}
    for name, (rel, _) in FIGURES.items():
        if (Path(results_dir) / rel).exists():
            done[name] = make_figure(name, results_dir, out_dir)
        else:
            done[name] = f"missing {Path(results_dir) / rel}"
    return done
