"""LinkNER inference speed against the practical ceiling: the same encoder's bare forward pass.

Case ``throughput-fp32`` / ``throughput-bf16`` (one process each): load the checkpoint, then per
repeat time, interleaved on the same sentences,

* ``linkner``: ``LocalModel.predict_sentences`` end to end (featurise, encoder, span head, confidence +
  entropy + evidential uncertainty, decoding, output records);
* ``scores``: :func:`linkner.predict.score_sentences` (everything but decoding/records);
* ``featurize``: word → subword windows and span arrays alone;
* ``raw``: the checkpoint's own encoder called on the *same* batches (:func:`~linkner.models.features.inference_batches`), already tokenised
  and on tensors (no span work at all): the ceiling a span model can approach;
* ``raw_chunk16``: the same, 16 windows per encoder call (what ``score_sentences`` used before
  ``WINDOW_CHUNK`` became 64: shows what small encoder calls cost on this machine).

``linkner_over_raw`` is throughput(linkner) / throughput(raw) per repeat (median reported). One
E-NER pass yields confidence, entropy and evidential uncertainty together: there is no separate cost
for evidential. Case ``mc``: MC dropout (T extra passes) against the plain pass, reported separately.
Cases ``rss-*``: peak RSS of a fresh process that loads and predicts every sentence (linkner fp32,
bf16; and the bare encoder for reference).
"""

from __future__ import annotations

from linkner.bench.common import BenchConfig, eval_sentences, median, peak_rss_mb, rate, ratio, rnd, timed

NAME = "inference"


def cases(cfg: BenchConfig) -> list[str]:
    return ["throughput-fp32", "throughput-bf16", "mc", "rss-linkner-fp32", "rss-linkner-bf16", "rss-raw-encoder"]


def _raw_batches(lm, sentences, batch_size: int):
    from linkner.models.features import collate, inference_batches

    enc = lm.featurizer.encode(sentences, with_labels=False)
    pad = lm.featurizer.tok.pad_token_id or 0
    batches = []
    for idx in inference_batches(enc, batch_size):  # exactly the batches score_sentences forms
        b = collate([enc[j] for j in idx], pad)
        batches.append((b["input_ids"], b["attention_mask"]))
    return batches


def _raw_forward(encoder, batches, bf16: bool, chunk: int | None = None) -> None:
    import torch

    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for ids, mask in batches:
            step = chunk or ids.shape[0]
            for i in range(0, ids.shape[0], step):
                _ = encoder(input_ids=ids[i : i + step], attention_mask=mask[i : i + step]).last_hidden_state


def _throughput(cfg: BenchConfig, bf16: bool) -> dict:
    from linkner.predict import LocalModel, score_sentences

    lm = LocalModel(cfg.checkpoint, bf16=bf16)
    sents = eval_sentences(cfg)
    n, tokens = len(sents), sum(len(s) for s in sents)
    batches = _raw_batches(lm, sents, cfg.batch_size)
    subwords = int(sum(int(m.sum()) for _, m in batches))
    windows = sum(int(ids.shape[0]) for ids, _ in batches)
    lm.predict_sentences(sents[: cfg.batch_size], batch_size=cfg.batch_size, has_gold=False)  # warm-up
    _raw_forward(lm.model.encoder, batches[:1], bf16)
    t = {"linkner": [], "scores": [], "featurize": [], "raw": [], "raw_chunk16": []}
    for _ in range(cfg.repeats):
        t["linkner"].append(timed(lambda: lm.predict_sentences(sents, batch_size=cfg.batch_size, has_gold=False))[1])
        t["raw"].append(timed(lambda: _raw_forward(lm.model.encoder, batches, bf16))[1])
        # 16 windows per call: the cost of small encoder calls (score_sentences now uses WINDOW_CHUNK=64)
        t["raw_chunk16"].append(timed(lambda: _raw_forward(lm.model.encoder, batches, bf16, 16))[1])
        t["scores"].append(timed(lambda: score_sentences(lm.model, lm.featurizer, sents, cfg.batch_size, lm.temperature,
                                                         0, bf16))[1])
        t["featurize"].append(timed(lambda: lm.featurizer.encode(sents, with_labels=False))[1])
    ratios = [r / lk for r, lk in zip(t["raw"], t["linkner"])]
    med = {k: median(v) for k, v in t.items()}
    return {
        "bf16": bf16, "sentences": n, "tokens": tokens, "subwords": subwords, "windows": windows, "repeats": cfg.repeats,
        "batch_size": cfg.batch_size, "uncertainty_methods": lm.uncertainty_methods(0), "loss": lm.loss,
        "seconds": {k: rnd(v) for k, v in t.items()}, "median_seconds": med,
        "sentences_per_s": {k: rate(n, med[k]) for k in ("linkner", "raw", "scores")},
        "tokens_per_s": {k: rate(tokens, med[k]) for k in ("linkner", "raw", "scores")},
        "subwords_per_s_raw": rate(subwords, med["raw"]),
        "linkner_over_raw": median(ratios), "linkner_over_raw_per_repeat": ratios,
        "share_of_linkner_time": {
            "featurize": ratio(med["featurize"], med["linkner"]),
            "encoder_ceiling": ratio(med["raw"], med["linkner"]),
            "encoder_in_chunks_of_16": ratio(med["raw_chunk16"], med["linkner"]),
            "decode_and_records": ratio(med["linkner"] - med["scores"], med["linkner"]),
        },
    }


