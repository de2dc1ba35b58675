"""LinkNER inference speed against the practical ceiling: the same encoder's bare forward pass.

Case ``throughput-fp32`` / ``throughput-bf16`` (one process each): load the checkpoint, then per
repeat time, interleaved on the same sentences,

* ``linkner``: ``LocalModel.predict_sentences`` end to end (featurise, encoder, span head, confidence +
  entropy + evidential uncertainty, decoding, output records);
* ``scores``: :func:`linkner.models.predict.score_sentences` (everything but decoding/records);
* ``featurize``: word → subword windows and span arrays alone;
* ``raw``: the checkpoint's own encoder called on the *same* batches
  (:func:`~linkner.models.features.inference_batches`), already tokenised and on tensors (no span
  work at all): the ceiling a span model can approach;

``linkner_over_raw`` is throughput(linkner) / throughput(raw) per repeat (median reported). The
sentences go in blocks of ``block_sentences`` (250): every method runs on a block before the next
block starts, so the methods alternate every fraction of a second and slow phases of the machine
hit them alike (with whole-set passes of one method, then the other, the fp32 ratio ranged
0.68–0.85 across the five repeats of the run committed before this change). Throughputs are
therefore those of 250-sentence ``predict`` calls. One E-NER pass yields confidence, entropy and evidential uncertainty together: there is no separate cost
for evidential. Case ``mc``: MC dropout (T extra passes) against the plain pass, reported separately.
Cases ``rss-*``: peak RSS of a fresh process that loads and predicts every sentence (linkner fp32,
bf16; and the bare encoder for reference).
"""

from __future__ import annotations

import functools
import time

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


def _raw_forward(encoder, batches, bf16: bool) -> None:
    import torch

    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for ids, mask in batches:
            _ = encoder(input_ids=ids, attention_mask=mask).last_hidden_state


def _throughput(cfg: BenchConfig, bf16: bool) -> dict:
    from linkner.models.predict import LocalModel, score_sentences

    lm = LocalModel(cfg.checkpoint, bf16=bf16)
    sents = eval_sentences(cfg)
    n, tokens = len(sents), sum(len(s) for s in sents)
    step = max(1, cfg.block_sentences)
    blocks = [sents[i : i + step] for i in range(0, n, step)]
    raw_batches = [_raw_batches(lm, blk, cfg.batch_size) for blk in blocks]
    subwords = int(sum(int(m.sum()) for bb in raw_batches for _, m in bb))
    windows = sum(int(ids.shape[0]) for bb in raw_batches for ids, _ in bb)
    in_encoder = _EncoderClock(lm.model.encoder)
    work = {
        "linkner": lambda blk, _: in_encoder.around(lambda: lm.predict_sentences(blk, batch_size=cfg.batch_size,
                                                                                 has_gold=False)),
        "raw": lambda _, bb: _raw_forward(lm.model.encoder, bb, bf16),
        "scores": lambda blk, _: score_sentences(lm.model, lm.featurizer, blk, cfg.batch_size, lm.temperature, 0, bf16),
        "featurize": lambda blk, _: lm.featurizer.encode(blk, with_labels=False),
    }
    # warm-up: one untimed pass of each over every block, so neither side's first repeat pays for
    # oneDNN's per-shape kernel set-up (bf16 especially) while the other runs on shapes already seen
    for blk, bb in zip(blocks, raw_batches):
        for fn in work.values():
            fn(blk, bb)
    # methods alternate block by block, in a rotating order; a repeat's time per method is its sum
    # over the blocks (why: module docstring)
    names = list(work)
    t: dict[str, list[float]] = {k: [] for k in names}
    encoder_in_run: list[float] = []
    for r in range(cfg.repeats):
        tot = dict.fromkeys(names, 0.0)
        in_encoder.seconds = 0.0
        for bi, (blk, bb) in enumerate(zip(blocks, raw_batches)):
            k0 = (r + bi) % len(names)
            for k in names[k0:] + names[:k0]:
                tot[k] += timed(functools.partial(work[k], blk, bb))[1]
        for k in names:
            t[k].append(tot[k])
        encoder_in_run.append(in_encoder.seconds)
    ratios = [r / lk for r, lk in zip(t["raw"], t["linkner"])]
    paired = [e / lk for e, lk in zip(encoder_in_run, t["linkner"])]
    med = {k: median(v) for k, v in t.items()}
    return {
        "bf16": bf16, "sentences": n, "tokens": tokens, "subwords": subwords, "windows": windows, "repeats": cfg.repeats,
        "batch_size": cfg.batch_size, "block_sentences": step, "uncertainty_methods": lm.uncertainty_methods(0),
        "loss": lm.loss, "seconds": {k: rnd(v) for k, v in t.items()}, "median_seconds": med,
        "sentences_per_s": {k: rate(n, med[k]) for k in ("linkner", "raw", "scores")},
        "tokens_per_s": {k: rate(tokens, med[k]) for k in ("linkner", "raw", "scores")},
        "subwords_per_s_raw": rate(subwords, med["raw"]),
        "linkner_over_raw": median(ratios), "linkner_over_raw_per_repeat": ratios,
        # the same ratio with the encoder timed inside linkner's own calls (paired: immune to drift)
        "linkner_over_raw_in_run": median(paired), "linkner_over_raw_in_run_per_repeat": paired,
        "share_of_linkner_time": {
            "featurize": ratio(med["featurize"], med["linkner"]),
            "encoder_ceiling": ratio(med["raw"], med["linkner"]),
            "decode_and_records": ratio(med["linkner"] - med["scores"], med["linkner"]),
        },
    }


class _EncoderClock:
    """Seconds spent inside ``encoder.forward`` while :meth:`around` runs (forward pre/post hooks).

    ``encoder seconds / linkner seconds`` of the very same calls is the linkner/raw ratio measured
    without a second, separately timed pass: the encoder work is identical (same batches, same
    chunks of windows), and machine drift cannot fall between the two timings.
    """

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.seconds = 0.0
        self._t0 = 0.0

    def _pre(self, *_: object) -> None:
        self._t0 = time.perf_counter()

    def _post(self, *_: object) -> None:
        self.seconds += time.perf_counter() - self._t0

    def around(self, fn):
        handles = [self.encoder.register_forward_pre_hook(self._pre), self.encoder.register_forward_hook(self._post)]
        try:
            return fn()
        finally:
            for h in handles:
                h.remove()


def _mc(cfg: BenchConfig) -> dict:
    from linkner.models.predict import LocalModel

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

        from linkner.models.encoders import load_encoder

        # the checkpoint's encoder architecture (weights do not change memory or speed)
        tok, enc, _ = load_encoder(str(Path(cfg.checkpoint) / "encoder"), pretrained=False)
        enc.eval()
        _, secs = timed(lambda: _raw_forward(enc, _plain_batches(tok, sents, cfg.batch_size), False))
    else:
        from linkner.models.predict import LocalModel

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
                "linkner_over_raw": r["linkner_over_raw"], "linkner_over_raw_in_run": r.get("linkner_over_raw_in_run"),
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
