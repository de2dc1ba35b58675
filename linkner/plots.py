"""Figure functions: each reads a results JSON and draws one figure of the paper's studies.

They take the parsed ``numbers`` block and return the plotted numbers as a dict, which
:mod:`linkner.figures` saves beside the PNG/PDF (so every figure has its data in plain JSON).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

TEST_ORDER = ["conll03", "conll03-typos", "conll03-oov", "conll03-ood", "wnut16", "wnut17", "twitterner"]


def data_overview(numbers: dict) -> tuple[plt.Figure, dict]:
    """Three panels: entity types per test set, entity-length distribution, unseen-entity rate."""
    sns.set_theme(style="whitegrid", context="paper")
    tests = [n for n in TEST_ORDER if f"{n}/test" in numbers["splits"]]
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
        ax1.axvline(numbers["tau"], color="C3", ls=":", label=f"tuned τ = {numbers['tau']:.3f}")
        ax1.set_xlabel("routing threshold τ (uncertainty)")
        ax1.set_ylabel("entity F1 (%)")
        ax1.legend(fontsize=7)
    ax1.set_title("Threshold tuned on dev")
    bars = {"local": 100 * numbers["local_f1"], "LinkNER": 100 * numbers["linkner_f1"]}
    ax2.bar(list(bars), list(bars.values()), color=["grey", "C0"])
    for i, v in enumerate(bars.values()):
        ax2.text(i, v + 0.5, f"{v:.2f}", ha="center")
    ax2.set_ylim(0, 100)
    ax2.set_title(f"Test: {numbers['routed']}/{numbers['entities']} entities routed ({100 * numbers['routed_fraction']:.1f} %)")
    ax2.set_ylabel("entity F1 (%)")
    fig.tight_layout()
    return fig, {"dev_curve": curve, "test_f1": bars, "routed_fraction": numbers["routed_fraction"], "tau": numbers["tau"]}