def _mc(cfg: BenchConfig) -> dict:
    from linkner.predict import LocalModel

    lm = LocalModel(cfg.checkpoint)
    sents = eval_sentences(cfg)[: cfg.mc_sentences]
    lm.predict_sentences(sents[:8], mc_samples=1, has_gold=False)
    plain, mc = [], []
    for _ in range(cfg.repeats):
        plain.append(timed(lambda: lm.predict_sentences(sents, batch_size=cfg.batch_size, has_gold=False))[1])
        mc.append(timed(lambda: lm.predict_sentences(sents, mc_samples=cfg.mc_samples, batch_size=cfg.batch_size,
                                                     has_gold=False))[1])
    slow = [m / p for m, p in zip(mc, plain)]
    return {"sentences": len(sents), "mc_samples": cfg.mc_samples, "repeats": cfg.repeats,
            "sentences_per_s": {"plain": rate(len(sents), median(plain)), "mc_dropout": rate(len(sents), median(mc))},
            "mc_over_plain_time": median(slow), "expected_if_encoder_bound": 1 + cfg.mc_samples}


def _rss(cfg: BenchConfig, what: str) -> dict:
    sents = eval_sentences(cfg)
    before = peak_rss_mb()
    if what == "raw-encoder":
        from pathlib import Path

        from linkner.encoders import load_encoder

        # the checkpoint's encoder architecture (weights do not change memory or speed)
        tok, enc, _ = load_encoder(str(Path(cfg.checkpoint) / "encoder"), pretrained=False)
        enc.eval()
        _, secs = timed(lambda: _raw_forward(enc, _plain_batches(tok, sents, cfg.batch_size), False))
    else:
        from linkner.predict import LocalModel

        lm = LocalModel(cfg.checkpoint, bf16=what.endswith("bf16"))
        _, secs = timed(lambda: lm.predict_sentences(sents, batch_size=cfg.batch_size, has_gold=False))
    return {"what": what, "sentences": len(sents), "seconds": secs, "peak_rss_mb_before_load": before}


def _plain_batches(tok, sents, batch_size: int):
    order = sorted(range(len(sents)), key=lambda i: len(sents[i]))
    out = []
    for i in range(0, len(order), batch_size):
        enc = tok([sents[j].tokens for j in order[i : i + batch_size]], is_split_into_words=True, padding=True,
                  truncation=True, max_length=512, return_tensors="pt")
        out.append((enc["input_ids"], enc["attention_mask"]))
    return out


def run_case(case: str, cfg: BenchConfig) -> dict:
    if case.startswith("throughput-"):
        return _throughput(cfg, case.endswith("bf16"))
    if case == "mc":
        return _mc(cfg)
    if case.startswith("rss-"):
        return _rss(cfg, case[len("rss-"):])
    raise ValueError(case)


def summarize(results: dict[str, dict], cfg: BenchConfig) -> dict:
    out: dict = {"cases": results}
    rows = {}
    for prec in ("fp32", "bf16"):
        r = results.get(f"throughput-{prec}") or {}
        if "sentences_per_s" in r:
            rows[prec] = {
                "linkner_sentences_per_s": r["sentences_per_s"]["linkner"], "linkner_tokens_per_s": r["tokens_per_s"]["linkner"],
                "raw_sentences_per_s": r["sentences_per_s"]["raw"], "raw_tokens_per_s": r["tokens_per_s"]["raw"],
                "linkner_over_raw": r["linkner_over_raw"],
                "peak_rss_mb": (results.get(f"rss-linkner-{prec}") or {}).get("peak_rss_mb"),
            }
    out["table"] = rows
    mc = results.get("mc") or {}
    out["mc_dropout"] = {k: mc.get(k) for k in ("mc_samples", "sentences_per_s", "mc_over_plain_time")} if mc.get("sentences_per_s") else None
    out["raw_encoder_peak_rss_mb"] = (results.get("rss-raw-encoder") or {}).get("peak_rss_mb")
    rss = [v["peak_rss_mb"] for v in rows.values() if v.get("peak_rss_mb")]
    fp32 = rows.get("fp32", {})
    out["targets"] = {
        "linkner_over_raw_ge_0.8": None if fp32.get("linkner_over_raw") is None else fp32["linkner_over_raw"] >= 0.8,
        "linkner_over_raw_ge_0.8_bf16": None if rows.get("bf16", {}).get("linkner_over_raw") is None
        else rows["bf16"]["linkner_over_raw"] >= 0.8,
        "peak_rss_le_1500_mb": (max(rss) <= 1500) if rss else None,
    }
    return rnd(out)
