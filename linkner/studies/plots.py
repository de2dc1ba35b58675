"""Figure functions of the local-model studies, and the helpers all study figures share (registered in
:data:`linkner.studies.figures.FIGURES`; the linking studies' figures are in :mod:`linkner.studies.plots_link`).

Each takes a study's ``numbers`` block and returns ``(figure, plotted numbers)``. They draw whatever is
there: a panel whose results have not been run yet says so instead of failing. No randomness, fixed
sizes and orders, so the same JSON gives the same bytes (:func:`linkner.studies.figures.save_figure`).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from linkner.studies.layout import EVAL_ORDER, METHODS, MODEL_NAMES, SHIFTED, system_label  # noqa: E402

NOT_RUN = "not yet run"


def _theme() -> None:
    sns.set_theme(style="whitegrid", context="paper")


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"{NOT_RUN}:\n{what}", ha="center", va="center", fontsize=9, color="grey", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _rank(ev: str) -> int:
    return EVAL_ORDER.index(ev) if ev in EVAL_ORDER else len(EVAL_ORDER)


def _model(system: str) -> str:
    return system_label(system)


def _pct(x):
    return None if x is None else 100.0 * x


def _heat(ax, rows: list[str], cols: list[str], table: dict, title: str, cmap: str = "viridis",
          vmin: float | None = None, vmax: float | None = None, what: str = "") -> dict:
    """Annotated heatmap of ``table[row][col]`` (missing cells blank); returns the plotted matrix."""
    if not rows or not cols:
        _empty(ax, what or title)
        ax.set_title(title)
        return {}
    mat = np.array([[np.nan if table.get(r, {}).get(c) is None else table[r][c] for c in cols] for r in rows], dtype=float)
    sns.heatmap(mat, ax=ax, annot=True, fmt=".3f", cmap=cmap, vmin=vmin, vmax=vmax, mask=np.isnan(mat), cbar=False,
                xticklabels=cols, yticklabels=rows, annot_kws={"fontsize": 7})
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30, labelsize=7)
    ax.tick_params(axis="y", rotation=0, labelsize=7)
    return {r: {c: table.get(r, {}).get(c) for c in cols} for r in rows}


def _bars(ax, groups: list[str], series: dict[str, list[float | None]], ylabel: str = "entity F1 (%)") -> None:
    """Grouped bars, one colour per series, values written on top."""
    n = max(1, len(series))
    width = 0.8 / n
    for j, (name, vals) in enumerate(series.items()):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(groups))]
        ys = [np.nan if v is None else v for v in vals]
        ax.bar(xs, ys, width=width, label=name, color=sns.color_palette("deep")[j % 10])
        for x, y in zip(xs, ys):
            if not np.isnan(y):
                ax.text(x, y + 0.8, f"{y:.1f}", ha="center", fontsize=6, rotation=90)
    ax.set_xticks(range(len(groups)), groups, rotation=20, fontsize=7)
    ax.set_xlim(-0.6, max(len(groups), 2) - 0.4)
    ax.set_ylim(0, 110)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="upper right")


# --------------------------------------------------------------------------------------- local models


def local_models(numbers: dict) -> tuple[plt.Figure, dict]:
    """Left: micro F1 of SpanNER and E-NER on every test set. Right: per-type F1 heatmap."""
    _theme()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1.2, 1]})
    rows = numbers.get("rows", [])
    evalsets = sorted({r["evalset"] for r in rows}, key=_rank)
    series: dict[str, list] = {}
    for model in ("spanner", "ener"):
        vals = [next((_pct(r["f1"]) for r in rows if r["model"] == model and r["evalset"] == ev), None) for ev in evalsets]
        if any(v is not None for v in vals):
            series[MODEL_NAMES[model]] = vals
    if rows:
        _bars(ax1, evalsets, series)
    else:
        _empty(ax1, "results/local/*/<test set>.json")
    ax1.set_title("Local models: entity micro F1 per test set")
    per_type = numbers.get("per_type", {})
    keys = sorted(per_type, key=lambda k: (_rank(k.split("/")[1]), k))
    labels = {k: f"{_model(k.split('/')[0])} · {k.split('/')[1]}" for k in keys}
    types = sorted({t for v in per_type.values() for t in v})
    heat = _heat(ax2, [labels[k] for k in keys], types, {labels[k]: per_type[k] for k in keys}, "Per-type F1", vmin=0, vmax=1)
    fig.tight_layout()
    return fig, {"micro_f1_percent": {"evalsets": evalsets, **series}, "per_type_f1": heat}


# ---------------------------------------------------------------------------------------- uncertainty


def uncertainty(numbers: dict) -> tuple[plt.Figure, dict]:
    """Reliability, ECE, misclassification AUROC, OOD AUROC, AURC and risk–coverage, per system and method."""
    _theme()
    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    plotted: dict = {}
    cal = numbers.get("calibration", {})
    keys = sorted(cal, key=lambda k: (_rank(k.split("/")[1]), k))
    name = {k: f"{_model(k.split('/')[0])} · {k.split('/')[1]}" for k in keys}

    ax = axes[0, 0]
    indomain = [k for k in keys if k.split("/")[1] == k.split("/")[0].split("-")[0]]
    plotted["reliability"] = {}
    for k in indomain:
        bins = [b for b in cal[k]["reliability"] if b.get("count")]
        xs, ys = [b["confidence"] for b in bins], [b["accuracy"] for b in bins]
        ax.plot(xs, ys, marker="o", label=f"{name[k]} (ECE {cal[k]['ece']:.3f})" if cal[k].get("ece") is not None else name[k])
        plotted["reliability"][k] = {"confidence": xs, "accuracy": ys, "count": [b["count"] for b in bins]}
    if indomain:
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
        ax.set_xlabel("confidence (span probability)")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=6, loc="upper left")
    else:
        _empty(ax, "results/local/*/<in-domain test set>.json")
    ax.set_title("Reliability (decoded entities, in-domain test)")

    systems = sorted({k.split("/")[0] for k in keys})
    evs = sorted({k.split("/")[1] for k in keys}, key=_rank)
    ece = {_model(s): {ev: cal.get(f"{s}/{ev}", {}).get("ece") for ev in evs} for s in systems}
    plotted["ece"] = _heat(axes[0, 1], [_model(s) for s in systems], evs, ece, "ECE (lower is better)", "rocket_r", 0, None)

    auroc = numbers.get("misclassification_auroc", {})
    methods = [m for m in METHODS if any(m in auroc.get(k, {}) for k in keys)]
    plotted["misclassification_auroc"] = _heat(axes[0, 2], [name[k] for k in keys], methods,
                                               {name[k]: auroc.get(k, {}) for k in keys}, "Misclassification AUROC (higher is better)",
                                               "viridis", 0.5, 1.0)

    ood = numbers.get("ood_auroc", {})
    rows, table = [], {}
    for s in sorted(ood):
        for m in METHODS:
            if m in ood[s]:
                rows.append(f"{_model(s)} · {m}")
                table[rows[-1]] = ood[s][m]
    cols = [c for c in SHIFTED if any(c in v for v in table.values())]
    plotted["ood_auroc"] = _heat(axes[1, 0], rows, cols, table, "OOD AUROC: shifted-set errors vs in-domain correct",
                                 "viridis", 0.5, 1.0, "results/local/conll03-*/ood_auroc.json")

    aurc = numbers.get("aurc", {})
    plotted["aurc"] = _heat(axes[1, 1], [name[k] for k in keys], methods, {name[k]: aurc.get(k, {}) for k in keys},
                            "AURC (lower is better)", "rocket_r", 0, None)

    ax = axes[1, 2]
    rc = numbers.get("risk_coverage", {})
    pick = next((k for k in sorted(rc, key=lambda k: (k.split("/")[1] != "conll03", "ener" not in k, k))), None)
    if pick:
        for m in METHODS:
            if m in rc[pick]:
                ax.plot(rc[pick][m]["coverage"], rc[pick][m]["risk"], label=m)
        ax.set_xlabel("coverage (most certain first)")
        ax.set_ylabel("risk (error rate)")
        ax.legend(fontsize=7)
        ax.set_title(f"Risk–coverage: {name.get(pick, pick)}")
        plotted["risk_coverage"] = {pick: rc[pick]}
    else:
        _empty(ax, "results/local/*/risk_coverage.json\n(python -m linkner.studies.ood PRED_DIR OUT)")
        ax.set_title("Risk–coverage")
    fig.tight_layout()
    return fig, plotted

