"""Figure functions of the linking studies and of paper-vs-ours (helpers in :mod:`linkner.studies.plots`)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from linkner.studies.layout import EVAL_ORDER, MODEL_NAMES
from linkner.studies.linking import VARIANT_NAMES
from linkner.studies.plots import _bars, _empty, _model, _pct, _rank, _theme

# ------------------------------------------------------------------------------------------ threshold


def threshold(numbers: dict) -> tuple[plt.Figure, dict]:
    """Per tuned run: dev LinkNER F1 and routed fraction against τ; tuned, budget and test points."""
    _theme()
    runs = numbers.get("runs", [])[:9]
    n = max(1, len(runs))
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4 * nrows), squeeze=False)
    plotted = []
    if not runs:
        _empty(axes[0, 0], "results/link/*/*/metrics.json with threshold=auto")
    for ax, r in zip(axes.flat, runs):
        curve = sorted(r["curve"], key=lambda c: c["tau"])
        taus = [c["tau"] for c in curve]
        ax.plot(taus, [100 * c["f1"] for c in curve], color="C0", marker=".", label="LinkNER F1 (dev)")
        if r.get("dev_local_f1") is not None:
            ax.axhline(100 * r["dev_local_f1"], color="grey", ls=":", label="local F1 (dev)")
        t = r["tuned"]
        if t.get("tau") is not None and t.get("f1") is not None:
            ax.plot([t["tau"]], [100 * t["f1"]], marker="*", ms=13, color="C3", ls="none", label="tuned on dev")
        b = r.get("budget")
        if b:
            ax.plot([b["tau"]], [100 * b["f1"]], marker="s", ms=8, color="C2", ls="none", mfc="none", label=f"budget ({b['cap']} dev calls)")
        test = r["test"]
        if test.get("tau") is not None and test.get("linkner_f1") is not None:
            ax.plot([test["tau"]], [100 * test["linkner_f1"]], marker="D", color="C1", ls="none", label="test at tuned τ")
        ax.set_xlabel("routing threshold τ (route u > τ)")
        ax.set_ylabel("entity F1 (%)")
        ax2 = ax.twinx()
        ax2.plot(taus, [c["routed_fraction"] for c in curve], color="C4", ls="--", lw=1)
        ax2.set_ylim(0, 1.02)
        ax2.set_ylabel("routed fraction (dashed)", color="C4")
        ax2.grid(False)
        ax.set_title(f"{r['evalset']} · {_model(r['system'])} · {r['protocol']}\n{r['llm']}, u = {r['uncertainty']}", fontsize=8)
        ax.legend(fontsize=6, loc="lower left")
        plotted.append({"key": r["key"], "tau": taus, "f1": [c["f1"] for c in curve],
                        "routed_fraction": [c["routed_fraction"] for c in curve], "tuned": t, "budget": b, "test": test})
    for ax in list(axes.flat)[len(runs):] if runs else list(axes.flat)[1:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig, {"runs": plotted}


# ------------------------------------------------------------------------------------------- linking


def linking(numbers: dict) -> tuple[plt.Figure, dict]:
    """ΔF1 (LinkNER − local, F1 points) per test set and system with its 95 % paired-bootstrap interval;
    honest protocol left, paper protocol right.

    A difference is what linking is about, so it is drawn around a zero line instead of as two absolute
    bars on a 0–100 axis (where ±0.5 points is invisible). Both panels plot the bootstrapped ΔF1 of the
    outputs scored honestly (the only per-sentence score there is); the paper panel adds the paper's own
    count-based Δ as crosses. Runs made before intervals were recorded are hollow points without bars.
    """
    _theme()
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.2))
    rows = numbers.get("rows", [])
    plotted = {}
    for ax, proto in zip(axes, ("honest", "paper")):
        sub = [r for r in rows if r["protocol"] == proto]
        groups = sorted({(r["evalset"], r["system"]) for r in sub}, key=lambda g: (_rank(g[0]), g[1]))
        llms = sorted({r["llm"] for r in sub})
        out = {"groups": [list(g) for g in groups]}
        if not groups:
            _empty(ax, f"zero-shot {proto}-protocol link runs")
        width = 0.8 / max(1, len(llms))
        no_ci_marked = False
        for j, llm in enumerate(llms):
            color = sns.color_palette("deep")[j % 10]
            pts, labelled = [], set()

            def label(kind: str, text: str, labelled: set = labelled) -> str | None:  # one legend entry per kind and LLM
                if kind in labelled:
                    return None
                labelled.add(kind)
                return text

            for i, g in enumerate(groups):
                r = next((r for r in sub if (r["evalset"], r["system"]) == g and r["llm"] == llm), None)
                if r is None or r.get("delta_f1") is None:
                    pts.append(None)
                    continue
                x, d, ci = i - 0.4 + width * (j + 0.5), 100 * r["delta_f1"], r.get("delta_f1_ci95")
                if ci:
                    ax.errorbar([x], [d], yerr=[[d - 100 * ci[0]], [100 * ci[1] - d]], fmt="o", color=color, capsize=3,
                                ms=5, label=label("ci", f"{llm}: ΔF1, 95 % CI"))
                else:
                    ax.plot([x], [d], marker="o", mfc="none", color=color, ls="none", ms=6,
                            label=None if no_ci_marked else "no CI recorded (older run)")
                    no_ci_marked = True
                paper_d = None
                if proto == "paper" and r.get("paper_linkner_f1") is not None and r.get("paper_local_f1") is not None:
                    paper_d = 100 * (r["paper_linkner_f1"] - r["paper_local_f1"])
                    ax.plot([x], [paper_d], marker="x", color=color, ls="none", ms=6, label=label("paper", f"{llm}: paper counts' Δ"))
                pts.append({"x": round(x, 4), "delta": d, "ci95": [100 * ci[0], 100 * ci[1]] if ci else None,
                            "paper_delta": paper_d})
            out[llm] = pts
        ax.axhline(0, color="black", lw=0.9)
        if groups:
            ax.set_xticks(range(len(groups)), [f"{ev}\n{_model(s)}" for ev, s in groups], rotation=35, ha="right",
                          rotation_mode="anchor", fontsize=7)
            ax.set_xlim(-0.6, len(groups) - 0.4)
            ax.legend(fontsize=7, loc="best")
        ax.set_ylabel("ΔF1, LinkNER − local (F1 points)")
        ax.set_title("Honest protocol (gold never routed; seqeval F1)" if proto == "honest"
                     else "Paper protocol (outputs scored honestly; × = original link_metrics counts)")
        plotted[proto] = out
    fig.tight_layout()
    return fig, plotted


# ------------------------------------------------------------------------------------------ ablation


def ablation(numbers: dict) -> tuple[plt.Figure, dict]:
    """ΔF1 with its 95 % CI per system and test set (x) for the default and each ablation (colour)."""
    _theme()
    rows = numbers.get("rows", [])
    groups = sorted({(r["evalset"], r["system"]) for r in rows}, key=lambda g: (_rank(g[0]), g[1]))
    variants = [v for v in VARIANT_NAMES if any(r["variant"] == v for r in rows)]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.8 * len(groups) + 2), 4.2))
    plotted: dict = {"groups": [list(g) for g in groups]}
    if not groups:
        _empty(ax, "honest runs with -nocand / -replace variants")
    width = 0.8 / max(1, len(variants))
    for j, v in enumerate(variants):
        pts = []
        for i, g in enumerate(groups):
            r = next((r for r in rows if (r["evalset"], r["system"]) == g and r["variant"] == v), None)
            if r is None or r["delta_f1"] is None:
                pts.append(None)
                continue
            x, d, ci = i - 0.4 + width * (j + 0.5), 100 * r["delta_f1"], r["delta_f1_ci95"]
            yerr = [[d - 100 * ci[0]], [100 * ci[1] - d]] if ci else None
            ax.errorbar([x], [d], yerr=yerr, fmt="o", color=sns.color_palette("deep")[j], capsize=3, ms=5,
                        label=v)  # one legend entry per variant: deduplicated below
            pts.append({"x": round(x, 4), "delta": d, "ci95": [100 * ci[0], 100 * ci[1]] if ci else None})
        plotted[v] = pts
    ax.axhline(0, color="black", lw=0.9)
    if groups:
        ax.set_xticks(range(len(groups)), [f"{ev}\n{_model(s)}" for ev, s in groups], fontsize=7)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        handles, labels = ax.get_legend_handles_labels()
        seen = {}
        for h, lab in zip(handles, labels):
            seen.setdefault(lab, h)
        ax.legend(seen.values(), seen.keys(), fontsize=7, loc="best")
    ax.set_ylabel("ΔF1, LinkNER − local (F1 points)")
    ax.set_title("Ablation, honest protocol: default (fuse + candidates), letter keys, without candidates, the paper's "
                 "replace, the default re-asked by the AVX-512 llama.cpp build")
    fig.tight_layout()
    return fig, plotted


# ---------------------------------------------------------------------------------------- in-context


def in_context(numbers: dict) -> tuple[plt.Figure, dict]:
    """Per sweep: LinkNER F1 (top) and LLM accuracy on routed entities (bottom) against shots."""
    _theme()
    sweeps = numbers.get("sweeps", [])[:4]
    n = max(1, len(sweeps))
    fig, axes = plt.subplots(2, n, figsize=(5 * n, 7.5), squeeze=False)
    plotted = []
    if not sweeps:
        _empty(axes[0, 0], "link runs differing only in shots")
        axes[1, 0].set_visible(False)
    for j, s in enumerate(sweeps):
        pts = s["points"]
        zero = [p for p in pts if p["shots"] == 0]
        out = {"key": s["group"]}
        for row, (metric, label) in enumerate((("linkner_f1", "LinkNER F1 (%)"), ("llm_accuracy", "LLM accuracy on routed (%)"))):
            ax = axes[row, j]
            for sel, color in (("random", "C0"), ("retrieved", "C1")):
                line = sorted(zero + [p for p in pts if p["selection"] == sel], key=lambda p: p["shots"])
                xs = [p["shots"] for p in line]
                ys = [np.nan if p[metric] is None else 100 * p[metric] for p in line]
                ax.plot(xs, ys, marker="o", color=color, label=f"{sel} demonstrations")
                out[f"{metric}/{sel}"] = {"shots": xs, "value": [None if np.isnan(y) else y for y in ys]}
            if metric == "linkner_f1" and s.get("local_f1") is not None:
                ax.axhline(100 * s["local_f1"], color="grey", ls=":", label="local only")
            ax.set_xticks(sorted({p["shots"] for p in pts}))
            ax.set_xlabel("shots (demonstrations per entity type)")
            ax.set_ylabel(label)
            ax.legend(fontsize=7)
            if row == 0:
                ax.set_title(f"{s['evalset']} · {_model(s['system'])} · {s['protocol']}\n{s['llm']}", fontsize=8)
        plotted.append(out)
    fig.tight_layout()
    return fig, {"sweeps": plotted}


# ----------------------------------------------------------------------------------------------- cost


def cost(numbers: dict) -> tuple[plt.Figure, dict]:
    """F1 against LLM calls and against seconds per 1,000 sentences; Pareto front per test set."""
    _theme()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    points = numbers.get("points", [])
    fronts = numbers.get("pareto", {})
    evs = sorted({p["evalset"] for p in points}, key=_rank)
    llms = sorted({p["llm"] for p in points})
    markers = dict(zip(llms, "osD^vP*X"))
    plotted = {}
    for ax, x, label in zip(axes, ("calls_per_1k", "seconds_per_1k"), ("LLM calls per 1,000 sentences", "seconds per 1,000 sentences (local + LLM)")):
        if not points:
            _empty(ax, "honest-protocol link runs")
            continue
        for i, ev in enumerate(evs):
            color = sns.color_palette("deep")[i % 10]
            sub = [p for p in points if p["evalset"] == ev]
            for llm in llms:
                q = [p for p in sub if p["llm"] == llm]
                if q:
                    ax.scatter([p[x] for p in q], [100 * p["f1"] for p in q], color=color, marker=markers[llm], s=30,
                               label=f"{ev} · {llm}")
            front = [next(p for p in sub if p["key"] == k) for k in fronts.get(ev, {}).get(x, [])]
            ax.step([p[x] for p in front], [100 * p["f1"] for p in front], where="post", color=color, lw=1, alpha=0.7)
            plotted.setdefault(x, {})[ev] = {"front": [p["key"] for p in front],
                                             "points": {p["key"]: [p[x], p["f1"]] for p in sub}}
        ax.set_xlabel(label)
        ax.set_ylabel("entity F1 (%)")
        ax.legend(fontsize=6)
    axes[0].set_title("F1 against LLM calls (Pareto front: line)")
    axes[1].set_title("F1 against time")
    fig.tight_layout()
    return fig, plotted


# -------------------------------------------------------------------------------------- paper vs ours


def _pick(ours: list[dict], **want) -> float | None:
    """The first of our entries matching ``want`` (E-NER before SpanNER, as the entries are ordered)."""
    cand = [o for o in ours if all(o.get(k) == v for k, v in want.items())]
    cand.sort(key=lambda o: (o.get("model") != "ener", str(o.get("llm")), o["source"]))
    return cand[0] if cand else None


def paper_vs_ours(numbers: dict) -> tuple[plt.Figure, dict]:
    """Local F1, LinkNER gain (ours vs the recovered reference numbers), and the early-code τ curves."""
    _theme()
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.8), gridspec_kw={"width_ratios": [1.2, 1, 1]})
    comps = numbers.get("comparisons", [])
    evs = [ev for ev in EVAL_ORDER + ["ontonotes5"] if any(c["evalset"] == ev and c["quantity"] == "local_f1" for c in comps)]

    def ref(prefix: str, q: str, ev: str) -> float | None:
        c = next((c for c in comps if c["id"].startswith(prefix) and c["quantity"] == q and c["evalset"] == ev), None)
        return c["paper"] if c else None

    def ours(q: str, ev: str, **want):
        c = next((c for c in comps if c["quantity"] == q and c["evalset"] == ev and c["ours"]), None)
        return _pick(c["ours"], **want) if c else None

    local = {"paper early code (τ curve at 0)": [_pct(ref("early_code/", "local_f1", ev)) for ev in evs],
             "paper file-name hint": [_pct(ref("file_name_hint/", "local_f1", ev)) for ev in evs],
             "SpanNER BERT-large (released)": [_pct(ref("spanner/lenDecode/recomputed", "local_f1", ev)) for ev in evs]}
    for model in ("spanner", "ener"):
        local[f"ours {MODEL_NAMES[model]}"] = [_pct((ours("local_f1", ev, model=model, protocol="honest") or {}).get("value")) for ev in evs]
    _bars(axes[0], evs, local)
    axes[0].set_title("Local model F1: reference (unverified) vs ours")

    gain_evs = [ev for ev in evs if ref("early_code/", "linkner_f1", ev) is not None]
    gain = {"paper early code (paper protocol)": [_pct(ref("early_code/", "linkner_f1", ev) - ref("early_code/", "local_f1", ev)) for ev in gain_evs]}
    for proto in ("paper", "honest"):
        vals = []
        for ev in gain_evs:
            o = ours("linkner_f1", ev, protocol=proto)
            vals.append(_pct(o["value"] - o["baseline"]) if o and o.get("value") is not None and o.get("baseline") is not None else None)
        gain[f"ours ({proto} protocol)"] = vals
    ax = axes[1]
    width = 0.8 / len(gain)
    for j, (name, vals) in enumerate(gain.items()):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(gain_evs))]
        ax.bar(xs, [np.nan if v is None else v for v in vals], width=width, label=name, color=sns.color_palette("deep")[j])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(gain_evs)), gain_evs, rotation=20, fontsize=7)
    ax.set_ylabel("LinkNER F1 − local F1 (points)")
    ax.legend(fontsize=7)
    ax.set_title("Gain from linking")

    ax = axes[2]
    tc = numbers.get("threshold_curves", {})
    curves = tc.get("curves", {})
    for ev in sorted(curves, key=_rank):
        c = curves[ev]
        k = min(len(c["local"]), len(c["linkner"]))
        ax.plot([i / 10 for i in range(k)], [100 * (c["linkner"][i] - c["local"][i]) for i in range(k)], marker=".", label=ev)
    if curves:
        ax.set_xlabel("th (spans with u ≥ th)")
        ax.set_ylabel("LinkNER − local F1 (points)")
        ax.legend(fontsize=7)
    else:
        _empty(ax, "threshold curves")
    ax.set_title("Reference: early-code threshold curves (not comparable to our dev curve)", fontsize=8)
    fig.tight_layout()
    return fig, {"evalsets": evs, "local_f1_percent": local, "gain_evalsets": gain_evs, "gain_points": gain}
