"""Figure functions outside the paper's studies: data overview, the demo summary and the benchmarks.

They take the parsed ``numbers`` block and return the plotted numbers as a dict, which
:mod:`linkner.studies.figures` saves beside the PNG/PDF (so every figure has its data in plain JSON).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from linkner.studies.layout import EVAL_ORDER  # noqa: E402


def data_overview(numbers: dict) -> tuple[plt.Figure, dict]:
    """Three panels: entity types per test set, entity-length distribution, unseen-entity rate."""
    sns.set_theme(style="whitegrid", context="paper")
    tests = [n for n in EVAL_ORDER if f"{n}/test" in numbers["splits"]]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), gridspec_kw={"width_ratios": [1.3, 1, 1]})

    types = {n: numbers["splits"][f"{n}/test"]["per_type"] for n in tests}
    shares = {n: {t: c / max(1, sum(tc.values())) for t, c in tc.items()} for n, tc in types.items()}
    bottom = [0.0] * len(tests)
    all_types = sorted({t for tc in types.values() for t in tc})
    palette = sns.color_palette("tab20", len(all_types))
    for color, t in zip(palette, all_types):
        vals = [shares[n].get(t, 0.0) for n in tests]
        axes[0].bar(tests, vals, bottom=bottom, color=color, label=t)
        bottom = [b + v for b, v in zip(bottom, vals)]
    axes[0].set_title("Entity types (share of test mentions)")
    axes[0].tick_params(axis="x", rotation=45)
    axes[0].legend(fontsize=6, ncol=1, loc="upper left", bbox_to_anchor=(1.0, 1.0))

    lengths = {}
    for n in tests:
        hist = {int(k): v for k, v in numbers["splits"][f"{n}/test"]["length_histogram"].items()}
        total = sum(hist.values())
        lengths[n] = [sum(v for k, v in hist.items() if (k == L if L < 6 else k >= 6)) / total for L in range(1, 7)]
        axes[1].plot(range(1, 7), lengths[n], marker="o", label=n)
    axes[1].set_xticks(range(1, 7), ["1", "2", "3", "4", "5", "≥6"])
    axes[1].set_title("Entity length in tokens (share)")
    axes[1].legend(fontsize=6)

    unseen = {n: numbers["unseen_rate"][n] for n in tests}
    axes[2].bar(tests, [unseen[n] for n in tests], color=sns.color_palette("deep")[3])
    axes[2].set_title("Test mentions unseen as train entities")
    axes[2].set_ylim(0, 1)
    axes[2].tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig, {"type_share": shares, "length_share_1_to_6plus": lengths, "unseen_rate": unseen}


def demo_summary(numbers: dict) -> tuple[plt.Figure, dict]:
    """Left: dev F1 against the routing threshold (the tuned τ marked). Right: test F1, local vs LinkNER."""
    sns.set_theme(style="whitegrid", context="paper")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    curve = numbers.get("dev_curve") or []
    if curve:
        ax1.plot([c["tau"] for c in curve], [100 * c["f1"] for c in curve], marker=".", label="LinkNER (dev)")
        ax1.axhline(100 * curve[0]["f1"], color="grey", ls="--", label="local only (dev)")
        if numbers["tau"] is not None:  # None: no dev cut was supported by the bootstrap, nothing routed (τ = +∞)
            ax1.axvline(numbers["tau"], color="C3", ls=":", label=f"tuned τ = {numbers['tau']:.3f}")
        ax1.set_xlabel("routing threshold τ (uncertainty)")
        ax1.set_ylabel("entity F1 (%)")
        ax1.legend(fontsize=7)
    ax1.set_title("Threshold tuned on dev" + (" (route none: τ = +∞)" if numbers.get("tau") is None and curve else ""))
    bars = {"local": 100 * numbers["local_f1"], "LinkNER": 100 * numbers["linkner_f1"]}
    ax2.bar(list(bars), list(bars.values()), color=["grey", "C0"])
    for i, v in enumerate(bars.values()):
        ax2.text(i, v + 0.5, f"{v:.2f}", ha="center")
    ax2.set_ylim(0, 100)
    ax2.set_title(f"Test: {numbers['routed']}/{numbers['entities']} entities routed ({100 * numbers['routed_fraction']:.1f} %)")
    ax2.set_ylabel("entity F1 (%)")
    fig.tight_layout()
    return fig, {"dev_curve": curve, "test_f1": bars, "routed_fraction": numbers["routed_fraction"], "tau": numbers["tau"]}


def bench_overview(numbers: dict) -> tuple[plt.Figure, dict]:
    """``linkner bench`` on one machine (results/bench/summary.json): throughput and F1 against the
    alternatives, scaling, linking and training cost. Panels whose part was not run say so."""
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(2, 3, figsize=(15, 8.5))
    ax = ax.ravel()
    plotted: dict = {}

    def empty(a, title: str) -> None:
        a.set_title(title)
        a.text(0.5, 0.5, "not measured", ha="center", va="center", transform=a.transAxes, color="grey")
        a.set_xticks([])
        a.set_yticks([])

    inf = (numbers.get("inference") or {}).get("table") or {}
    base = (numbers.get("baselines") or {}).get("table") or {}
    speed = {}
    for prec, row in inf.items():
        speed[f"LinkNER {prec}"] = row.get("linkner_sentences_per_s")
        speed[f"raw encoder {prec}"] = row.get("raw_sentences_per_s")
    names = {"hf-pipeline": "HF pipeline", "hf-direct": "HF model direct", "spacy-ner": "spaCy sm (ner)",
             "spacy-full": "spaCy sm (full)"}
    for key, label in names.items():
        if (base.get(key) or {}).get("sentences_per_s"):
            speed[label] = base[key]["sentences_per_s"]
    if not inf and "linkner" in base:
        speed["LinkNER fp32"] = base["linkner"].get("sentences_per_s")
    speed = {k: v for k, v in speed.items() if v}
    if speed:
        colors = ["C0" if k.startswith("LinkNER") else "C7" if k.startswith("raw") else "C1" for k in speed]
        ax[0].barh(list(speed), list(speed.values()), color=colors)
        for i, v in enumerate(speed.values()):
            ax[0].text(v, i, f" {v:.0f}", va="center", fontsize=7)
        ax[0].set_xlabel("sentences / s (CoNLL-2003 test)")
        ax[0].invert_yaxis()
        ax[0].set_title("Inference throughput (same sentences, cores, run)")
    else:
        empty(ax[0], "Inference throughput")
    plotted["sentences_per_s"] = speed

    f1 = {{"linkner": "LinkNER (E-NER)", "linkner-bf16": "LinkNER bf16", **names}.get(k, k): 100 * v["f1"]
          for k, v in base.items() if v.get("f1") is not None and k != "spacy-full"}
    if f1:
        ax[1].bar(list(f1), list(f1.values()), color=["C0" if k.startswith("LinkNER") else "C1" for k in f1])
        for i, v in enumerate(f1.values()):
            ax[1].text(i, v + 0.5, f"{v:.1f}", ha="center", fontsize=7)
        ax[1].set_ylim(0, 100)
        ax[1].set_ylabel("entity F1 (%)")
        ax[1].tick_params(axis="x", rotation=25)
        ax[1].set_title("Accuracy on the same sentences")
    else:
        empty(ax[1], "Accuracy")
    plotted["f1"] = f1

    sc = numbers.get("scaling") or {}
    rows = [r for r in sc.get("table") or [] if str(r.get("case", "")).startswith("n=")]
    if rows:
        toks = [r["tokens"] for r in rows]
        secs = [r["median_s"] for r in rows]
        ax[2].loglog(toks, secs, marker="o", label="sentences (1 … 10,000)")
        ref = secs[-1] / toks[-1]
        ax[2].loglog(toks, [ref * t for t in toks], ls="--", color="grey", label="linear")
        for r in sc.get("table") or []:
            if r["case"].startswith("doc") and r.get("median_s"):
                ax[2].scatter([r["tokens"]], [r["median_s"]], marker="s", zorder=3, label=f"{r['case']} ({r.get('chars')} chars)")
        ax[2].set_xlabel("tokens")
        ax[2].set_ylabel("seconds (median)")
        def yn(v: bool | None) -> str:
            return "yes" if v else "no" if v is False else "?"

        ax[2].set_title(f"Scaling after warm-up: linear {yn(sc.get('linear_after_warmup'))}, "
                        f"at most linear {yn(sc.get('at_most_linear_after_warmup'))}", fontsize=9)
        ax[2].legend(fontsize=7)
    else:
        empty(ax[2], "Scaling")
    plotted["scaling"] = {"tokens": [r["tokens"] for r in rows], "seconds": [r["median_s"] for r in rows],
                          "peak_rss_mb": [r.get("peak_rss_mb") for r in rows], "sentences": [r["sentences"] for r in rows]}

    if rows and any(r.get("peak_rss_mb") for r in rows):
        ax[3].semilogx([r["sentences"] for r in rows], [r.get("peak_rss_mb") for r in rows], marker="o")
        ax[3].axhline(1500, color="C3", ls=":", label="1.5 GB target")
        ax[3].set_xlabel("sentences per call")
        ax[3].set_ylabel("peak RSS (MB, fresh process)")
        ax[3].set_ylim(bottom=0)
        ax[3].legend(fontsize=7)
        ax[3].set_title("Memory")
    else:
        empty(ax[3], "Memory")

    ln = numbers.get("linking") or {}
    link_cost = {m: v["seconds_per_routed_entity"] for m, v in (ln.get("local") or {}).items() if v.get("seconds_per_routed_entity")}
    cached = {m: v.get("cached_seconds_per_entity") for m, v in (ln.get("local") or {}).items() if v.get("seconds_per_routed_entity")}
    for k, v in ((ln.get("server") or {}).get("seconds_per_routed_entity") or {}).items():
        if v:
            link_cost[f"server {ln['server']['model']} {k}"] = v
    if link_cost:
        ax[4].barh(list(link_cost), list(link_cost.values()), color="C2")
        for i, v in enumerate(link_cost.values()):
            ax[4].text(v, i, f" {v:.2f}", va="center", fontsize=7)
        ax[4].set_xlabel("seconds per routed entity (wall)")
        ax[4].invert_yaxis()
        per_k = (ln.get("routing") or {}).get("routed_per_1000_sentences")
        threads = sorted({v.get("threads") for v in (ln.get("local") or {}).values() if v.get("threads")})
        on = f", {'/'.join(map(str, threads))} llama.cpp thread{'s' if threads != [1] else ''}" if threads else ""
        ax[4].set_title(f"LLM linking cost ({per_k:.0f} routed / 1,000 sentences{on})" if per_k is not None
                        else f"LLM linking cost{on}")
    else:
        empty(ax[4], "LLM linking cost")
    plotted["linking_seconds_per_entity"] = link_cost
    plotted["linking_cached_seconds_per_entity"] = cached

    tr = (numbers.get("training") or {}).get("table") or {}
    if tr:
        labels = list(tr)
        x = range(len(labels))
        steps = [tr[k]["train_steps_s"] / 60 for k in labels]
        ax[5].bar([i - 0.2 for i in x], steps, width=0.4, label="train steps (extrapolated)")
        ax[5].bar([i - 0.2 for i in x], [tr[k]["dev_scoring_s"] / 60 for k in labels], width=0.4, bottom=steps, color="C9",
                  label="dev scoring")
        ax[5].bar([i + 0.2 for i in x], [tr[k]["raw_encoder_fwd_bwd_s"] / 60 for k in labels], width=0.4, color="C7",
                  label="raw encoder fwd+bwd, same batches")
        ax[5].set_xticks(list(x), ["SpanNER" if k == "spanner" else "E-NER" for k in labels])
        ax[5].set_ylabel("minutes per CoNLL-2003 epoch")
        ax[5].legend(fontsize=7)
        ax[5].set_title("Training cost")
    else:
        empty(ax[5], "Training cost")
    plotted["training_minutes_per_epoch"] = {k: {"train_steps": v["train_steps_s"] / 60, "dev_scoring": v["dev_scoring_s"] / 60,
                                                 "raw_encoder_fwd_bwd": v["raw_encoder_fwd_bwd_s"] / 60} for k, v in tr.items()}
    fig.tight_layout()
    return fig, plotted
