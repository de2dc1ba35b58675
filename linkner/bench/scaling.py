"""How LinkNER's cost grows with input: 1 … 10,000 sentences, and one long raw-text document.

One fresh process per size (so peak RSS is that size's alone): load the checkpoint, warm up on a
batch, then time ``predict_sentences`` on the first N sentences of the split — repeated (cycled,
with new ids) beyond its length — as often as ``scaling_budget`` allows (≥ 2 times, median).

Documents go through the raw-text path, ``LocalModel.predict(text)`` (tokenise, split sentences,
predict, offsets): ``doc`` is ~``doc_chars`` characters of the split's sentences as running text with
paragraph breaks; ``doc-nosplit`` is the same without sentence-final punctuation, one "sentence" of
thousands of words that the featuriser must encode in overlapping encoder windows.

Linearity (:func:`linkner.bench.common.linearity`) is judged on seconds per *token* from
``linear_min_size`` sentences on (smaller sizes are dominated by per-call overhead, reported).
"""

from __future__ import annotations

import math

from linkner.bench.common import (
    BenchConfig,
    cycle_to,
    eval_sentences,
    linearity,
    make_document,
    median,
    peak_rss_mb,
    rate,
    rnd,
    timed,
)

NAME = "scaling"


def cases(cfg: BenchConfig) -> list[str]:
    return [*(f"n={n}" for n in cfg.scaling_sizes), "doc", "doc-nosplit"]


def repeats_for(n: int, cfg: BenchConfig) -> int:
    return max(2, min(20, cfg.scaling_budget // max(1, n)))


def run_case(case: str, cfg: BenchConfig) -> dict:
    from linkner.models.predict import LocalModel

    base = eval_sentences(cfg)
    t_load0 = peak_rss_mb()
    lm, load_s = timed(lambda: LocalModel(cfg.checkpoint))
    after_load = peak_rss_mb()
    lm.predict_sentences(base[: cfg.batch_size], batch_size=cfg.batch_size, has_gold=False)  # warm-up
    after_warm = peak_rss_mb()
    if case.startswith("n="):
        n = int(case[2:])
        sents = cycle_to(base, n)
        reps = repeats_for(n, cfg)
        secs = [timed(lambda: lm.predict_sentences(sents, batch_size=cfg.batch_size, has_gold=False))[1] for _ in range(reps)]
        tokens = sum(len(s) for s in sents)
        out = {"sentences": n, "tokens": tokens, "cycled": n > len(base)}
    else:
        text = make_document(base, cfg.doc_chars, sentence_ends=(case == "doc"))
        reps = 1 if case == "doc-nosplit" and not cfg.quick else 2
        secs, pred = [], None
        for _ in range(reps):
            pred, s = timed(lambda: lm.predict(text, batch_size=cfg.batch_size))
            secs.append(s)
        tokens = sum(len(s) for s in pred)
        out = {"chars": len(text), "sentences": len(pred), "tokens": tokens, "longest_sentence_tokens": max(len(s) for s in pred),
               "entities": sum(len(s.entities) for s in pred)}
    med = median(secs)
    out.update(repeats=reps, seconds=secs, median_s=med, sentences_per_s=rate(out["sentences"], med),
               tokens_per_s=rate(tokens, med), load_s=load_s, peak_rss_mb_at_start=t_load0,
               peak_rss_mb_after_load=after_load, peak_rss_mb_after_warmup=after_warm)
    return out


def summarize(results: dict[str, dict], cfg: BenchConfig) -> dict:
    rows = []
    for case in cases(cfg):
        r = results.get(case) or {}
        if "median_s" not in r:
            continue
        rows.append({"case": case, **{k: r.get(k) for k in ("sentences", "tokens", "chars", "median_s", "sentences_per_s",
                                                             "tokens_per_s", "peak_rss_mb", "repeats")}})
    sized = [r for r in rows if r["case"].startswith("n=")]
    lin_tok = linearity([r["tokens"] for r in sized if r["sentences"] >= cfg.linear_min_size],
                        [r["median_s"] for r in sized if r["sentences"] >= cfg.linear_min_size],
                        min_size=0, tolerance=cfg.linear_tolerance)
    lin_tok["min_size_sentences"] = cfg.linear_min_size
    lin_sent = linearity([r["sentences"] for r in sized], [r["median_s"] for r in sized], cfg.linear_min_size, cfg.linear_tolerance)
    doc, nosplit = results.get("doc") or {}, results.get("doc-nosplit") or {}
    big = max(sized, key=lambda r: r["sentences"], default=None)
    per_tok_big = big["median_s"] / big["tokens"] if big else None

    def vs_big(r: dict) -> float | None:  # seconds per token relative to the largest sentence batch
        return (r["median_s"] / r["tokens"]) / per_tok_big if r.get("median_s") and per_tok_big else None

    rss = [r["peak_rss_mb"] for r in rows if r.get("peak_rss_mb")]
    return rnd({
        "table": rows,
        "linearity_tokens": lin_tok, "linearity_sentences": lin_sent,
        "linear_after_warmup": lin_tok["linear"],
        "at_most_linear_after_warmup": lin_tok["at_most_linear"],
        "per_token_cost_vs_largest": {"doc": vs_big(doc), "doc-nosplit": vs_big(nosplit)},
        "peak_rss_mb_max": max(rss) if rss else None,
        "rss_growth_mb_per_1000_sentences": _rss_slope(sized),
        "note": "sizes beyond the split cycle its sentences (new ids); per-size peak RSS from a fresh process each",
        "cases": results,
    })


def _rss_slope(sized: list[dict]) -> float | None:
    pts = [(r["sentences"], r["peak_rss_mb"]) for r in sized if r.get("peak_rss_mb")]
    if len(pts) < 2:
        return None
    (n0, m0), (n1, m1) = min(pts), max(pts)
    return (m1 - m0) / (n1 - n0) * 1000 if n1 > n0 and math.isfinite(m1 - m0) else None
